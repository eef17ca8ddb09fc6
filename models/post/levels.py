"""Measuring level: BS.1770 integrated loudness and true peak (4x oversampled).

`integrated_loudness` is pyloudnorm's (the maintained reference implementation), used for every
reported number. `GainLoudness` is a fast estimate of the same measure for a signal under a
changing gain curve, used only while searching for the gain that meets the target: it K-weights
the signal once, then each trial gain costs a multiply and a few sums.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyloudnorm
from scipy import signal

from ..interface import check_cancelled
from .parallel import map_ordered

OVERSAMPLE = 4  # ITU-R BS.1770-4 Annex 2: 4x oversampling for true peak at 48 kHz
SILENCE_LUFS = -70.0  # BS.1770's absolute gate: below this there is nothing to measure
BLOCK_S = 0.4  # gating block
HOP_S = 0.1  # 75% overlap


PYLOUDNORM_MAX_S = 180.0  # longer signals are measured by GainLoudness (same filters and gating,
# chunked): pyloudnorm works on float64 copies of the whole signal, ~1.4 GB for 10 minutes


def integrated_loudness(x: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of a (channels, frames) signal; -inf for silence.

    Shorter than one 400 ms gating block, the signal is measured looped to one block: a loop has
    the loudness of the signal itself, and a short clip still gets a level.
    """
    block = int(BLOCK_S * sample_rate)
    frames = x.shape[1]
    if frames == 0:
        return float("-inf")
    if frames > PYLOUDNORM_MAX_S * sample_rate:
        return GainLoudness(x, sample_rate).lufs(1.0)
    x = np.asarray(x[:, :])  # post-processing's mix view (a sum read span by span) made whole
    if frames <= block:
        x = np.tile(x, (1, block // frames + 2))
    meter = pyloudnorm.Meter(sample_rate)
    with np.errstate(divide="ignore"):
        value = meter.integrated_loudness(np.ascontiguousarray(x.T, dtype=np.float64))
    return float(value) if np.isfinite(value) else float("-inf")


SUB_S = 0.01  # the estimate keeps K-weighted power per 10 ms: the gain is treated as constant within
CHUNK_SUBS = 2048  # 10 ms sub-blocks filtered per step (20 s): bounded memory


class GainLoudness:
    """Fast BS.1770 estimate of loudness(x * gain) for trial per-frame gain curves.

    K-weighting is linear and short next to how slowly the gain moves, so K(x * g) ~ K(x) * g;
    and within 10 ms the gain is near constant, so only the K-weighted power per 10 ms is kept
    (a few hundred kB for a 10-minute mix).
    """

    def __init__(self, x: np.ndarray, sample_rate: int):
        self.sub = max(1, int(SUB_S * sample_rate))
        self.per_hop = int(round(HOP_S / SUB_S))  # sub-blocks per 100 ms hop
        self.frames = x.shape[1]
        sos = k_weighting_sos(sample_rate).astype(np.float32)
        zi = np.zeros((sos.shape[0], x.shape[0], 2), dtype=np.float32)  # filter state across chunks
        n_sub = -(-self.frames // self.sub)
        self.power = np.zeros(n_sub)  # (n_sub,) K-weighted energy per 10 ms, channels summed
        step = CHUNK_SUBS * self.sub
        for i in range(0, self.frames, step):
            k, zi = signal.sosfilt(sos, x[:, i : i + step], axis=1, zi=zi)  # (ch, <=step) float32
            e = np.einsum("cf,cf->f", k, k)
            e = np.pad(e, (0, -len(e) % self.sub))
            first = i // self.sub
            self.power[first : first + len(e) // self.sub] = e.reshape(-1, self.sub).sum(axis=1, dtype=np.float64)

    def lufs(self, gain) -> float:
        """Loudness of x * gain. `gain`: a number, a (frames,) curve, or a curve made a span at a
        time, `gain(i0, i1) -> (i1 - i0,) float32` (never whole)."""
        energy = self.power * self._mean_square(gain)  # (n_sub,)
        n_hops = len(energy) // self.per_hop
        hop_frames = self.per_hop * self.sub
        if n_hops < 4:
            blocks = np.array([energy.sum() / max(self.frames, 1)])
        else:
            hops = energy[: n_hops * self.per_hop].reshape(n_hops, self.per_hop).sum(axis=1)
            blocks = np.convolve(hops, np.ones(4), "valid") / (4 * hop_frames)  # 400 ms blocks, 100 ms hop
        with np.errstate(divide="ignore"):
            level = -0.691 + 10 * np.log10(blocks)
        gated = blocks[level >= SILENCE_LUFS]
        if len(gated) == 0:
            return float("-inf")
        relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
        gated = blocks[(level > SILENCE_LUFS) & (level > relative)]
        return float(-0.691 + 10 * np.log10(gated.mean()))

    def _mean_square(self, gain) -> np.ndarray | float:
        """Mean of gain**2 per 10 ms sub-block (the last one extended by its final value), a chunk
        at a time: a per-frame float64 copy of a 10-minute curve would be 230 MB. `gain` as lufs
        takes it."""
        if callable(gain):
            span, frames = gain, self.frames
        else:
            g = np.asarray(gain, dtype=np.float32)
            if not g.ndim:
                return float(g) ** 2
            span, frames = (lambda i0, i1: g[i0:i1]), len(g)
        sub, n_sub = self.sub, len(self.power)
        out = np.empty(n_sub)
        full = frames // sub
        step = CHUNK_SUBS
        for i in range(0, full, step):
            j = min(full, i + step)
            part = span(i * sub, j * sub).reshape(j - i, sub).astype(np.float64)
            out[i:j] = np.einsum("ij,ij->i", part, part) / sub
        if full < n_sub:
            tail = span(full * sub, frames).astype(np.float64)
            last = tail[-1] if len(tail) else (span(frames - 1, frames)[0] if frames else 1.0)
            out[full:] = (np.dot(tail, tail) + (sub - len(tail)) * last * last) / sub
        return out


@lru_cache(maxsize=8)
def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting (high shelf + RLB high-pass) as second-order sections, any rate."""
    meter = pyloudnorm.Meter(sample_rate)
    sos = [np.concatenate([f.b, f.a]) for f in meter._filters.values()]
    return np.array(sos)


INTERP_TAPS = 81  # 4x interpolation filter: scipy.signal.resample_poly's own design for 4x, so
# this detector reads what a resample_poly-based true-peak meter reads (BS.1770-4 asks for >= 48)
INTERP_DELAY = (INTERP_TAPS - 1) // 2 // OVERSAMPLE  # 10 frames


@lru_cache(maxsize=1)
def _interpolator() -> np.ndarray:
    """(4, 21) polyphase form of the 4x interpolation filter; row p: the taps of phase p."""
    taps = signal.firwin(INTERP_TAPS, 1.0 / OVERSAMPLE, window=("kaiser", 5.0)) * OVERSAMPLE
    taps = np.pad(taps, (0, -len(taps) % OVERSAMPLE))
    return taps.reshape(-1, OVERSAMPLE).T.astype(np.float32)


def true_peak_per_frame(x: np.ndarray, gain=None, chunk: int = 1 << 19, cancel=None) -> np.ndarray:
    """(frames,) float32: the largest |value| of `x * gain` over all channels at each frame and at
    the points between it and the next frame, from 4x polyphase interpolation (the limiter's
    detector). `gain`: None, a (frames,) curve, or one made a span at a time (`gain(i0, i1)`,
    called from several threads). Long signals go a chunk at a time (with the filter's context),
    so `x * gain` is never made whole; the chunks run side by side (models/post/parallel.py)."""
    frames = x.shape[1]
    if gain is None and frames <= chunk:
        return _true_peak_frames(x)
    out = np.empty(frames, dtype=np.float32)
    context = 2 * INTERP_DELAY + 2

    def one_chunk(i: int) -> None:
        check_cancelled(cancel)  # each chunk is a fraction of a second
        i0, i1 = max(0, i - context), min(frames, i + chunk + context)
        seg = x[:, i0:i1] if gain is None else x[:, i0:i1] * (gain(i0, i1) if callable(gain) else gain[i0:i1])
        out[i : min(frames, i + chunk)] = _true_peak_frames(seg)[i - i0 : i - i0 + min(chunk, frames - i)]

    map_ordered(one_chunk, range(0, frames, chunk))
    return out


def _true_peak_frames(x: np.ndarray) -> np.ndarray:
    phases = _interpolator()
    delay = INTERP_DELAY  # phase p of output k + delay is the point k + p/4
    frames = x.shape[1]
    peak = np.abs(x).max(axis=0).astype(np.float32)  # the samples themselves...
    for ch in np.asarray(x, dtype=np.float32):
        for p in range(OVERSAMPLE):  # ...and all four interpolated points (phase 0 included:
            # the filter's own passband ripple moves it a hair off the sample, as meters read it)
            y = np.convolve(ch, phases[p])[delay : delay + frames]
            np.maximum(peak[: len(y)], np.abs(y), out=peak[: len(y)])
    return peak


def _peak_score(x: np.ndarray, estimate: np.ndarray | None, chunk: int = 1 << 20) -> tuple[np.ndarray, float]:
    """Per frame the larger of the sample peak over the channels and `estimate` (written into
    `estimate` when given, else a new array), a chunk at a time; and the largest sample peak."""
    out = np.empty(x.shape[1], dtype=np.float32) if estimate is None else estimate
    top = 0.0
    for i in range(0, x.shape[1], chunk):
        sample_peak = np.abs(x[:, i : i + chunk]).max(axis=0)
        top = max(top, float(sample_peak.max(initial=0.0)))
        if estimate is None:
            out[i : i + chunk] = sample_peak
        else:
            np.maximum(out[i : i + chunk], sample_peak, out=out[i : i + chunk])
    return out, top


SHORT_BLOCK = 64  # frames: blocks up to this long are reduced column by column (the limiter's 16)


def block_max(values: np.ndarray, block: int) -> np.ndarray:
    """(ceil(n / block),) the largest value in each block of `values`; no padded copy."""
    full = len(values) // block
    blocks = values[: full * block].reshape(full, block)
    if block <= SHORT_BLOCK:  # column by column: numpy's max over a short inner axis is ~4x slower
        head = blocks[:, 0].copy()
        for k in range(1, block):
            np.maximum(head, blocks[:, k], out=head)
    else:
        head = blocks.max(axis=1)
    if full * block == len(values):
        return head
    return np.append(head, values[full * block :].max())


def true_peak_dbtp(x: np.ndarray, block: int = 4096, estimate: np.ndarray | None = None) -> float:
    """True peak in dBTP of a (channels, frames) signal; -inf when silent.

    Only blocks that can hold the true peak are interpolated (each with 64 frames of context
    either side): by default those whose sample peak is within 6 dB of the loudest sample
    (inter-sample peaks of music exceed sample peaks by well under that). With `estimate`, a
    per-frame true-peak estimate good to +-0.75 dB (the limiter's detector times the gain curve
    later applied; its array is overwritten), those whose estimate is within 1.5 dB of the largest.
    """
    if x.size == 0:
        return float("-inf")
    frames = x.shape[1]
    # The estimate's own array holds the score (it is overwritten): no third 10-minute curve.
    score, top = _peak_score(x, estimate)  # (frames,), the largest |sample|
    if top <= 0:
        return float("-inf")
    floor = 0.5 * top if estimate is None else float(score.max()) * 10.0 ** (-1.5 / 20.0)
    loud = np.flatnonzero(block_max(score, block) >= floor)
    peak = top
    context = 64  # frames either side, so the filter sees real signal, not a cut, at the edges
    for b in loud:
        i0, i1 = max(0, b * block - context), min(frames, (b + 1) * block + context)
        inner = true_peak_per_frame(x[:, i0:i1])[b * block - i0 : min(frames, (b + 1) * block) - i0]
        peak = max(peak, float(inner.max()))
    return 20.0 * np.log10(peak)


SHORT_TERM_S = 3.0  # EBU Tech 3341/3342 short-term loudness window
LRA_HOP_S = 0.1  # short-term values at 10 Hz, as Tech 3342 asks (at least 10 Hz)
LRA_RELATIVE_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)


def short_term_loudness(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Short-term loudness (LUFS) of a (channels, frames) signal: 3 s windows every 100 ms.

    K-weighted mean square per channel, summed over channels (weights 1: left/right/centre), as
    BS.1770 and EBU Tech 3341 define it. Returns (windows,); empty when x is shorter than 3 s."""
    sos = k_weighting_sos(sample_rate)
    k = signal.sosfilt(sos, np.asarray(x, dtype=np.float64), axis=1)  # (channels, frames)
    hop = int(round(LRA_HOP_S * sample_rate))
    hops = k.shape[1] // hop
    # Power per 100 ms hop, then 30 hops summed: each 3 s window exactly, no float drift.
    power = (k[:, : hops * hop] ** 2).reshape(k.shape[0], hops, hop).sum(axis=(0, 2))  # (hops,)
    per_window = int(round(SHORT_TERM_S / LRA_HOP_S))
    if hops < per_window:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    mean_square = (cumulative[per_window:] - cumulative[:-per_window]) / (per_window * hop)
    return -0.691 + 10.0 * np.log10(np.maximum(mean_square, 1e-30))


def loudness_range(x: np.ndarray, sample_rate: int) -> float:
    """EBU Tech 3342 loudness range (LU): the spread between the 10th and 95th percentiles of the
    short-term loudness, after an absolute gate at -70 LUFS and a relative one 20 LU below the
    (energy) mean of what passed the first. NaN when nothing passes the gates."""
    st = short_term_loudness(x, sample_rate)
    st = st[st > SILENCE_LUFS]
    if len(st) == 0:
        return float("nan")
    mean = 10.0 * np.log10(np.mean(10.0 ** (st / 10.0)))
    st = st[st > mean + LRA_RELATIVE_GATE_LU]
    low, high = np.percentile(st, LRA_PERCENTILES)
    return float(high - low)
