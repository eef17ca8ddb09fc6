"""Stem effects: panning, the shared reverb, a tempo-synced delay, filters.

The reverb is a convolution with a generated impulse response (stereo decaying noise, darker as it
decays). It is shared in the sense of one room for every stem; but each stem's send is convolved
separately and its return added into that stem, so the stems still sum exactly to the mix.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import signal


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan, -1 (left) .. 1 (right), scaled so the centre is unity on each side."""
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4.0
    return float(np.cos(angle) * np.sqrt(2.0)), float(np.sin(angle) * np.sqrt(2.0))


def butter_sos(order: int, kind: str, freqs_hz, sample_rate: int) -> np.ndarray:
    """Butterworth sections with edges kept inside (0, 0.95 Nyquist), so every preset still
    designs at low sample rates (a 7 kHz hat filter at 16 kHz becomes 7.6 kHz...). A band whose
    low edge no longer fits below its high edge keeps an octave under it."""
    top = 0.95 * 0.5 * sample_rate
    if kind == "bandpass":
        lo, hi = freqs_hz
        hi = min(hi, top)
        lo = min(lo, 0.5 * hi)
        wn = [lo / (0.5 * sample_rate), hi / (0.5 * sample_rate)]
    else:
        wn = min(float(freqs_hz), top) / (0.5 * sample_rate)
    return signal.butter(order, wn, kind, output="sos")


@lru_cache(maxsize=32)
def filter_sos(kind: str, cutoff_hz: float, sample_rate: int, order: int = 2) -> np.ndarray:
    """Float32 sections (second-order sections stay accurate in float32), so filtering a float32
    stem runs in float32 and allocates no float64 copy of it."""
    return butter_sos(order, kind, cutoff_hz, sample_rate).astype(np.float32)


FILTER_CHUNK = 1 << 19  # frames filtered per step (the state carries over: the same result as at once)


def _filtered(sos: np.ndarray, x: np.ndarray, check, out: np.ndarray | None = None) -> np.ndarray:
    """sosfilt along the last axis a chunk at a time, calling `check` (which raises when the job
    is cancelled) between chunks: a long stem's filter is seconds of work. Into `out` (float32,
    x's shape; it may be `x` itself: each chunk is read before it is written) or a new array."""
    n = x.shape[-1]
    if n <= FILTER_CHUNK:
        y = signal.sosfilt(sos, x, axis=-1).astype(np.float32, copy=False)
        if out is None:
            return y
        out[...] = y
        return out
    if out is None:
        out = np.empty(x.shape, dtype=np.float32)
    zi = np.zeros((sos.shape[0], *x.shape[:-1], 2), dtype=np.result_type(sos, x))  # as sosfilt computes it whole
    for i in range(0, n, FILTER_CHUNK):
        check()
        y, zi = signal.sosfilt(sos, x[..., i : i + FILTER_CHUNK], axis=-1, zi=zi)
        out[..., i : i + FILTER_CHUNK] = y
    return out


def highpass(x: np.ndarray, cutoff_hz: float, sample_rate: int, order: int = 2, check=lambda: None,
             out: np.ndarray | None = None) -> np.ndarray:
    return _filtered(filter_sos("highpass", cutoff_hz, sample_rate, order), x, check, out)


def lowpass(x: np.ndarray, cutoff_hz: float, sample_rate: int, order: int = 2, check=lambda: None) -> np.ndarray:
    return _filtered(filter_sos("lowpass", cutoff_hz, sample_rate, order), x, check)


REVERB_DECAY_S = 2.2  # RT60 of the room: a medium hall, long enough to glue, short enough to stay clear
REVERB_PREDELAY_S = 0.02
SEND_LOWCUT_HZ = 200.0  # no low end into the room: keeps bass and kick dry and tight


@lru_cache(maxsize=4)
def reverb_ir(sample_rate: int) -> np.ndarray:
    """(2, L) float32 impulse response: pre-delay, 30 ms build-up, frequency-dependent decay.

    Three bands of noise decay at different rates (highs die faster, as air and walls absorb them),
    the send's low-cut is folded in, and each channel has unit energy.
    """
    rng = np.random.default_rng(1234)  # fixed: the room is part of the instrument, not the seed
    length = int((REVERB_DECAY_S * 1.15 + REVERB_PREDELAY_S) * sample_rate)
    pre = int(REVERB_PREDELAY_S * sample_rate)
    t = np.arange(length - pre) / sample_rate
    bands = [("lowpass", 1200.0, 1.0), ("bandpass", (1200.0, 5000.0), 0.75), ("highpass", 5000.0, 0.45)]
    chans = []
    for _ in range(2):
        tail = np.zeros(len(t))
        for kind, cut, rt_scale in bands:
            sos = butter_sos(2, kind, cut, sample_rate)
            band = signal.sosfilt(sos, rng.standard_normal(len(t)))
            tail += band * 10.0 ** (-3.0 * t / (REVERB_DECAY_S * rt_scale))  # -60 dB at RT60 * scale
        build = np.minimum(t / 0.03, 1.0)  # diffusion builds up over the first 30 ms
        tail *= 0.5 - 0.5 * np.cos(np.pi * build)
        nf = int(0.2 * sample_rate)  # end of the IR: a fade so its truncation is inaudible
        tail[-nf:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, nf + 1) / nf)
        chans.append(np.concatenate([np.zeros(pre), tail]))
    ir = np.stack(chans)
    ir = signal.sosfilt(butter_sos(2, "highpass", SEND_LOWCUT_HZ, sample_rate), ir, axis=1)
    ir /= np.sqrt((ir**2).sum(axis=1, keepdims=True))
    return ir.astype(np.float32)


OLA_FFT_PER_IR = 4  # FFT length ~ 4 IR lengths: each FFT yields 3 IR lengths of output
OLA_BLOCKS_PER_CHUNK = 4  # FFT blocks transformed together: bounds memory on long segments


@lru_cache(maxsize=8)
def _ir_blocks(sample_rate: int) -> tuple[int, int, np.ndarray]:
    """(nfft, hop, IR spectrum (2, nfft//2+1) complex64) for overlap-add convolution."""
    ir = reverb_ir(sample_rate)
    nfft = sfft.next_fast_len(OLA_FFT_PER_IR * ir.shape[1], real=True)
    spectrum = sfft.rfft(ir, n=nfft, axis=1)
    spectrum.setflags(write=False)  # shared between calls and threads
    return nfft, nfft - ir.shape[1] + 1, spectrum


def reverb_return(stem: np.ndarray, send: float, sample_rate: int, check=lambda: None) -> np.ndarray:
    """(2, n) float32 wet signal for a (2, n) stem sent at `send` (0..1), cut at n frames.

    Overlap-add FFT convolution of the mono send with the stereo room: per block one forward FFT
    and two inverse ones, the room's spectrum cached, memory bounded whatever the length.
    """
    n = stem.shape[1]
    if send <= 0.0 or n == 0:
        return np.zeros_like(stem)
    mono = (0.5 * send) * (stem[0] + stem[1])  # (n,)
    nfft, hop, room = _ir_blocks(sample_rate)
    n_blocks = -(-n // hop)
    out = np.zeros((2, n_blocks * hop + nfft), dtype=np.float32)
    for b0 in range(0, n_blocks, OLA_BLOCKS_PER_CHUNK):
        check()  # `check` raises when the job is cancelled: a long stem's room is seconds of work
        b1 = min(n_blocks, b0 + OLA_BLOCKS_PER_CHUNK)
        seg = np.zeros((b1 - b0) * hop, dtype=np.float32)
        part = mono[b0 * hop : b1 * hop]
        seg[: len(part)] = part
        spec = sfft.rfft(seg.reshape(b1 - b0, hop), n=nfft, axis=1)  # (k, F)
        wet = sfft.irfft(spec[:, None, :] * room[None, :, :], n=nfft, axis=2)  # (k, 2, nfft)
        for i, block in enumerate(wet):
            start = (b0 + i) * hop
            out[:, start : start + nfft] += block
    return out[:, :n]


def tempo_delay(stem: np.ndarray, tempo_bpm: float, sample_rate: int, mix: float = 0.22,
                check=lambda: None) -> np.ndarray:
    """Ping-pong echoes (dotted 8th left, quarter right), each darker and quieter: (2, n) float32.

    Added to the dry stem by the caller. A handful of taps, so no feedback loop to run.
    """
    beat = 60.0 / max(tempo_bpm, 30.0)
    n = stem.shape[1]
    mono = stem[0] + stem[1]
    mono *= 0.5  # in place: a full-rate 10-minute stem (a SoundFont's) is 115 MB a channel
    mono = lowpass(mono, 3500.0, sample_rate, check=check)
    out = np.zeros_like(stem)
    taps = [(0.75 * beat, 0, 1.0), (1.0 * beat, 1, 0.8), (1.75 * beat, 0, 0.5), (2.0 * beat, 1, 0.4)]
    for delay_s, ch, g in taps:
        d = int(round(delay_s * sample_rate))
        for i in range(0, n - d, TAP_CHUNK):  # no tap-sized temporary
            j = min(n - d, i + TAP_CHUNK)
            out[ch, d + i : d + j] += (mix * g) * mono[i:j]
    return out


TAP_CHUNK = 1 << 20  # frames of an echo added per step
