"""Curves on the segment's analysis grid: motion from sample-to-sample change, visual beats, pace."""

from __future__ import annotations

import numpy as np

MOTION_SCALE = 0.03  # luma MAD per analysis step that reads as "moderate" motion (0.63)


def motion_from_mad(mad: np.ndarray) -> np.ndarray:
    """(n,) luma change per analysis step -> motion energy 0..1 (a fixed curve, so calm stays calm)."""
    return (1.0 - np.exp(-np.maximum(mad, 0.0) / MOTION_SCALE)).astype(np.float32)


def visual_beats(times: np.ndarray, motion: np.ndarray, cuts_s: np.ndarray, cut_strength: np.ndarray,
                 min_spacing_s: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of frame-to-frame change: motion peaks (sub-step by a parabola) and the cuts.

    times, motion: (n,) grid. Returns sorted (times_s (b,), strength (b,) 0..1). Cuts win over
    motion peaks closer than `min_spacing_s`; among motion peaks the stronger wins.
    """
    n = len(motion)
    peaks: list[tuple[float, float]] = []
    if n >= 3:
        dt = float(times[1] - times[0])
        m = motion.astype(np.float64)
        half = max(1, int(round(min_spacing_s / dt / 2)))
        pad = np.pad(m, half, mode="edge")
        win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)  # (n, 2h+1)
        is_max = (m >= win.max(axis=1)) & (m > win.min(axis=1) + 1e-6)
        base = np.minimum(win[:, : half].min(axis=1), win[:, half + 1 :].min(axis=1))
        prom = m - np.maximum(base, 0.0)  # rise above the lower flank
        thresh = max(0.04, 0.5 * float(np.std(m)))
        for i in np.flatnonzero(is_max & (prom >= thresh)):
            off = 0.0
            if 0 < i < n - 1:
                a, b, c = m[i - 1], m[i], m[i + 1]
                den = a - 2 * b + c
                off = 0.5 * (a - c) / den if den < -1e-9 else 0.0
            peaks.append((float(times[i] + off * dt), float(prom[i])))
        if peaks:
            top = max(p for _, p in peaks)
            peaks = [(t, min(1.0, 0.2 + 0.6 * p / top)) for t, p in peaks]
    events = [(float(t), float(s), 1) for t, s in zip(cuts_s, cut_strength, strict=True)]
    events += [(t, s, 0) for t, s in peaks]
    events.sort(key=lambda e: (-e[2], -e[1]))  # cuts first, then strongest
    chosen: list[tuple[float, float, int]] = []
    for e in events:
        if all(abs(e[0] - c[0]) >= min_spacing_s for c in chosen):
            chosen.append(e)
    chosen.sort()
    return (np.array([c[0] for c in chosen], np.float64),
            np.array([c[1] for c in chosen], np.float32))


def pace(times: np.ndarray, motion: np.ndarray, cuts_s: np.ndarray, fps: float) -> np.ndarray:
    """(n,) 0..1: smoothed motion and the local cut rate (one cut per second reads as frantic)."""
    n = len(times)
    if n == 0:
        return np.zeros(0, np.float32)
    sigma = 2.0 * fps  # samples: a 2 s Gaussian
    k = np.arange(-int(3 * sigma), int(3 * sigma) + 1)
    g = np.exp(-0.5 * (k / sigma) ** 2)
    g /= g.sum()
    pad = len(k) // 2
    smooth_motion = np.convolve(np.pad(motion.astype(np.float64), pad, mode="edge"), g, mode="valid")
    impulses = np.zeros(n)
    for c in cuts_s:
        impulses[min(n - 1, max(0, int(round(c * fps))))] += fps  # a unit area per cut
    cut_rate = np.convolve(np.pad(impulses, pad), g, mode="valid")  # cuts per second
    return np.clip(0.6 * smooth_motion + 0.4 * np.minimum(1.0, cut_rate), 0.0, 1.0).astype(np.float32)
