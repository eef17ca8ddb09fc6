"""Driver: score the scene range, then Score Range on a sub-range (replace), then one more sub-range
as a meta strip; mixdowns after the first two. The user's channels carry names and one of them
holds a sound effect where the stems go. Also: the status bar redraw and online access."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import install, run, submodule  # noqa: E402


def top(editor):
    return editor.strips if hasattr(editor, "strips") else editor.sequences  # Blender 5 / 4.2-4.5


def strips(scene):
    editor = scene.sequence_editor
    out = []
    for s in (editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all):
        out.append({"name": s.name, "type": s.type, "channel": s.channel, "start": s.frame_final_start,
                    "end": s.frame_final_end, "mute": s.mute, "take": s.get("scorecut_take", ""),
                    "stem": s.get("scorecut_stem", ""),
                    "top": s.name in top(editor), "file": s.sound.filepath if s.type == "SOUND" else ""})
    return sorted(out, key=lambda d: (d["channel"], d["start"]))


def channel_names(scene, upto=12):
    return [scene.sequence_editor.channels[i].name for i in range(1, upto + 1)]


def mixdown(path):
    bpy.ops.sound.mixdown(filepath=path, container="WAV", codec="PCM", format="S16", mixrate=48000)


def main(args: dict) -> dict:
    install(args["zip"])
    jobs = submodule("jobs")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    editor = scene.sequence_editor_create()
    movie = top(editor).new_movie(name="A", filepath=args["video"], channel=1, frame_start=1)
    scene.frame_start, scene.frame_end = 1, movie.frame_final_end - 1
    # The user's own sound effect on channel 3, after the range: where the first stem would go.
    sfx = top(editor).new_sound(name="Door", filepath=args["sfx"], channel=3, frame_start=movie.frame_final_end + 5)
    editor.channels[1].name = "Picture"
    editor.channels[3].name = "SFX"
    settings = scene.scorecut
    settings.seed = 5
    facts = {"movie": [movie.frame_final_start, movie.frame_final_end], "sfx": [sfx.channel, sfx.frame_final_start]}

    assert bpy.ops.sequencer.scorecut_score(scope="RANGE") == {"FINISHED"}, jobs.last_job(scene.name).reports
    facts["first"] = strips(scene)
    facts["channels_first"] = channel_names(scene)
    mixdown(args["mix1"])

    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = args["sub"][0], args["sub"][1] - 1
    settings.seed = 6
    assert bpy.ops.sequencer.scorecut_score(scope="RANGE") == {"FINISHED"}, jobs.last_job(scene.name).reports
    facts["second"] = strips(scene)
    facts["channels_second"] = channel_names(scene)
    facts["fade_frames"] = submodule("placement").fade_frames(25)
    mixdown(args["mix2"])

    settings.take_as_meta = True
    scene.frame_preview_start, scene.frame_preview_end = args["meta_sub"][0], args["meta_sub"][1] - 1
    settings.seed = 7
    assert bpy.ops.sequencer.scorecut_score(scope="RANGE") == {"FINISHED"}, jobs.last_job(scene.name).reports
    facts["meta"] = strips(scene)

    # The status bar is not one of screen.areas; redraw() reaches it through the workspace.
    window = bpy.context.window_manager.windows[0]
    facts["screen_areas"] = [a.type for a in window.screen.areas]
    jobs.redraw()
    facts["redraw"] = True

    # Online access off (the module's default): a server on another machine is refused unasked.
    facts["online_access"] = bpy.app.online_access
    try:
        jobs.prepare(scene, "RANGE", settings, "10.20.30.40:50777")
        facts["remote"] = "accepted"
    except ValueError as e:
        facts["remote"] = str(e)
    probe = jobs.refresh_status("10.20.30.40:50777")
    facts["remote_status"] = [probe.result.reachable, probe.result.error] if probe.result else None
    return facts


run(main)
