"""Beats on both sides: music beats tracked in training audio, visual beats from frames, their
activation curves at the token rate, and the agreement used to re-rank generated candidates.

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


def track_music_beats(wav: np.ndarray, sample_rate: int, snap_s: float = 0.07) -> np.ndarray:
    """Mono wav (N,) -> beat times in seconds.

    librosa's tracker finds the beat period and phase; each beat is then moved to the nearest
    onset within `snap_s` (the tracker's onset envelope lags by a frame or two), and the grid is
    extended backwards to the start at its period (it needs a few beats to lock on).
    """
    import librosa

    if len(wav) < sample_rate // 4 or float(np.abs(wav).max(initial=0.0)) < 1e-4:
        return np.zeros(0)
    y = wav.astype(np.float32)
    beats = librosa.beat.beat_track(y=y, sr=sample_rate, hop_length=256, units="time")[1]
    onsets = librosa.onset.onset_detect(y=y, sr=sample_rate, hop_length=64, units="time", backtrack=False)
    if len(beats) == 0 or len(onsets) == 0:
        return np.asarray(beats, float)
    near = lambda t: onsets[np.argmin(np.abs(onsets - t))]  # noqa: E731
    snapped = [near(b) if abs(near(b) - b) <= snap_s else b for b in beats]
    if len(snapped) > 1:
        period = float(np.median(np.diff(snapped)))
        t = snapped[0] - period
        while t > -snap_s:
            snapped.insert(0, near(t) if abs(near(t) - t) <= snap_s else t)
            t -= period
    return np.unique(np.clip(np.asarray(snapped, float), 0.0, None))


def visual_beats_from_frames(frames: np.ndarray, fps: float, min_gap_s: float = 0.25) -> np.ndarray:
    """frames (N, 3, H, W) uint8 -> times of peaks of frame-to-frame change (cuts and hits).

    The change of frame i is the mean absolute difference to frame i-1; a peak is a local maximum
    above mean + 1 std of the curve, at least `min_gap_s` after the previous one.
    """
    if len(frames) < 3:
        return np.zeros(0)
    x = frames.astype(np.float32)
    change = np.abs(np.diff(x, axis=0)).mean(axis=(1, 2, 3))  # (N-1,), change into frame i+1
    return pick_peaks(np.concatenate([[0.0], change]), fps, min_gap_s)


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
