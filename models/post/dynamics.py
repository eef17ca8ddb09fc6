"""Gain envelopes computed on the mix: a gentle bus compressor and a look-ahead peak limiter.

Both return a gain curve rather than processed audio, so post-processing multiplies every stem by
the same curve and the stems keep summing exactly to the mix.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CONTROL_HZ = 200  # compressor gain computed every 5 ms, then interpolated per sample


def compressor_gain(
    mix: np.ndarray,
    sample_rate: int,
    threshold_db: float,
    ratio: float = 2.0,
    knee_db: float = 6.0,
    attack_s: float = 0.03,
    release_s: float = 0.25,
) -> np.ndarray:
    """(frames,) float32 gain of a feed-forward RMS compressor (soft knee) on a (ch, frames) mix.

    Slow attack lets transients through (punch survives); the loop runs at the 200 Hz control
    rate, so a 10-minute mix costs 120 000 cheap iterations.
    """
    frames = mix.shape[1]
    hop = max(1, sample_rate // CONTROL_HZ)
    power = (mix.astype(np.float64) ** 2).mean(axis=0)  # (frames,)
    win = 6 * hop  # 30 ms RMS window
    rms = ndimage.uniform_filter1d(power, win, mode="nearest")[::hop]
    level = 10.0 * np.log10(np.maximum(rms, 1e-12))  # (k,) dBFS
    over = level - threshold_db
    # Soft knee: quadratic through the knee, (1 - 1/ratio) dB of reduction per dB above it.
    slope = 1.0 - 1.0 / ratio
    want = np.where(
        over <= -knee_db / 2, 0.0,
        np.where(over >= knee_db / 2, slope * over, slope * (over + knee_db / 2) ** 2 / (2 * knee_db)),
    )
    a_att = np.exp(-1.0 / (attack_s * CONTROL_HZ))
    a_rel = np.exp(-1.0 / (release_s * CONTROL_HZ))
    smooth = np.empty_like(want)
    g = 0.0
    for i, w in enumerate(want.tolist()):
        g = a_att * g + (1 - a_att) * w if w > g else a_rel * g + (1 - a_rel) * w
        smooth[i] = g
    t_ctrl = np.arange(len(smooth)) * hop
    reduction = np.interp(np.arange(frames), t_ctrl, smooth)
    return (10.0 ** (-reduction / 20.0)).astype(np.float32)


LIMITER_BLOCK = 16  # frames per detector block: the gain curve is computed at 1/16 the rate


def limiter_gain(
    peaks: np.ndarray, ceiling: float, sample_rate: int, lookahead_s: float = 0.004, release_db_per_s: float = 30.0
) -> np.ndarray:
    """(frames,) float32 gain that keeps `peaks * gain <= ceiling` everywhere, with no jumps.

    `peaks` is the per-frame true peak of the signal. Two stages:
    - release: after a peak the gain recovers at `release_db_per_s`. In dB of reduction this is
      R[k] = max(G[k], R[k-1] - rate): with G + rate*k that is a running maximum, so one
      np.maximum.accumulate does it, no loop.
    - look-ahead: the curve is min-filtered over +-lookahead and then averaged over the same
      window; every average then only includes values no larger than the need at its centre, so
      the ceiling holds, and the gain glides down over the look-ahead instead of jumping.
    It runs on blocks of LIMITER_BLOCK frames (each block's need: the smallest over it and its
    neighbours) and is interpolated back: between two block values, a frame only sees values that
    are each at most its own need, so the ceiling still holds.
    """
    frames = len(peaks)
    nb = -(-frames // LIMITER_BLOCK)
    padded = np.pad(peaks.astype(np.float64), (0, nb * LIMITER_BLOCK - frames), mode="edge")
    need = np.minimum(1.0, ceiling / np.maximum(padded.reshape(nb, LIMITER_BLOCK).max(axis=1), 1e-12))
    need = ndimage.minimum_filter1d(need, 3, mode="nearest")  # neighbours: see the docstring
    block_rate = sample_rate / LIMITER_BLOCK
    step_db = release_db_per_s / block_rate
    ramp = np.arange(nb) * step_db
    reduction_db = np.maximum.accumulate(-20.0 * np.log10(need) + ramp) - ramp  # >= the need's
    gain = 10.0 ** (-reduction_db / 20.0)
    size = 2 * max(1, int(round(lookahead_s * block_rate))) + 1
    gain = ndimage.uniform_filter1d(ndimage.minimum_filter1d(gain, size, mode="nearest"), size, mode="nearest")
    centres = (np.arange(nb) + 0.5) * LIMITER_BLOCK - 0.5
    curve = np.interp(np.arange(frames), centres, np.minimum(gain, need))
    need_frame = np.minimum(1.0, ceiling / np.maximum(peaks.astype(np.float64), 1e-12))
    return np.minimum(curve, need_frame).astype(np.float32)  # guards the last float rounding
