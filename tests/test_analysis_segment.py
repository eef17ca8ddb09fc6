"""Timeline segments: clips with in/out points and speed changes map to record time; progress,
cancellation, speech in the clips' own audio, and the alignment plot."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from scorecut.models.analysis import analyze_file, analyze_segment
from scorecut.models.analysis.plot import plot_alignment
from scorecut.models.interface import Cancelled, Clip, MediaError, MusicalPlan, Section, Segment
from tests.helpers.videos import Transition, VideoSpec, make_video

SMALL = (160, 90)


def _first_frame(t: float, fps: float) -> float:
    return math.ceil(t * fps - 1e-9) / fps


def test_two_clips_with_in_out_and_a_speed_change(tmp_path):
    a_path = make_video(tmp_path / "a.mp4", VideoSpec(duration_s=5.0, cuts_s=(1.3, 2.9), fps=25, size=SMALL, seed=1))
    b_path = make_video(tmp_path / "b.mp4", VideoSpec(duration_s=6.0, cuts_s=(0.7, 2.44), fps=30, size=SMALL,
                                                    seed=2, gop=15))
    # Clip A: source 0.52..3.72 s at normal speed -> record 0..3.2 s.
    # Clip B: source 1.1..4.1 s played at double speed -> record 3.2..4.7 s (mid-GOP in point).
    clips = (Clip(str(a_path), 0.52, 3.72, 0.0, 3.2, "a"), Clip(str(b_path), 1.1, 4.1, 3.2, 4.7, "b"))
    seg = Segment(clips, 4.7)
    result = analyze_segment(seg)

    expected = [  # (record time, tolerance: one source frame in record time, kind)
        (_first_frame(1.3, 25) - 0.52, 1 / 25, "hard"),
        (_first_frame(2.9, 25) - 0.52, 1 / 25, "hard"),
        (3.2, 1e-6, "boundary"),
        (3.2 + (_first_frame(2.44, 30) - 1.1) / 2.0, 0.5 / 30, "hard"),
    ]
    assert len(result.cuts_s) == len(expected), (result.cuts_s, result.cut_kinds)
    for (t, tol, kind), got, got_kind in zip(expected, result.cuts_s, result.cut_kinds, strict=False):
        assert abs(got - t) <= tol + 1e-6, (got, t)
        assert got_kind == kind
    boundary = result.cut_kinds.index("boundary")
    assert result.cut_strength[boundary] == 1.0
    # The cut at source 0.7 s in clip B lies before its in point: it must not appear.
    assert not np.any(np.abs(result.cuts_s - (3.2 + (0.7 - 1.1) / 2)) < 0.1)
    assert result.duration_s == 4.7 and len(result.times_s) == 47
    assert np.allclose(np.diff(result.times_s), 0.1)
    assert result.times_s[-1] < 4.7


def test_speed_change_scales_motion_into_record_time(tmp_path):
    path = make_video(tmp_path / "m.mp4", VideoSpec(duration_s=6.0, fps=25, size=SMALL, motion=3.0, seed=4))
    normal = analyze_segment(Segment((Clip(str(path), 0.0, 6.0, 0.0, 6.0),), 6.0))
    fast = analyze_segment(Segment((Clip(str(path), 0.0, 6.0, 0.0, 2.0),), 2.0))  # 3x speed
    assert len(fast.times_s) == 20
    # Three times as much happens per record second.
    assert np.median(fast.motion) > 1.5 * np.median(normal.motion)


def test_clip_shorter_than_a_frame_uses_the_frame_on_screen(tmp_path):
    path = make_video(tmp_path / "s.mp4", VideoSpec(duration_s=2.0, fps=10, size=SMALL))
    a = analyze_segment(Segment((Clip(str(path), 1.01, 1.05, 0.0, 0.04),), 0.04))
    assert len(a.times_s) == 1 and np.isfinite(a.brightness).all() and a.brightness[0] > 0


def test_bad_clips_are_refused(tmp_path):
    path = make_video(tmp_path / "v.mp4", VideoSpec(duration_s=1.0, size=SMALL))
    with pytest.raises(MediaError, match="out point"):
        analyze_segment(Segment((Clip(str(path), 0.8, 0.2, 0.0, 0.6),), 0.6))
    with pytest.raises(MediaError, match="no clips"):
        analyze_segment(Segment((), 1.0))
    with pytest.raises(MediaError, match="no such file"):
        analyze_segment(Segment((Clip(str(tmp_path / "gone.mp4"), 0.0, 1.0, 0.0, 1.0),), 1.0))


def test_progress_and_cancel_within_a_second(tmp_path):
    path = make_video(tmp_path / "long.mp4", VideoSpec(duration_s=40.0, cuts_s=(10.0, 20.0), fps=25,
                                                        size=(320, 180), audio="tone"))
    fractions = []
    analyze_file(path, progress=lambda stage, f: fractions.append((stage, f)))
    assert fractions[0] == ("analysis", 0.0) and fractions[-1] == ("analysis", 1.0)
    values = [f for _, f in fractions]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False)) and len(values) > 10

    cancel = threading.Event()
    set_at = []

    def progress(stage, fraction):
        if fraction > 0.2 and not cancel.is_set():
            set_at.append(time.monotonic())
            cancel.set()

    with pytest.raises(Cancelled):
        analyze_file(path, progress=progress, cancel=cancel)
    assert set_at and time.monotonic() - set_at[0] < 1.0


def test_cancel_from_another_thread_frees_the_worker(tmp_path):
    path = make_video(tmp_path / "long.mp4", VideoSpec(duration_s=40.0, fps=25, size=(320, 180)))
    cancel = threading.Event()
    outcome = {}
    started = threading.Event()

    def work():
        try:
            analyze_file(path, cancel=cancel, progress=lambda stage, f: f > 0.05 and started.set())
            outcome["result"] = "finished"
        except Cancelled:
            outcome["result"] = "cancelled"
        outcome["at"] = time.monotonic()

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(30)
    cancel.set()
    t0 = time.monotonic()
    worker.join(5.0)
    assert outcome.get("result") == "cancelled" and outcome["at"] - t0 < 1.0


def test_speech_found_where_people_talk(tmp_path):
    spans = ((1.0, 3.0), (5.0, 6.5))
    path = make_video(tmp_path / "talk.mp4", VideoSpec(duration_s=8.0, fps=25, size=SMALL, audio="speech",
                                                       speech_spans_s=spans))
    a = analyze_file(path)
    t, p = a.speech_times_s, a.speech
    assert len(t) == len(p) > 0 and p.min() >= 0 and p.max() <= 1
    inside = np.zeros(len(t), bool)
    near = np.zeros(len(t), bool)
    for s, e in spans:
        inside |= (t > s + 0.25) & (t < e - 0.25)
        near |= (t > s - 0.4) & (t < e + 0.4)
    assert p[inside].mean() > 0.6 and np.mean(p[inside] > 0.5) > 0.85, p[inside]
    assert p[~near].mean() < 0.1 and np.mean(p[~near] > 0.5) < 0.05


@pytest.mark.parametrize("audio", ["tone", "silence"])
def test_tone_and_silence_are_not_speech(tmp_path, audio):
    path = make_video(tmp_path / f"{audio}.mp4", VideoSpec(duration_s=5.0, fps=25, size=SMALL, audio=audio))
    a = analyze_file(path)
    assert len(a.speech) > 0
    assert a.speech.mean() < 0.1 and np.mean(a.speech > 0.5) < 0.05


def test_speech_follows_its_clip_into_record_time(tmp_path):
    path = make_video(tmp_path / "talk.mp4", VideoSpec(duration_s=6.0, fps=25, size=SMALL, audio="speech",
                                                       speech_spans_s=((3.0, 5.0),)))
    silent = make_video(tmp_path / "quiet.mp4", VideoSpec(duration_s=3.0, fps=25, size=SMALL))
    # A silent clip first (no audio track), then the talking one from source 2 s: speech at record 3..5 s.
    seg = Segment((Clip(str(silent), 0.0, 2.0, 0.0, 2.0), Clip(str(path), 2.0, 6.0, 2.0, 6.0)), 6.0)
    a = analyze_segment(seg)
    t, p = a.speech_times_s, a.speech
    assert p[(t > 3.3) & (t < 4.7)].mean() > 0.6
    assert p[t < 2.0].max() == 0.0 and p[(t > 2.0) & (t < 2.6)].mean() < 0.1


def test_alignment_plot_is_written_atomically(tmp_path):
    path = make_video(tmp_path / "v.mp4", VideoSpec(duration_s=6.0, cuts_s=(2.0,), fps=25, size=SMALL,
                                                    transitions=(Transition(4.0, "fade", 0.6),)))
    a = analyze_file(path)
    plan = MusicalPlan(tempo_bpm=120.0, meter="4/4", key="A minor",
                       beats_s=tuple(np.arange(0, 6.0, 0.5)), downbeats_s=tuple(np.arange(0, 6.0, 2.0)),
                       sections=(Section(0.0, 2.0, 1, "intro"), Section(2.0, 6.0, 3, "A")),
                       style="cinematic", mood="calm")
    out = plot_alignment(a, tmp_path / "plots" / "alignment.png", plan)
    assert out == tmp_path / "plots" / "alignment.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert sorted(p.name for p in out.parent.iterdir()) == ["alignment.png"]  # no temporary left behind
    plain = plot_alignment(a, tmp_path / "only_picture.png")
    assert plain.stat().st_size > 10_000


def test_analysis_rate_is_checked_and_followed(tmp_path):
    from scorecut.models.interface import RequestError

    path = make_video(tmp_path / "v.mp4", VideoSpec(duration_s=3.0, cuts_s=(1.5,), fps=25, size=SMALL))
    seg = Segment((Clip(str(path), 0.0, 3.0, 0.0, 3.0),), 3.0)
    with pytest.raises(RequestError):
        analyze_segment(seg, fps=0.0)
    a = analyze_segment(seg, fps=25.0)
    assert a.analysis_fps == 25.0 and len(a.times_s) == 75 and len(a.cuts_s) == 1
