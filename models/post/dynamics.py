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
    n_hops = -(-frames // hop)
    hop_energy = np.zeros(n_hops)
    for i in range(0, n_hops, CHUNK_HOPS):  # per-hop energy, a chunk at a time (bounded memory)
        seg = mix[:, i * hop : (i + CHUNK_HOPS) * hop]
        e = np.einsum("cf,cf->f", seg, seg, dtype=np.float64)
        e = np.pad(e, (0, -len(e) % hop))
        hop_energy[i : i + len(e) // hop] = e.reshape(-1, hop).sum(axis=1)
    # 30 ms RMS window (6 hops) centred on each hop, channel mean.
    rms = ndimage.uniform_filter1d(hop_energy, 6, mode="nearest") / (hop * mix.shape[0])
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
    return _per_frame(10.0 ** (-smooth / 20.0), (np.arange(len(smooth)) + 0.5) * hop - 0.5, frames)


CHUNK_HOPS = 1 << 12  # control hops per chunk when reading the mix
CHUNK_FRAMES = 1 << 20


def _per_frame(values: np.ndarray, at: np.ndarray, frames: int, cap: np.ndarray | None = None) -> np.ndarray:
    """(frames,) float32 linear interpolation of `values` given at frame positions `at`,
    optionally no higher than `cap` (frames,), built a chunk at a time (no float64 full copy)."""
    out = np.empty(frames, dtype=np.float32)
    for i in range(0, frames, CHUNK_FRAMES):
        idx = np.arange(i, min(frames, i + CHUNK_FRAMES), dtype=np.float64)
        out[i : i + len(idx)] = np.interp(idx, at, values)
        if cap is not None:
            np.minimum(out[i : i + len(idx)], cap[i : i + len(idx)], out=out[i : i + len(idx)])
    return out


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
    padded = np.pad(peaks, (0, nb * LIMITER_BLOCK - frames), mode="edge")
    block_peak = padded.reshape(nb, LIMITER_BLOCK).max(axis=1).astype(np.float64)
    need = np.minimum(1.0, ceiling / np.maximum(block_peak, 1e-12))
    need = ndimage.minimum_filter1d(need, 3, mode="nearest")  # neighbours: see the docstring
    block_rate = sample_rate / LIMITER_BLOCK
    step_db = release_db_per_s / block_rate
    ramp = np.arange(nb) * step_db
    reduction_db = np.maximum.accumulate(-20.0 * np.log10(need) + ramp) - ramp  # >= the need's
    gain = 10.0 ** (-reduction_db / 20.0)
    size = 2 * max(1, int(round(lookahead_s * block_rate))) + 1
    gain = ndimage.uniform_filter1d(ndimage.minimum_filter1d(gain, size, mode="nearest"), size, mode="nearest")
    centres = (np.arange(nb) + 0.5) * LIMITER_BLOCK - 0.5
    need_frame = np.minimum(np.float32(1.0), np.float32(ceiling) / np.maximum(peaks, np.float32(1e-12)))
    return _per_frame(np.minimum(gain, need), centres, frames, cap=need_frame)  # cap: the last float rounding
