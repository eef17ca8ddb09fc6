"""`scorecut analyze` as a user runs it: a real subprocess of the console entry point."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from tests.helpers.videos import Transition, VideoSpec, make_video

CUTS = (1.3, 3.1)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    return make_video(folder / "edit.mp4", VideoSpec(duration_s=6.0, cuts_s=CUTS, fps=25, size=(160, 90),
                                                     transitions=(Transition(4.6, "dissolve", 0.8),)))


def _analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scorecut.cli.main", "analyze", *args],
                          capture_output=True, text=True, timeout=120)


def test_json_output(video):
    out = _analyze(str(video), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("duration_s", "cuts_s", "visual_beats_s", "analysis_fps", "motion", "times_s", "cut_kinds"):
        assert key in data
    assert data["duration_s"] == pytest.approx(6.0, abs=1e-6) and data["analysis_fps"] == 10.0
    assert len(data["motion"]) == len(data["times_s"]) == 60
    assert len(data["cuts_s"]) == 3 and data["cut_kinds"] == ["hard", "hard", "dissolve"]
    for cut, got in zip(CUTS, data["cuts_s"][: len(CUTS)], strict=True):  # the hard cuts; the dissolve below
        assert abs(got - math.ceil(cut * 25) / 25) < 0.02
    assert abs(data["cuts_s"][2] - 4.6) <= 0.4
    assert set(data["cuts_s"]) <= set(data["visual_beats_s"])


def test_json_has_the_speech_curve(video, tmp_path):
    talking = make_video(tmp_path / "talk.mp4", VideoSpec(duration_s=4.0, cuts_s=(2.0,), fps=25, size=(160, 90),
                                                         audio="speech", speech_spans_s=((1.0, 2.5),), seed=5))
    out = _analyze(str(talking), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    times, speech = data["speech_times_s"], data["speech"]
    assert len(times) == len(speech) > 50 and times == sorted(times)
    talking_at = [t for t, p in zip(times, speech, strict=True) if p > 0.5]
    assert talking_at and 0.8 <= talking_at[0] <= 1.5 and 2.0 <= talking_at[-1] <= 2.8, talking_at
    # The text summary reads the same curve.
    share = sum(p > 0.5 for p in speech) / len(speech)
    assert f"speech: {100 * share:.0f}% of the time" in _analyze(str(talking)).stdout
    # Without an audio track: empty arrays, present all the same.
    silent = json.loads(_analyze(str(video), "--json").stdout)
    assert silent["speech_times_s"] == [] and silent["speech"] == []


def test_media_fragment_range_and_plot(video, tmp_path):
    plot = tmp_path / "alignment.png"
    out = _analyze(f"{video}#t=1,4", "--json", "--plot", str(plot))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["duration_s"] == pytest.approx(3.0, abs=1e-6)
    # Cuts are relative to the range start: 1.32 - 1 and 3.12 - 1.
    assert [round(t, 2) for t in data["cuts_s"]] == [0.32, 2.12]
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_plot_file_gets_the_umasks_usual_mode(video, tmp_path, umask, mode):
    plot = tmp_path / "motion.png"
    out = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "analyze", str(video), "--plot", str(plot)],
                         capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(umask))
    assert out.returncode == 0, out.stderr
    assert plot.stat().st_mode & 0o777 == mode  # as any file the user makes, not a private temp file's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["motion.png"]  # no temporary file left


def test_human_summary(video):
    out = _analyze(str(video))
    assert out.returncode == 0, out.stderr
    assert "cuts: 3" in out.stdout and "dissolve" in out.stdout and "speech: no audio track" in out.stdout


@pytest.mark.parametrize("content, message", [
    (b"just some text\n" * 20, "not a video file"),
    (None, "no such file"),
])
def test_bad_media_exits_2_without_a_traceback(tmp_path, content, message):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    out = _analyze(str(path), "--json")
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr and out.stdout == ""


def test_bad_range_exits_2(video):
    out = _analyze(f"{video}#t=4,2")
    assert out.returncode == 2 and "END must be after START" in out.stderr and "Traceback" not in out.stderr
