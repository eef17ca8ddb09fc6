"""Measuring level: BS.1770 integrated loudness (pyloudnorm) and true peak (4x oversampled)."""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy import signal

OVERSAMPLE = 4  # ITU-R BS.1770-4 Annex 2: 4x oversampling for true peak at 48 kHz
SILENCE_LUFS = -70.0  # BS.1770's absolute gate: below this there is nothing to measure


def integrated_loudness(x: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of a (channels, frames) signal; -inf for silence.

    Shorter than one 400 ms gating block, the signal is measured looped to one block: a loop has
    the loudness of the signal itself, and a short clip still gets a level.
    """
    block = int(0.4 * sample_rate)
    frames = x.shape[1]
    if frames == 0:
        return float("-inf")
    if frames <= block:
        x = np.tile(x, (1, block // frames + 2))
    meter = pyloudnorm.Meter(sample_rate)
    with np.errstate(divide="ignore"):
        value = meter.integrated_loudness(np.ascontiguousarray(x.T, dtype=np.float64))
    return float(value) if np.isfinite(value) else float("-inf")


def true_peak_per_frame(x: np.ndarray) -> np.ndarray:
    """(frames,) float32: the largest |sample| of the 4x oversampled signal around each frame,
    over all channels (the limiter's detector)."""
    up = signal.resample_poly(x, OVERSAMPLE, 1, axis=1)  # (channels, 4 * frames)
    frames = x.shape[1]
    peaks = np.abs(up[:, : frames * OVERSAMPLE]).reshape(x.shape[0], frames, OVERSAMPLE).max(axis=(0, 2))
    return np.maximum(peaks, np.abs(x).max(axis=0)).astype(np.float32)


def true_peak_dbtp(x: np.ndarray) -> float:
    """True peak in dBTP of a (channels, frames) signal; -inf when silent."""
    if x.size == 0:
        return float("-inf")
    peak = float(true_peak_per_frame(x).max())
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")
