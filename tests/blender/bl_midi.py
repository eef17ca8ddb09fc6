"""Driver: one movie strip in a saved .blend, scored in background mode; reports where the take's
score.mid is kept and how the add-on shows it (the strips' custom property, the report, the panel,
the Open Take Folder operator), then again with the take placed as one meta strip."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import draw_panel, install, run, submodule  # noqa: E402


def take_strips(scene, take_key, midi_key):
    out = []
    for s in scene.sequence_editor.strips:
        if not s.get(take_key, ""):
            continue
        entry = {"name": s.name, "type": s.type, "take": s[take_key], "midi": s.get(midi_key, "")}
        if s.type == "SOUND":
            entry["wav"] = bpy.path.abspath(s.sound.filepath)
        out.append(entry)
    return out


def main(args: dict) -> dict:
    install(args["zip"])
    jobs, take_strips_module = submodule("jobs"), submodule("take_strips")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    editor = scene.sequence_editor_create()
    movie = editor.strips.new_movie(name="A", filepath=args["video"], channel=1, frame_start=1)
    movie.select = True
    bpy.ops.wm.save_as_mainfile(filepath=args["blend"])  # takes land in //scorecut/ beside it

    facts = {"before_panel": draw_panel(bpy.types.SEQUENCER_PT_scorecut, bpy.context),
             "open_before": bpy.ops.sequencer.scorecut_open_take_folder.poll()}
    scene.scorecut.seed = 7
    facts["result"] = sorted(bpy.ops.sequencer.scorecut_score(scope="SELECTED"))
    job = jobs.last_job(scene.name)
    key, midi_key = take_strips_module.TAKE_KEY, take_strips_module.MIDI_KEY
    facts.update(
        reports=job.reports,
        folder=str(job.final.result.folder),
        job_midi=str(job.midi),
        strips=take_strips(scene, key, midi_key),
        midi_abspaths=[bpy.path.abspath(s.get(midi_key, "")) for s in editor.strips if s.get(midi_key, "")],
        panel=draw_panel(bpy.types.SEQUENCER_PT_scorecut, bpy.context),
        open_poll=bpy.ops.sequencer.scorecut_open_take_folder.poll(),
        open_result=sorted(bpy.ops.sequencer.scorecut_open_take_folder()),
    )

    # As one meta strip: the meta strip names the MIDI file too.
    scene.scorecut.take_as_meta = True
    scene.scorecut.seed = 8
    bpy.ops.sequencer.scorecut_score(scope="SELECTED")
    facts["meta"] = take_strips(scene, key, midi_key)
    facts["meta_folder"] = str(jobs.last_job(scene.name).final.result.folder)

    shutil.rmtree(facts["meta_folder"])  # the folder removed behind Blender's back: said in words
    try:
        facts["open_gone"] = sorted(bpy.ops.sequencer.scorecut_open_take_folder())
    except RuntimeError as e:  # an operator's ERROR report, raised to the calling script
        facts["open_gone"] = str(e)
    return facts


run(main)
