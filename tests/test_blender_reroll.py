"""Re-roll Section's plain logic (plugins/blender/reroll.py), without Blender: which section the
playhead picks, the request it makes, the seed it uses, and the words when it cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorecut.plugins.blender.client_api import ClipSpec, JobOptions
from scorecut.plugins.blender.job_runner import JobRequest
from scorecut.plugins.blender.reroll import next_reroll_seed, reroll_request, take_sections
from scorecut.plugins.blender.strips_to_request import Segment

SECTIONS = [{"start_s": 0.0, "end_s": 3.2, "label": "A"}, {"start_s": 3.2, "end_s": 6.4, "label": "B"},
            {"start_s": 6.4, "end_s": 8.0, "label": "C"}]


def take(tmp_path: Path) -> tuple[JobRequest, Segment]:
    clip = ClipSpec(path=str(tmp_path / "a.mp4"), source_in_s=0.0, source_out_s=8.0, record_start_s=0.0,
                    record_end_s=8.0)
    segment = Segment(first_frame=11, end_frame=211, scene_fps=25.0, pieces=(), clips=(clip,))
    options = JobOptions(seed=5, stems=("drums",), tail_s=1.0)
    return JobRequest("127.0.0.1:1", (clip,), options, 8.0, tmp_path, "Scene_11"), segment


def test_the_section_under_the_playhead_is_rerolled_the_rest_of_the_request_kept(tmp_path):
    request, segment = take(tmp_path)
    again = reroll_request(request, SECTIONS, segment, 11 + 100, 6)  # 4.0 s in: section B
    assert again.options.reroll == (3.2, 6.4) and again.options.reroll_seed == 6
    assert again.options.seed == 5 and again.options.tail_s == 1.0 and again.options.stems == ("drums",)
    assert (again.clips, again.duration_s, again.name, again.out_dir) == (request.clips, 8.0, "Scene_11", tmp_path)
    assert reroll_request(request, SECTIONS, segment, 11, 6).options.reroll == (0.0, 3.2)  # the first frame
    assert reroll_request(request, SECTIONS, segment, 210, 6).options.reroll == (6.4, 8.0)  # the last frame


@pytest.mark.parametrize("frame", [10, 211, 400])
def test_a_playhead_outside_the_take_is_refused_in_words(tmp_path, frame):
    request, segment = take(tmp_path)
    with pytest.raises(ValueError, match=rf"the playhead \(frame {frame}\) is not over the last take "
                                         r"\(frames 11-210\): move it into the section"):
        reroll_request(request, SECTIONS, segment, frame, 6)


def test_each_press_uses_a_seed_neither_the_take_nor_its_rerolls_used():
    assert next_reroll_seed(JobOptions(seed=5)) == 6
    assert next_reroll_seed(JobOptions(seed=5, reroll=(0.0, 1.0), reroll_seed=6)) == 7
    assert next_reroll_seed(JobOptions()) == 1  # no seed: the server's 0


def test_sections_come_from_the_takes_score_json(tmp_path):
    (tmp_path / "score.json").write_text(json.dumps({"sections": SECTIONS}))
    assert take_sections(tmp_path) == SECTIONS
    with pytest.raises(ValueError, match="cannot read the last take's .*score.json .*score the range again"):
        take_sections(tmp_path / "gone")
    (tmp_path / "score.json").write_text(json.dumps({"sections": []}))
    with pytest.raises(ValueError, match="lists no sections; score the range again"):
        take_sections(tmp_path)
