"""Ducking under dialogue: speech spans from the analysis, a smooth duck envelope, a presence dip.

The whole job is offline, so the duck can look ahead: the music starts going down `attack_s`
before a line begins and is fully down when the first word lands, then comes back over
`release_s` after the line ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class DuckSettings:
    depth_db: float = 8.0  # music level under speech, relative to outside it
    attack_s: float = 0.1
    release_s: float = 0.45
    on_threshold: float = 0.5  # speech probability that opens a span
    off_threshold: float = 0.35  # ... and that closes it (hysteresis: no flutter)
    merge_gap_s: float = 0.4  # pauses shorter than this stay ducked: a sentence is one span
    min_span_s: float = 0.15  # a blip shorter than this is not speech
    dip_db: float = 6.0  # cut of the 1-4 kHz band in harmony and melody while ducked
    dip_band_hz: tuple[float, float] = (1000.0, 4000.0)


def speech_spans(times_s: np.ndarray, prob: np.ndarray, duration_s: float, s: DuckSettings) -> list[tuple[float, float]]:
    """[(start_s, end_s)] where the speech probability says someone talks."""
    if len(times_s) == 0 or len(prob) == 0:
        return []
    spans: list[list[float]] = []
    on = False
    start = 0.0
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.0
    for t, p in zip(np.asarray(times_s, float).tolist(), np.asarray(prob, float).tolist()):
        if not on and p >= s.on_threshold:
            on, start = True, t
        elif on and p < s.off_threshold:
            on = False
            spans.append([start, t])
    if on:
        spans.append([start, float(times_s[-1]) + step])
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] < s.merge_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(max(0.0, a), min(duration_s, b)) for a, b in merged if b - a >= s.min_span_s and a < duration_s]


def duck_amount(spans, frames: int, sample_rate: int, s: DuckSettings) -> np.ndarray:
    """(frames,) float32 in 0..1: 1 fully ducked, with raised-cosine ramps (no steps)."""
    d = np.zeros(frames, dtype=np.float32)
    for a, b in spans:
        i0 = int(round((a - s.attack_s) * sample_rate))
        i1 = int(round(a * sample_rate))
        i2 = int(round(b * sample_rate))
        i3 = int(round((b + s.release_s) * sample_rate))
        idx = np.arange(max(0, i0), min(frames, i3))
        if len(idx) == 0:
            continue
        ramp_in = 0.5 - 0.5 * np.cos(np.pi * np.clip((idx - i0) / max(1, i1 - i0), 0.0, 1.0))
        ramp_out = 0.5 + 0.5 * np.cos(np.pi * np.clip((idx - i2) / max(1, i3 - i2), 0.0, 1.0))
        d[idx] = np.maximum(d[idx], np.minimum(ramp_in, ramp_out))
    return d


def duck_gain(amount: np.ndarray, s: DuckSettings) -> np.ndarray:
    """(frames,) float32 gain applied to every stem: 1 outside speech, -depth_db under it."""
    return (10.0 ** (-s.depth_db * amount / 20.0)).astype(np.float32)


def presence_dip(stem: np.ndarray, amount: np.ndarray, sample_rate: int, s: DuckSettings) -> np.ndarray:
    """Cut 1-4 kHz of a (ch, frames) stem by dip_db where `amount` is 1, fading with it; IN PLACE.

    A zero-phase band-pass (forward-backward) isolates the band without shifting its phase, so
    subtracting a share of it is a clean band cut with no comb effects. Each stretch where
    `amount` is non-zero (plus a margin for the filter to settle) is filtered on its own.
    """
    active = amount > 0
    if not active.any():
        return stem
    edges = np.flatnonzero(np.diff(np.concatenate([[False], active, [False]]).astype(np.int8)))
    nyq = 0.5 * sample_rate
    hi = min(s.dip_band_hz[1], 0.95 * nyq)
    lo = min(s.dip_band_hz[0], 0.5 * hi)
    sos = signal.butter(2, [lo / nyq, hi / nyq], "bandpass", output="sos")
    k = 1.0 - 10.0 ** (-s.dip_db / 20.0)
    margin = int(0.05 * sample_rate)
    for start, stop in zip(edges[::2], edges[1::2]):  # each ducked stretch [start, stop)
        i0, i1 = max(0, start - margin), min(stem.shape[1], stop + margin)
        band = signal.sosfiltfilt(sos, stem[:, i0:i1], axis=1)
        stem[:, i0:i1] -= ((k * amount[i0:i1])[None, :] * band).astype(np.float32)
    return stem
