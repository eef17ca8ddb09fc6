"""Gain envelopes computed on the mix: a gentle bus compressor and a look-ahead peak limiter.

Both return a gain curve rather than processed audio, so post-processing multiplies every stem by
the same curve and the stems keep summing exactly to the mix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ..interface import check_cancelled
from .levels import block_max

CONTROL_HZ = 200  # compressor gain computed every 5 ms, then interpolated per sample
Curve = Callable[[int, int], np.ndarray]  # (i0, i1) -> (i1 - i0,) float32: a gain curve made a span at a time


def compressor_gain(
    mix: np.ndarray,
    sample_rate: int,
    threshold_db: float,
    ratio: float = 2.0,
    knee_db: float = 6.0,
    attack_s: float = 0.03,
    release_s: float = 0.25,
    pre_gain: np.ndarray | None = None,
    cancel=None,
) -> np.ndarray:
    """(frames,) float32 gain of a feed-forward RMS compressor (soft knee) on a (ch, frames) mix,
    as it sounds after `pre_gain` (frames,) when given. compressor_curve's spans made whole."""
    curve = compressor_curve(mix, sample_rate, threshold_db, ratio, knee_db, attack_s, release_s, pre_gain, cancel)
    return _written(curve, mix.shape[1])


def compressor_curve(
    mix: np.ndarray,
    sample_rate: int,
    threshold_db: float,
    ratio: float = 2.0,
    knee_db: float = 6.0,
    attack_s: float = 0.03,
    release_s: float = 0.25,
    pre_gain: np.ndarray | None = None,
    cancel=None,
) -> Curve:
    """compressor_gain as spans (`curve(i0, i1)`: frames i0..i1, the whole curve's bits): the mix
    is read now (a chunk at a time, `pre_gain` applied per chunk), the per-frame curve is never whole.

    Slow attack lets transients through (punch survives); the loop runs at the 200 Hz control
    rate, so a 10-minute mix costs 120 000 cheap iterations.
    """
    frames = mix.shape[1]
    hop = max(1, sample_rate // CONTROL_HZ)
    n_hops = -(-frames // hop)
    hop_energy = np.zeros(n_hops)
    for i in range(0, n_hops, CHUNK_HOPS):  # per-hop energy, a chunk at a time (bounded memory)
        check_cancelled(cancel)
        seg = mix[:, i * hop : (i + CHUNK_HOPS) * hop]
        e = np.einsum("cf,cf->f", seg, seg, dtype=np.float64)
        if pre_gain is not None:
            e *= np.square(pre_gain[i * hop : (i + CHUNK_HOPS) * hop], dtype=np.float64)
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
    return _interpolated(10.0 ** (-smooth / 20.0), (np.arange(len(smooth)) + 0.5) * hop - 0.5)


CHUNK_HOPS = 1 << 12  # control hops per chunk when reading the mix
CHUNK_FRAMES = 1 << 20


def _interpolated(values: np.ndarray, at: np.ndarray, cap: Curve | None = None) -> Curve:
    """The linear interpolation of `values` given at frame positions `at`, optionally no higher
    than `cap(i0, i1)` (that span's ceiling), as spans. Each frame's value is computed on its own,
    so any spans give the same bits as the whole curve."""
    def span(i0: int, i1: int) -> np.ndarray:
        curve = np.interp(np.arange(i0, i1, dtype=np.float64), at, values).astype(np.float32)
        if cap is not None:
            np.minimum(curve, cap(i0, i1), out=curve)
        return curve

    return span


def _written(curve: Curve, frames: int, into: np.ndarray | None = None) -> np.ndarray:
    """(frames,) float32 `curve` made whole a chunk at a time, or multiplied into `into` in place."""
    out = np.empty(frames, dtype=np.float32) if into is None else into
    for i in range(0, frames, CHUNK_FRAMES):
        span = curve(i, min(frames, i + CHUNK_FRAMES))
        if into is None:
            out[i : i + len(span)] = span
        else:
            out[i : i + len(span)] *= span
    return out


LIMITER_BLOCK = 16  # frames per detector block: the gain curve is computed at 1/16 the rate


def limiter_gain(
    peaks: np.ndarray, ceiling: float, sample_rate: int, lookahead_s: float = 0.004, release_db_per_s: float = 30.0,
    into: np.ndarray | None = None,
) -> np.ndarray:
    """(frames,) float32 gain that keeps `peaks * gain <= ceiling` everywhere, with no jumps.
    With `into` (frames,), that array is multiplied by the gain in place and returned (it may
    be `peaks` itself): on a 10-minute mix that saves a 115 MB curve. limiter_curve's spans."""
    return _written(limiter_curve(peaks, ceiling, sample_rate, lookahead_s, release_db_per_s), len(peaks), into)


def limiter_curve(
    peaks: np.ndarray, ceiling: float, sample_rate: int, lookahead_s: float = 0.004, release_db_per_s: float = 30.0,
) -> Curve:
    """limiter_gain as spans: `curve(i0, i1)` is the (i1 - i0,) float32 gain of frames i0..i1
    (the same bits as those frames of the whole curve), so a caller can use a 10-minute curve
    without making it whole. It reads `peaks`, which must not change while it is used.

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
    # Block-rate arrays are float64 (the release ramp accumulates); each is freed once used, as a
    # 10-minute mix has 1.8 million blocks (14 MB an array).
    need = block_max(peaks, LIMITER_BLOCK).astype(np.float64)  # each block's peak, then its need
    nb = len(need)
    np.maximum(need, 1e-12, out=need)
    np.divide(ceiling, need, out=need)
    np.minimum(need, 1.0, out=need)
    need = ndimage.minimum_filter1d(need, 3, mode="nearest")  # neighbours: see the docstring
    block_rate = sample_rate / LIMITER_BLOCK
    step_db = release_db_per_s / block_rate
    ramp = np.arange(nb) * step_db
    gain = np.log10(need)  # becomes the reduction in dB, then the gain
    gain *= -20.0
    gain += ramp
    np.maximum.accumulate(gain, out=gain)
    gain -= ramp  # the reduction, >= the need's
    del ramp
    gain *= -1.0 / 20.0
    np.power(10.0, gain, out=gain)
    size = 2 * max(1, int(round(lookahead_s * block_rate))) + 1
    gain = ndimage.uniform_filter1d(ndimage.minimum_filter1d(gain, size, mode="nearest"), size, mode="nearest")
    np.minimum(gain, need, out=gain)
    del need
    centres = (np.arange(nb) + 0.5) * LIMITER_BLOCK - 0.5
    def need_frame(i0: int, i1: int) -> np.ndarray:  # the last float rounding: each frame's own need
        return np.minimum(np.float32(1.0), np.float32(ceiling) / np.maximum(peaks[i0:i1], np.float32(1e-12)))

    return _interpolated(gain, centres, cap=need_frame)
