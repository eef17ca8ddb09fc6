"""Driver: timeline markers named hit..., stop..., section... inside the scored range become the
job's hit points (seconds from the range's first frame); others, and those outside, do not. The
job then runs through the real server and its score.json says the hits were met; with Mark
Music on, the take's sections and downbeats come back as timeline markers."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import install, run, submodule  # noqa: E402


def main(args: dict) -> dict:
    install(args["zip"])
    jobs = submodule("jobs")
    prefs = submodule("preferences")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    editor = scene.sequence_editor_create()
    editor.strips.new_movie(name="shot", filepath=args["video"], channel=1, frame_start=1)
    scene.frame_start, scene.frame_end = 1, 250
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 11, 160  # RANGE scope: frames [11, 161)
    for name, frame in args["markers"]:
        scene.timeline_markers.new(name, frame=frame)
    settings = scene.scorecut
    settings.seed = args["seed"]
    settings.music_markers = True
    address, token = prefs.server_address()
    job = jobs.prepare(scene, "RANGE", settings, address, token)
    facts = {"hits": [list(h) for h in job.runner.request.options.hits]}
    jobs.start(job)
    deadline = time.monotonic() + 120
    while jobs.tick(job) is not None:
        if time.monotonic() > deadline:
            job.runner.cancel()
            raise TimeoutError("the job did not end within 120 s")
        time.sleep(0.2)
    facts["final"] = job.final.state
    facts["message"] = job.final.message
    result = job.runner.snapshot().result
    facts["score"] = json.loads((result.folder / "score.json").read_text()) if result else {}
    facts["markers"] = sorted([m.name, m.frame] for m in scene.timeline_markers)
    return facts


run(main)
