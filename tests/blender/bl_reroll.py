"""Driver: Loop and Tail reach the job's options; Re-roll Section re-scores the last take's request
with the section under the playhead as the re-roll range and a new re-roll seed, and its take
replaces the earlier one's strips. Both takes' WAVs are read back by the test."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import install, run, submodule  # noqa: E402


def main(args: dict) -> dict:
    install(args["zip"])
    jobs = submodule("jobs")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    editor = scene.sequence_editor_create()
    editor.strips.new_movie(name="shot", filepath=args["video"], channel=1, frame_start=1)
    scene.frame_start, scene.frame_end = 1, 250
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 11, 210  # RANGE scope: frames [11, 211)
    settings = scene.scorecut
    settings.seed = args["seed"]
    settings.loop, settings.tail_s = True, 1.5
    asked = jobs.job_options(settings)
    facts = {"asked": {"loop": asked.loop, "tail_s": asked.tail_s}}
    settings.loop, settings.tail_s = False, 0.0
    facts["reroll_before_any_take"] = bpy.ops.sequencer.scorecut_reroll.poll()

    assert bpy.ops.sequencer.scorecut_score(scope="RANGE") == {"FINISHED"}, jobs.last_job(scene.name).reports
    first = jobs.last_job(scene.name)
    facts["first"] = {"folder": str(first.final.result.folder), "seed": first.runner.request.options.seed,
                      "sections": first.final.result.score["sections"]}
    takes = {s.name: s.get("scorecut_take") for s in editor.strips if s.type == "SOUND"}
    facts["first_strips"] = sorted(set(takes.values()))

    scene.frame_current = 1  # before the take: a clear refusal
    try:
        bpy.ops.sequencer.scorecut_reroll()
        facts["outside"] = ""
    except RuntimeError as e:  # bpy.ops raises the operator's ERROR report
        facts["outside"] = str(e)
    scene.frame_current = args["playhead"]
    result = bpy.ops.sequencer.scorecut_reroll()
    second = jobs.last_job(scene.name)
    facts["result"] = sorted(result)
    facts["reports"] = [m for _, m in second.reports]
    options = second.runner.request.options
    facts["second"] = {"folder": str(second.final.result.folder), "reroll": list(options.reroll),
                       "reroll_seed": options.reroll_seed, "seed": options.seed,
                       "name": second.runner.request.name, "first_name": first.runner.request.name}
    facts["strips"] = sorted([s.get("scorecut_take"), s.get("scorecut_stem"), s.frame_final_start, s.frame_final_end]
                             for s in editor.strips if s.type == "SOUND")
    # A take with a 1 s tail fills its WAVs' frames: the range and 25 frames more, replacing the take.
    settings.tail_s = 1.0
    assert bpy.ops.sequencer.scorecut_score(scope="RANGE") == {"FINISHED"}, jobs.last_job(scene.name).reports
    tailed = jobs.last_job(scene.name).final.result
    facts["tail"] = {"folder": str(tailed.folder), "tail_s": tailed.score.get("tail_s"),
                     "strips": sorted([s.get("scorecut_take"), s.frame_final_start, s.frame_final_end]
                                      for s in editor.strips if s.type == "SOUND")}
    return facts


run(main)
