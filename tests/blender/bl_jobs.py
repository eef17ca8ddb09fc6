"""Driver: the interactive path without a UI. Timers never fire in the bpy module, so this calls
the timer body (jobs.tick) itself, the way bpy.app.timers would: a finished job, a cancelled one,
a job the server refuses, and an unreachable server (through the tick and through the operator)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import EXTENSION, install, run, submodule  # noqa: E402


def sound_count(scene):
    return sum(1 for s in scene.sequence_editor.strips if s.type == "SOUND")


def drive(jobs, job, limit_s=120.0):
    """Call the timer body until it says stop; returns the states seen on the way."""
    seen, calls = [], 0
    deadline = time.monotonic() + limit_s
    while True:
        calls += 1
        state = job.runner.snapshot()
        seen.append([state.state, state.stage, round(state.fraction, 3)])
        interval = jobs.tick(job)
        if interval is None:
            return {"calls": calls, "seen": seen, "final": job.final.state, "message": job.final.message,
                    "reports": job.reports, "placed": job.placed,
                    "active_after": jobs.active_job(job.scene_name) is not None}
        if time.monotonic() > deadline:
            job.runner.cancel()
            raise TimeoutError(f"the job did not end within {limit_s} s: {seen[-3:]}")
        time.sleep(interval)


def main(args: dict) -> dict:
    install(args["zip"])
    jobs = submodule("jobs")
    prefs = submodule("preferences")
    bpy.ops.wm.read_homefile(use_empty=True)  # unsaved: takes go to a temporary folder, with a warning
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    editor = scene.sequence_editor_create()
    editor.strips.new_movie(name="shot", filepath=args["video"], channel=1, frame_start=1)
    scene.frame_start, scene.frame_end = 1, 250
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 11, 110  # RANGE scope: frames [11, 111)
    settings = scene.scorecut
    address, token = prefs.server_address()
    facts = {"address": address}
    bpy.ops.ed.undo_push(message="set up the edit")

    settings.seed = args["seed"]
    job = jobs.prepare(scene, "RANGE", settings, address, token)
    facts["range_segment"] = [job.segment.first_frame, job.segment.end_frame]
    facts["out_dir"] = str(job.runner.request.out_dir)
    jobs.start(job)
    facts["second_refused"] = ""
    try:
        jobs.prepare(scene, "RANGE", settings, address, token)
    except ValueError as e:
        facts["second_refused"] = str(e)
    facts["finished"] = drive(jobs, job)
    facts["finished"]["strips"] = [[s.name, s.channel, s.frame_final_start, s.frame_final_duration]
                                   for s in editor.strips if s.type == "SOUND"]

    # Cancel: a seed never scored before, so the server has real work to stop.
    before = sound_count(scene)
    settings.seed = args["seed"] + 1
    job = jobs.prepare(scene, "RANGE", settings, address, token)
    folders = set(os.listdir(job.runner.request.out_dir))
    jobs.start(job)
    facts["cancel_accepted"] = jobs.cancel(scene.name)
    facts["cancelled"] = drive(jobs, job)
    facts["cancelled"]["strips_added"] = sound_count(scene) - before
    # The take's folder name is chosen when it lands (<name>-2 beside an earlier take): no new folder.
    facts["cancelled"]["take_exists"] = set(os.listdir(job.runner.request.out_dir)) != folders

    # The server refuses the request: its message reaches the user.
    settings.seed = args["seed"]
    settings.style = "no-such-style"
    job = jobs.start(jobs.prepare(scene, "RANGE", settings, address, token))
    facts["refused"] = drive(jobs, job)
    facts["refused"]["strips_added"] = sound_count(scene) - before
    settings.style = ""

    # Nobody listening: the tick path and the operator (background mode blocks and raises).
    job = jobs.start(jobs.prepare(scene, "RANGE", settings, args["dead_address"], ""))
    facts["unreachable"] = drive(jobs, job)
    facts["unreachable"]["strips_added"] = sound_count(scene) - before
    os.environ["SCORECUT_SERVER"] = args["dead_address"]
    try:
        bpy.ops.sequencer.scorecut_score(scope="RANGE")
        facts["operator_unreachable"] = "no error"
    except RuntimeError as e:
        facts["operator_unreachable"] = str(e)
    facts["operator_strips_added"] = sound_count(scene) - before
    facts["extension"] = EXTENSION

    # One undo takes the placed take away; redo brings it back.
    bpy.ops.ed.undo()
    facts["after_undo"] = sound_count(bpy.context.scene)
    facts["movies_after_undo"] = sum(1 for s in bpy.context.scene.sequence_editor.strips if s.type == "MOVIE")
    bpy.ops.ed.redo()
    facts["after_redo"] = sound_count(bpy.context.scene)

    # A new take over the same frames replaces the last one: two chosen stems, then only the mix.
    scene = bpy.context.scene
    placed = {}
    for label, stems, place_stems in (("two_stems", {"drums", "bass"}, True), ("mix_only", {"drums"}, False)):
        scene.scorecut.stems, scene.scorecut.place_stems = stems, place_stems
        job = jobs.start(jobs.prepare(scene, "RANGE", scene.scorecut, address, token))
        drive(jobs, job)
        placed[label] = [[s.get("scorecut_stem"), s.channel, scene.sequence_editor.channels[s.channel].name,
                          s.frame_final_start, s.frame_final_duration]
                         for s in sorted(scene.sequence_editor.strips, key=lambda s: s.channel) if s.type == "SOUND"]
    facts["replacing"] = placed

    # Opening another file while a take is in flight cancels it: its scene is not in the new file.
    scene = bpy.context.scene
    job = jobs.start(jobs.prepare(scene, "RANGE", scene.scorecut, address, token))
    active_before = jobs.active_job(scene.name) is job
    bpy.ops.wm.read_homefile(use_empty=True)
    facts["load_cancels"] = [active_before, jobs.active_job(job.scene_name) is None, job.runner.cancel_requested]
    job.runner.wait(30)
    facts["load_places_nothing"] = [jobs.tick(job),
                                    sound_count(bpy.context.scene) if bpy.context.scene.sequence_editor else 0]

    # Blender 5's Sequencer shows the workspace's scene, which need not be the window's scene.
    os.environ["SCORECUT_SERVER"] = address
    shown = bpy.context.scene
    shown.render.fps, shown.render.fps_base = 25, 1.0
    editor = shown.sequence_editor_create()
    movie = editor.strips.new_movie(name="shot", filepath=args["video"], channel=1, frame_start=1)
    editor.strips.new_effect(name="Faster", type="SPEED", channel=2, frame_start=1, input1=movie)
    shown.frame_start, shown.frame_end = 1, 250
    shown.use_preview_range = True
    shown.frame_preview_start, shown.frame_preview_end = 11, 110
    shown.scorecut.seed = args["seed"]
    bpy.context.workspace.sequencer_scene = shown
    bpy.context.window_manager.windows[0].scene = bpy.data.scenes.new("Not shown")
    result = bpy.ops.sequencer.scorecut_score(scope="RANGE")
    facts["sequencer_scene"] = {"result": sorted(result), "context_scene": bpy.context.scene.name,
                                "placed_in_shown": sound_count(shown), "reports": jobs.last_job(shown.name).reports,
                                "other_untouched": bpy.context.scene.sequence_editor is None}

    # What the music does not follow is named: a muted movie, a meta strip.
    facts["not_read"] = {}
    for s in editor.strips:
        s.select = False
    movie.mute = movie.select = True
    meta = editor.strips.new_meta(name="Group", channel=5, frame_start=1)
    for label, selected in (("muted", movie), ("meta", meta)):
        movie.select, meta.select = selected == movie, selected == meta
        try:
            bpy.ops.sequencer.scorecut_score(scope="SELECTED")
            facts["not_read"][label] = "no error"
        except RuntimeError as e:
            facts["not_read"][label] = str(e)
    return facts


run(main)
