"""The analysis reads the picture as an editor does, on clips made here with PyAV.

Camera and subject motion are no cuts (a crash zoom, a whip pan, flashes, a subject passing
close to the lens, a hand-held walk); hard cuts, dissolves of 0.5-2 s and fades through black
are each found on their frame; regular motion (a ball bouncing every 0.6 s) sets the tempo and
its bounces get beats; a calm and a busy shot get different tempi; variable frame rate files
keep their timestamps; `scorecut analyze --json` and score.json say what was found and why.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import editorial_clips as clips
import numpy as np
import pytest

from scorecut.models.analysis import analyze_file
from scorecut.models.composer.model import ComposerModel
from scorecut.models.composer.plan import make_plan
from scorecut.models.composer.styles import STYLES
from scorecut.models.interface import ScoreOptions
from scorecut.models.post import finish
from tests.helpers.videos import Transition, VideoSpec, make_video

NO_CUT_CLIPS = ("fast_zoom", "whip_pan", "flashes", "subject_close_to_lens", "handheld_walk")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("editorial")


@pytest.mark.parametrize("name", NO_CUT_CLIPS)
def test_camera_and_subject_motion_are_not_cuts(folder, name):
    path = getattr(clips, name)(folder / f"{name}.mp4")
    a = analyze_file(path)
    assert len(a.cuts_s) == 0, (name, list(zip(a.cuts_s, a.cut_kinds, a.cut_confidence, strict=True)))
    assert len(a.cut_confidence) == 0
    assert np.all((a.accent_strength > 0) & (a.accent_strength <= 1))
    if name == "flashes":  # the flashes are accents, at their frames
        flashes = a.accents_s[[k == "flash" for k in a.accent_kinds]]
        for t in (1.2, 2.6):
            assert np.min(np.abs(flashes - t)) <= 0.5 / 25, (t, a.accents_s, a.accent_kinds)
    if name == "whip_pan":  # the whip's end: a change the detector was unsure of, offered as an accent
        assert len(a.accents_s) >= 1


def _first_frame_at_or_after(t: float, fps: float) -> float:
    return math.ceil(t * fps - 1e-9) / fps


@pytest.mark.parametrize("fps", [25, 30])
def test_cuts_dissolves_and_fades_on_their_frames(folder, fps):
    spec = VideoSpec(
        duration_s=16.0, cuts_s=(1.37, 3.02, 11.61),
        transitions=(Transition(5.0, "dissolve", 0.5), Transition(7.3, "dissolve", 2.0),
                     Transition(9.9, "dissolve", 1.0), Transition(13.4, "fade", 0.8), Transition(14.9, "fade", 1.2)),
        fps=fps, size=clips.SIZE, motion=2.0, gop=60, x264_preset="medium", seed=31)
    a = analyze_file(make_video(folder / f"edit{fps}.mp4", spec))
    frame = 1.0 / fps
    assert len(a.cuts_s) == len(spec.shot_changes_s), list(zip(a.cuts_s, a.cut_kinds, strict=True))
    assert np.all(a.cut_confidence >= 0.5) and len(a.cut_confidence) == len(a.cuts_s)
    for c in spec.cuts_s:  # the first frame of the new shot, exactly
        j = int(np.argmin(np.abs(a.cuts_s - c)))
        assert a.cut_kinds[j] == "hard"
        assert abs(a.cuts_s[j] - _first_frame_at_or_after(c, fps)) < 0.5 * frame, (c, a.cuts_s[j])
    for tr in spec.transitions:
        j = int(np.argmin(np.abs(a.cuts_s - tr.time_s)))
        assert a.cut_kinds[j] == tr.kind, (tr, a.cut_kinds[j])
        limit = 2 * frame if tr.kind == "dissolve" else 1.0 * frame + 1e-6  # a fade: its blackest frames
        assert abs(a.cuts_s[j] - tr.time_s) <= limit + 1e-6, (tr, a.cuts_s[j])


@pytest.fixture(scope="module")
def bounce(folder):
    path, impacts = clips.bouncing_ball(folder / "bounce.mp4", period_s=0.6)
    return path, impacts, analyze_file(path)


def test_bouncing_ball_gives_its_period_and_its_impacts(bounce):
    _, impacts, a = bounce
    assert a.motion_period_s == pytest.approx(0.6, abs=0.02) and a.motion_period_confidence >= 0.5
    hits = a.accents_s[[k == "impact" for k in a.accent_kinds]]
    for t in impacts:
        assert np.min(np.abs(hits - t)) <= 0.02, (t, hits)
    assert len(a.cuts_s) == 0


@pytest.mark.parametrize("style", ["cinematic", "acoustic_pop"])  # 100 BPM fits both
def test_bouncing_ball_sets_the_tempo_and_beats_land_on_bounces(bounce, style):
    _, impacts, a = bounce
    plan = make_plan(a, ScoreOptions(style=style, seed=5))
    lo, hi = STYLES[style].tempo_bpm
    assert lo <= plan.tempo_bpm <= hi
    beat = 60.0 / plan.tempo_bpm
    ratio = beat / 0.6  # a musical multiple of the bounce: 1/4, 1/2, 1, 2, ...
    assert min(abs(ratio - m) for m in (0.25, 0.5, 1.0, 2.0, 3.0, 4.0)) < 0.02, plan.tempo_bpm
    for t in impacts[impacts < plan.beats_s[plan.end_beat]]:
        if ratio <= 1.0 + 0.02:  # a beat on every bounce
            assert np.min(np.abs(plan.beats_s - t)) <= 0.04, (t, plan.beats_s)
    if ratio > 1.02:  # fewer beats than bounces: every beat is on a bounce
        inside = plan.beats_s[(plan.beats_s > impacts[0] - 0.01) & (plan.beats_s < impacts[-1] + 0.01)]
        assert all(np.min(np.abs(impacts - b)) <= 0.04 for b in inside)
    assert "regular motion every 0.60 s" in plan.tempo_reason


def test_a_period_no_multiple_of_which_fits_the_style_is_said(bounce):
    _, _, a = bounce
    plan = make_plan(a, ScoreOptions(style="lofi", seed=5))  # 70-90 BPM: 50, 100, 200 are outside
    assert 70 <= plan.tempo_bpm <= 90
    assert "no musical multiple" in plan.tempo_reason and "0.60 s" in plan.tempo_reason


def test_calm_and_busy_shots_get_different_tempi(folder):
    calm = analyze_file(clips.calm_static(folder / "calm.mp4"))
    busy = analyze_file(clips.busy_motion(folder / "busy.mp4"))
    assert len(calm.cuts_s) == len(busy.cuts_s) == 0
    for style in ("cinematic", "corporate"):
        lo, hi = STYLES[style].tempo_bpm
        p_calm = make_plan(calm, ScoreOptions(style=style, seed=2))
        p_busy = make_plan(busy, ScoreOptions(style=style, seed=2))
        assert lo <= p_calm.tempo_bpm < p_busy.tempo_bpm <= hi, (style, p_calm.tempo_bpm, p_busy.tempo_bpm)
        assert p_busy.tempo_bpm - p_calm.tempo_bpm >= 0.25 * (hi - lo)
        assert max(s.intensity for s in p_busy.sections) > max(s.intensity for s in p_calm.sections)
        assert "calm" in p_calm.tempo_reason and "busy" in p_busy.tempo_reason


def test_variable_frame_rate_cuts_and_accents_use_timestamps(folder):
    rng = np.random.default_rng(8)
    times = np.concatenate([[0.0], np.cumsum(rng.uniform(0.012, 0.08, 140))])  # 12-80 fps
    cuts = (1.5, 3.3)
    spec = VideoSpec(duration_s=float(times[-1]), cuts_s=cuts, frame_times_s=tuple(float(t) for t in times),
                     size=clips.SIZE, flashes_s=(), seed=9)
    a = analyze_file(make_video(folder / "vfr.mp4", spec))
    assert len(a.cuts_s) == 2
    for c, found in zip(cuts, a.cuts_s, strict=True):
        first_new = float(times[np.searchsorted(times, c - 1e-9)])
        assert abs(found - first_new) < 1.5e-3, (c, found, first_new)  # millisecond timestamps
        index_time = np.searchsorted(times, c - 1e-9) / (len(times) / times[-1])  # what frame index would say
        assert abs(index_time - first_new) > 0.01  # the test can tell timestamps from frame counting


def test_analyze_json_reports_kinds_confidence_accents_and_period(bounce, folder):
    path, _, _ = bounce
    out = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "analyze", str(path), "--json"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["motion_period_s"] == pytest.approx(0.6, abs=0.02) and data["motion_period_confidence"] >= 0.5
    assert len(data["visual_accents"]) >= 10
    assert {"time_s", "strength", "kind"} <= set(data["visual_accents"][0])
    assert data["cuts_s"] == [] and data["cut_kinds"] == [] and data["cut_confidence"] == []
    edit = make_video(folder / "cli_edit.mp4", VideoSpec(duration_s=5.0, cuts_s=(1.7,),
                                                         transitions=(Transition(3.5, "dissolve", 1.0),),
                                                         size=clips.SIZE, seed=4))
    out = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "analyze", str(edit), "--json"],
                         capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(out.stdout)
    assert data["cut_kinds"] == ["hard", "dissolve"] and len(data["cut_confidence"]) == 2
    assert all(0.5 <= c <= 1 for c in data["cut_confidence"])


def test_score_json_says_why_the_tempo_was_chosen(bounce):
    from scorecut.server.results import score_json

    _, _, a = bounce
    options = ScoreOptions(style="cinematic", seed=1, stems=("drums",))
    output = ComposerModel().compose(None, a, options)
    finished = finish(output, a, options)
    extras = json.loads(score_json(finished))  # the model's fields the client adds to score.json
    assert "regular motion every 0.60 s" in extras["tempo_reason"]
    assert output.plan.tempo_bpm == pytest.approx(100.0, abs=1.5)


def test_score_json_from_a_real_server_carries_tempo_reason(server, media_root, tmp_path):
    """`scorecut score` against a real server: score.json says why the tempo is what it is."""
    from tests.helpers.servers import isolated_env

    path, _ = clips.bouncing_ball(media_root / "bounce for score.mp4", period_s=0.6)
    out = tmp_path / "scored"
    run = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "score", str(path), "--server", server.address,
                          "--out-dir", str(out), "--seed", "2", "--stems", "drums"],
                         capture_output=True, text=True, timeout=300, check=False,
                         env=isolated_env(tmp_path / "home"))
    assert run.returncode == 0, run.stderr
    doc = json.loads(next(out.glob("*/score.json")).read_text())
    assert "regular motion every 0.60 s" in doc["tempo_reason"], doc.get("tempo_reason")
    assert doc["tempo_bpm"] == pytest.approx(100.0, abs=1.5)
