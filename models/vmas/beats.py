"""Beats on both sides: music beats tracked in training audio, the visual beats of the server's
analysis (the one detector for training and serving), their activation curves at the token
rate, and the agreement used to re-rank generated candidates.

An activation curve has one value per codec frame, 0..1: a Gaussian bump (sigma `sigma_s`)
centred on every beat. The music LM reads the visual curve as its aligned conditioning stream and
its beat head predicts the music curve.
"""

from __future__ import annotations

import numpy as np


def activation(times_s, n_steps: int, frame_rate: float, sigma_s: float) -> np.ndarray:
    """Beat times (seconds) -> (n_steps,) float32 curve, the max of one bump per beat."""
    t = np.arange(n_steps) / frame_rate  # (n,) seconds of each step
    times = np.asarray(times_s, dtype=np.float64)
    out = np.zeros(n_steps, np.float32)
    for b in times[(times > -4 * sigma_s) & (times < n_steps / frame_rate + 4 * sigma_s)]:
        np.maximum(out, np.exp(-0.5 * ((t - b) / sigma_s) ** 2), out=out)
    return out


ONSET_HOP_S = 0.004  # seconds per onset-envelope frame: fine enough to place a beat within 4 ms


def onset_envelope(wav: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Mono wav (N,) -> (spectral flux (M,), its rate in frames per second).

    Flux: the summed rise of log-magnitude across STFT bins from one frame to the next, the
    standard onset cue; frame i measures the rise *into* frame i.
    """
    hop = max(1, int(round(ONSET_HOP_S * sample_rate)))
    n_fft = 4 * hop if 4 * hop >= 64 else 64
    if len(wav) < n_fft:
        return np.zeros(0), sample_rate / hop
    # Silence before the start (sound starting is an onset), a mirror after the end (a file
    # ending is not one: zeros there would splatter into every bin).
    padded = np.pad(np.pad(wav, (n_fft // 2, 0)), (0, n_fft // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    mag = np.log1p(100 * np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)))  # (M, bins)
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)  # (M-1,)
    return np.concatenate([[0.0], flux]), sample_rate / hop


def track_music_beats(wav: np.ndarray, sample_rate: int, min_bpm: float = 60.0, max_bpm: float = 200.0) -> np.ndarray:
    """Mono wav (N,) -> beat times in seconds, for music with a steady pulse.

    The period is the autocorrelation peak of the onset envelope between min_bpm and max_bpm
    (weighted towards 120 BPM, where listeners place the beat, as librosa's prior does); the phase
    is the offset whose comb of beats collects the most onset energy; each beat of the comb is then
    moved to the strongest onset within an eighth of a period, so the grid may breathe; comb
    points with no onset above the average (silence, the clip's ends) are left out.
    """
    wav = np.asarray(wav, np.float64)
    if len(wav) < sample_rate // 4 or float(np.abs(wav).max(initial=0.0)) < 1e-4:
        return np.zeros(0)
    env, rate = onset_envelope(wav, sample_rate)
    env = env - env.mean()
    lo, hi = int(rate * 60 / max_bpm), int(np.ceil(rate * 60 / min_bpm))
    if len(env) < 2 * lo or hi <= lo:
        return np.zeros(0)
    # The autocorrelation by FFT: np.correlate's sums in O(M log M), not O(M^2) (a 10-minute
    # track is 150,000 envelope frames; bench/bench_musicgen_rerank.py).
    size = 1 << int(np.ceil(np.log2(2 * len(env))))
    spectrum = np.fft.rfft(env, size)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(env)]  # (M,) lag 0..
    lags = np.arange(lo, min(hi, len(env) - 1) + 1)
    prior = np.exp(-0.5 * (np.log2(rate * 60 / lags / 120.0)) ** 2)  # one octave of spread
    period = int(lags[np.argmax(ac[lags] * prior)])
    comb = [env[phase::period].clip(min=0).sum() for phase in range(period)]
    phase = int(np.argmax(comb))
    slack = max(1, period // 8)
    while phase - period >= -slack:  # a beat just before frame 0 lands on frame 0
        phase -= period
    beats = []
    for centre in range(phase, len(env) + slack, period):
        a, b = max(0, centre - slack), min(len(env), centre + slack + 1)
        if b > a:
            best = a + int(np.argmax(env[a:b]))
            if env[best] > 0:  # an onset above the average is there: a beat one can hear
                beats.append(best)
    return np.asarray(beats, float) / rate


def visual_beat_times(analysis) -> np.ndarray:
    """The visual beats the music LM is conditioned on, from the server's video analysis.

    Training and serving both take them from `models.analysis` (one detector): the analysis's
    visual beats (motion peaks) and its cuts, the strongest visual beats, merged and sorted.
    """
    return np.union1d(np.asarray(analysis.visual_beats_s, float), np.asarray(analysis.cuts_s, float))


def pick_peaks(curve: np.ndarray, rate: float, min_gap_s: float = 0.2, threshold: float | None = None) -> np.ndarray:
    """(n,) curve at `rate` per second -> sorted times of local maxima above threshold.

    threshold None = mean + 1 std of the curve. Of peaks closer than `min_gap_s`, the higher wins.
    """
    curve = np.asarray(curve, np.float64)
    if len(curve) < 3:
        return np.zeros(0)
    thr = curve.mean() + curve.std() if threshold is None else threshold
    padded = np.concatenate([[-np.inf], curve, [-np.inf]])
    is_peak = (curve > thr) & (curve >= padded[:-2]) & (curve > padded[2:])
    kept: list[int] = []
    for i in sorted(np.flatnonzero(is_peak), key=lambda i: -curve[i]):
        if all(abs(i - j) / rate >= min_gap_s for j in kept):
            kept.append(int(i))
    return np.asarray(sorted(kept), float) / rate


def beat_agreement(music_beats_s, visual_beats_s, tolerance_s: float = 0.1) -> float:
    """F-measure of visual beats met by a music beat within `tolerance_s` (0..1)."""
    m, v = np.asarray(music_beats_s, float), np.asarray(visual_beats_s, float)
    if len(m) == 0 or len(v) == 0:
        return 0.0
    recall = float(np.mean(np.min(np.abs(v[:, None] - m[None, :]), axis=1) <= tolerance_s))
    precision = float(np.mean(np.min(np.abs(m[:, None] - v[None, :]), axis=1) <= tolerance_s))
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def rerank(candidate_beats: list[np.ndarray], visual_beats_s, tolerance_s: float = 0.1) -> list[int]:
    """Candidate indices, best agreement with the visual beats first (stable on ties)."""
    scores = [beat_agreement(b, visual_beats_s, tolerance_s) for b in candidate_beats]
    return sorted(range(len(scores)), key=lambda i: -scores[i])
