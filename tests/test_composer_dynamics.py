"""The loudness range meter (EBU Tech 3342) that judges the composer's dynamics, checked against
the test signals of EBU Tech 3342 (1 kHz stereo sine tones at stated levels; expected LRA +-1 LU).
"""

from __future__ import annotations

import numpy as np
import pytest

from scorecut.models.interface import TRUE_PEAK_CEILING_DBTP
from scorecut.models.post.levels import loudness_range, short_term_loudness

SR = 48_000


def tones(*levels_dbfs: float, seconds: float = 20.0) -> np.ndarray:
    """Stereo 1 kHz sine, `seconds` at each level in turn: (2, frames)."""
    t = np.arange(int(seconds * SR)) / SR
    parts = [10 ** (db / 20) * np.sin(2 * np.pi * 1000 * t) for db in levels_dbfs]
    mono = np.concatenate(parts)
    return np.stack([mono, mono])


@pytest.mark.parametrize("levels,expected", [
    ((-20, -30), 10.0), ((-20, -15), 5.0), ((-40, -20), 20.0), ((-50, -35, -20, -35, -50), 15.0),
])
def test_tech_3342_cases(levels, expected):
    assert abs(loudness_range(tones(*levels), SR) - expected) <= 1.0


def test_short_term_loudness_of_a_steady_tone():
    # A full-scale-relative 1 kHz sine at -20 dBFS in both channels reads -20 LUFS +- 0.1 (BS.1770's
    # calibration: K-weighting is ~0 dB at 1 kHz, and two channels add 3 dB to a sine's -3 dB RMS).
    st = short_term_loudness(tones(-20, seconds=10.0), SR)
    assert len(st) == 71 and np.all(np.abs(st + 20.0) < 0.1)
    assert np.isnan(loudness_range(np.zeros((2, SR * 5)), SR))


def calm_then_busy(duration_s: float = 60.0):
    """An analysis of a minute that opens calm (little motion, long shots) and ends busy (fast
    motion, a cut every 2-3 s). Built directly: the composer reads only the analysis."""
    from scorecut.models.analysis.types import VideoAnalysis

    fps = 10.0
    t = np.arange(0, duration_s, 1 / fps)
    n = len(t)
    motion = np.clip(0.05 + 0.9 * (t / duration_s) ** 1.5, 0, 1).astype(np.float32)
    cuts = np.array([12.0, 24.0, 32.0, 38.0, 43.0, 47.0, 50.5, 53.0, 55.5, 57.5])
    return VideoAnalysis(
        duration_s=duration_s, analysis_fps=fps, times_s=t, motion=motion,
        brightness=np.full(n, 0.55, np.float32), saturation=np.full(n, 0.35, np.float32),
        warmth=np.zeros(n, np.float32), cuts_s=cuts, cut_strength=np.full(len(cuts), 0.8, np.float32),
        cut_kinds=tuple("hard" for _ in cuts), visual_beats_s=np.zeros(0), visual_beat_strength=np.zeros(0, np.float32),
        pace=(motion * 0.6).astype(np.float32), speech_times_s=np.zeros(0), speech=np.zeros(0, np.float32))


@pytest.mark.parametrize("style", ["cinematic", "acoustic_pop", "corporate"])
def test_the_finished_music_keeps_the_arrangements_shape(style):
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.interface import ScoreOptions
    from scorecut.models.post import finish

    analysis = calm_then_busy()
    options = ScoreOptions(style=style, seed=1)
    output = ComposerModel().compose(None, analysis, options)
    sections = output.plan.sections
    assert sections[0].intensity < sections[-1].intensity, "the plan should build; the test needs it"
    done = finish(output, analysis, options)
    lra = loudness_range(done.mix, SR)
    assert 4.0 <= lra <= 10.0, lra
    st = short_term_loudness(done.mix, SR)  # window k covers [k * 0.1, k * 0.1 + 3] s
    first = st[: int((sections[0].end_s - 3.0) * 10)]
    last = st[-150:]  # the last 15 s, all at the peak
    assert np.median(last) - np.median(first) >= 4.0, (np.median(first), np.median(last))
    assert abs(done.loudness_lufs - options.loudness_lufs) < 0.5
    assert done.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP + 0.05


def test_section_ride_in_chunks_equals_the_whole_curve(monkeypatch):
    # ride_sections makes the gain curve a chunk at a time (a whole 10-minute curve's float64
    # temporaries were the composer's memory peak); every frame must get the same bits as one piece.
    from scorecut.models.composer.arrangement import arrange
    from scorecut.models.composer.plan import make_plan
    from scorecut.models.composer.synth import engine
    from scorecut.models.interface import ScoreOptions

    analysis = calm_then_busy(30.0)
    arrangement = arrange(make_plan(analysis, ScoreOptions(style="cinematic", seed=3)), analysis, 3)
    breakpoints = engine.section_breakpoints(arrangement)
    assert breakpoints is not None and len(breakpoints[0]) >= 4  # the curve moves
    n = int(round(arrangement.duration_s * SR))
    whole = engine.section_gain(breakpoints, 0, n, SR)
    assert whole.shape == (n,) and whole.dtype == np.float32 and whole.min() < whole.max()
    rng = np.random.default_rng(0)
    stems = {s: rng.standard_normal((2, n)).astype(np.float32) for s in ("drums", "bass")}
    expected = {s: x * whole[None, :] for s, x in stems.items()}
    monkeypatch.setattr(engine, "SECTION_CHUNK_FRAMES", 12_345)  # uneven: a partial last chunk
    engine.ride_sections(stems, arrangement, SR)
    for s in stems:
        assert np.array_equal(stems[s], expected[s])
