"""Driver: two movie strips in a 25 fps scene (one trimmed, one on top of the other's tail),
scored in background mode; then a mixdown, a re-score that replaces the take, one that keeps it,
the saved .blend reopened, and one more that replaces only the take playing. Reports what is on the timeline after
each step."""

import os
import sys
import wave

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import install, run, submodule  # noqa: E402


def sound_strips(scene, take_key):
    editor = scene.sequence_editor
    out = []
    for s in editor.strips:
        if s.type != "SOUND":
            continue
        path = bpy.path.abspath(s.sound.filepath)
        with wave.open(path) as w:
            frames, rate = w.getnframes(), w.getframerate()
        out.append({"name": s.name, "channel": s.channel, "start": s.frame_final_start, "end": s.frame_final_end,
                    "duration": s.frame_final_duration, "filepath": s.sound.filepath, "exists": os.path.isfile(path),
                    "wav_frames": frames, "wav_rate": rate, "take": s.get(take_key, ""),
                    "stem": s.get("scorecut_stem", ""), "mute": s.mute,
                    "channel_name": editor.channels[s.channel].name})
    return sorted(out, key=lambda d: (d["take"], d["channel"]))


def main(args: dict) -> dict:
    install(args["zip"])
    jobs, timeline = submodule("jobs"), submodule("timeline")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    editor = scene.sequence_editor_create()
    a = editor.strips.new_movie(name="A", filepath=args["videos"][0], channel=1, frame_start=args["a_start"])
    b = editor.strips.new_movie(name="B", filepath=args["videos"][1], channel=2, frame_start=args["b_start"])
    a.animation_offset_start = args["a_cut"]  # the movie's first frames cut away at the source
    b.frame_offset_start = args["b_trim"]
    scene.frame_start, scene.frame_end = 1, b.frame_final_end + 25
    for s in editor.strips:
        s.select = True
    bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
    movies = {s.name: {"frame_start": s.frame_start, "start": s.frame_final_start, "end": s.frame_final_end,
                       "fps": s.fps, "frame_duration": s.frame_duration} for s in (a, b)}

    settings = scene.scorecut
    settings.seed = 3
    result = bpy.ops.sequencer.scorecut_score(scope="SELECTED")
    job = jobs.last_job(scene.name)
    request = job.runner.request
    facts = {
        "result": sorted(result),
        "movies": movies,
        "segment": {"first": job.segment.first_frame, "end": job.segment.end_frame, "fps": job.segment.scene_fps},
        "duration_s": request.duration_s,
        "clips": [{"path": c.path, "in": c.source_in_s, "out": c.source_out_s, "rec_start": c.record_start_s,
                   "rec_end": c.record_end_s, "name": c.name} for c in request.clips],
        "wire": [{"in": c.source_in_s, "out": c.source_out_s, "rec_start": c.record_start_s,
                  "rec_end": c.record_end_s, "path": c.path}
                 for c in submodule("client_api").build_request(request.clips, request.options,
                                                               duration_s=request.duration_s).clips],
        "out_dir": str(request.out_dir),
        "reports": job.reports,
        "first_take": sound_strips(scene, timeline.TAKE_KEY),
    }
    bpy.ops.sound.mixdown(filepath=args["mixdown"], container="WAV", codec="PCM", format="S16", mixrate=48000)

    settings.seed = 4  # another take: another request, so its own folder (<name>-2)
    bpy.ops.sequencer.scorecut_score(scope="SELECTED")  # replaces the take over these frames
    facts["replaced"] = sound_strips(scene, timeline.TAKE_KEY)
    settings.keep_takes = True
    settings.seed = 5
    bpy.ops.sequencer.scorecut_score(scope="SELECTED")  # keeps it, muted, and adds one above
    facts["kept"] = sound_strips(scene, timeline.TAKE_KEY)
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=args["blend"])
    facts["reopened"] = sound_strips(bpy.context.scene, timeline.TAKE_KEY)
    bpy.context.scene.scorecut.keep_takes = False
    bpy.context.scene.scorecut.seed = 6
    bpy.ops.sequencer.scorecut_score(scope="SELECTED")  # replaces the playing take, not the kept one
    facts["replaced_after_keep"] = sound_strips(bpy.context.scene, timeline.TAKE_KEY)
    return facts


run(main)
