"""Awkward and broken media: each is analysed correctly or refused with a message a person can act on."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from scorecut.models.analysis import analyze_file, probe_media
from scorecut.models.interface import MediaError
from tests.helpers.videos import VideoSpec, make_audio_only, make_video

SMALL = (160, 90)


def _first_frame_at_or_after(t: float, fps: float) -> float:
    return math.ceil(t * fps - 1e-9) / fps


def _audio_only(path: Path) -> Path:
    return make_audio_only(path)


# --- refused, with the reason and the fix ---------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        probe_media(tmp_path / "nowhere.mp4")


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 40)
    with pytest.raises(MediaError, match="not a video file") as err:
        probe_media(path)
    assert "notes.mp4" in str(err.value) and ".mp4" in str(err.value)
    with pytest.raises(MediaError):
        analyze_file(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe_media(path)


def test_truncated_mp4(tmp_path):
    whole = make_video(tmp_path / "whole.mp4", VideoSpec(duration_s=3.0, cuts_s=(1.0,), size=SMALL, audio="tone"))
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) at the end is lost, as in an unfinished copy
    with pytest.raises(MediaError, match="truncated") as err:
        probe_media(cut)
    assert "copy or export it again" in str(err.value)


def test_truncated_file_whose_index_survives(tmp_path):
    # Matroska (and fast-start mp4) keep their index up front: the file opens but stops early.
    whole = make_video(tmp_path / "whole.mkv", VideoSpec(duration_s=10.0, cuts_s=(2.0,), size=SMALL))
    cut = tmp_path / "cut.mkv"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated"):
        probe_media(cut)


def test_audio_only_file(tmp_path):
    path = _audio_only(tmp_path / "voice.m4a")
    with pytest.raises(MediaError, match="audio-only") as err:
        probe_media(path)
    assert "pass a video file" in str(err.value)
    with pytest.raises(MediaError, match="audio-only"):
        analyze_file(path)


def test_audio_file_with_cover_art(tmp_path):
    # Music files carry their cover as a one-picture video stream: still audio only.
    path = tmp_path / "song.flac"
    container = av.open(str(path), "w")
    audio = container.add_stream("flac", rate=48_000)
    audio.layout = "mono"
    cover = container.add_stream("mjpeg")
    cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
    cover.disposition = av.stream.Disposition.attached_pic
    picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
    picture.pts = 0
    for packet in [*cover.encode(picture), *cover.encode()]:
        container.mux(packet)
    for k in range(0, 48_000, 1152):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48_000, k
        for packet in audio.encode(frame):
            container.mux(packet)
    for packet in audio.encode():
        container.mux(packet)
    container.close()
    with pytest.raises(MediaError, match="audio-only file .its only picture is cover art"):
        probe_media(path)


def test_video_stream_without_frames(tmp_path):
    path = tmp_path / "blank.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
    container.close()
    with pytest.raises(MediaError):
        probe_media(path)


def test_bad_range_is_refused(tmp_path):
    path = make_video(tmp_path / "v.mp4", VideoSpec(duration_s=2.0, size=SMALL))
    with pytest.raises(MediaError, match="empty"):
        analyze_file(path, in_s=1.5, out_s=1.0)


# --- handled ------------------------------------------------------------------------------

def test_one_frame_video(tmp_path):
    path = make_video(tmp_path / "one.mp4", VideoSpec(duration_s=0.04, fps=25, size=SMALL))
    info = probe_media(path)
    assert info.frame_count_estimate == 1 and info.duration_s == pytest.approx(0.04, abs=1e-6)
    a = analyze_file(path)
    assert a.duration_s == pytest.approx(0.04, abs=1e-6)
    assert len(a.cuts_s) == 0 and len(a.times_s) == len(a.motion) == 1
    assert np.isfinite(a.motion).all() and np.isfinite(a.brightness).all()


def test_variable_frame_rate(tmp_path):
    rng = np.random.default_rng(3)
    times = np.concatenate([[0.0], np.cumsum(rng.uniform(0.015, 0.09, 90))])  # 11-66 fps
    cut = 2.0
    path = make_video(tmp_path / "vfr.mp4", VideoSpec(duration_s=float(times[-1]), cuts_s=(cut,),
                                                      frame_times_s=tuple(float(t) for t in times), size=SMALL))
    info = probe_media(path)
    assert info.variable_frame_rate
    a = analyze_file(path)
    first_new = float(times[np.searchsorted(times, cut - 1e-9)])  # the frame where the picture changes
    hard = a.cuts_s[[k == "hard" for k in a.cut_kinds]]
    assert len(hard) == 1 and abs(hard[0] - first_new) < 2e-3, (a.cuts_s, first_new)
    assert len(a.times_s) == math.ceil(a.duration_s * 10 - 1e-9)


@pytest.mark.parametrize("fps", [187, 10, Fraction(24000, 1001)])
def test_odd_frame_rates(tmp_path, fps):
    spec = VideoSpec(duration_s=3.0, cuts_s=(1.23,), fps=fps, size=(96, 54) if fps == 187 else SMALL)
    path = make_video(tmp_path / f"v{float(fps):.0f}.mp4", spec)
    info = probe_media(path)
    assert info.fps == pytest.approx(float(fps), rel=1e-3) and not info.variable_frame_rate
    a = analyze_file(path)
    hard = a.cuts_s[[k == "hard" for k in a.cut_kinds]]
    assert len(a.cuts_s) == 1 and len(hard) == 1
    assert abs(hard[0] - _first_frame_at_or_after(1.23, float(fps))) < 0.5 / float(fps)
    # Curves at the analysis rate, whatever the source rate.
    assert len(a.times_s) == math.ceil(a.duration_s * 10 - 1e-9) and a.analysis_fps == 10.0


def test_no_audio_track_gives_an_empty_speech_curve(tmp_path):
    path = make_video(tmp_path / "silent_film.mp4", VideoSpec(duration_s=2.0, size=SMALL, audio=None))
    assert not probe_media(path).has_audio
    a = analyze_file(path)
    assert len(a.speech) == 0 and len(a.speech_times_s) == 0


def test_thirty_minute_video_in_bounded_memory(tmp_path):
    """Peak memory of analysing 30 minutes exceeds that of 20 seconds by a bounded amount.

    Each analysis runs in its own process; we compare their peak resident sizes (ru_maxrss).
    Holding every decoded 64x36 frame of 30 minutes at 10 fps would alone take 124 MB, and the
    full-size ones far more.
    """
    long = make_video(tmp_path / "long.mp4", VideoSpec(duration_s=1800.0, cuts_s=tuple(range(60, 1800, 60)),
                                                         fps=10, size=(64, 36), gop=250))
    short = make_video(tmp_path / "short.mp4", VideoSpec(duration_s=20.0, cuts_s=(10.0,), fps=10, size=(64, 36)))
    code = (
        "import json, resource, sys\n"
        "from scorecut.models.analysis import analyze_file\n"
        "a = analyze_file(sys.argv[1])\n"
        "print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,\n"
        "                  'cuts': len(a.cuts_s), 'n': len(a.times_s), 'duration': a.duration_s}))\n"
    )

    def measure(path: Path) -> dict:
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    base, big = measure(short), measure(long)
    print(f"peak RSS: 20 s video {base['peak_mb']:.0f} MB, 30 min video {big['peak_mb']:.0f} MB")
    assert big["duration"] == pytest.approx(1800.0, abs=0.2)
    assert big["n"] == 18000 and big["cuts"] == 29
    assert big["peak_mb"] - base["peak_mb"] < 40, (base, big)
