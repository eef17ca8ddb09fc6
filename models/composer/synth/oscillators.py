"""Alias-free oscillators: band-limited wavetables with a filter axis, FM pairs, Karplus–Strong.

Subtractive voices (saw/square through a resonant 24 dB/oct low-pass) are rendered as additive
wavetables: each table holds only harmonics below 0.45 * sample rate (so nothing folds back), with
the ladder filter's magnitude response applied per harmonic. A bank holds one table per cutoff
frequency; a cutoff envelope moves smoothly between them. That gives a filter sweep at the cost of
two table look-ups per sample, with no recursive filter to run sample by sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import signal

TABLE_SIZE = 2048  # samples per cycle; holds up to 1023 harmonics
NYQUIST_USE = 0.45  # highest partial allowed, as a fraction of the sample rate


def ladder_magnitude(freq_hz: np.ndarray, cutoff_hz: np.ndarray, resonance: float) -> np.ndarray:
    """|H| of a 4-pole (24 dB/oct) ladder low-pass with feedback 4*resonance, unit gain at DC."""
    s = 1j * freq_hz / cutoff_hz
    k = 4.0 * resonance  # 4.0 would self-oscillate
    return np.abs((1.0 + k) / ((1.0 + s) ** 4 + k))


def harmonic_amplitudes(wave: str, k: np.ndarray) -> np.ndarray:
    """Sine-series coefficients of a waveform, harmonics k = 1..K (k: (K,) float)."""
    if wave == "saw":
        return 1.0 / k
    if wave == "square":
        return np.where(k % 2 == 1, 1.0 / k, 0.0)
    if wave == "triangle":  # odd harmonics 1/k^2 with alternating sign
        sign = np.where(((k - 1) / 2) % 2 == 0, 1.0, -1.0)
        return np.where(k % 2 == 1, sign / k**2, 0.0) * (8 / np.pi**2)
    if wave == "sine":
        return np.where(k == 1, 1.0, 0.0)
    if wave == "subsine":  # sine with a touch of 2nd and 3rd harmonic: audible on small speakers
        return np.select([k == 1, k == 2, k == 3], [1.0, 0.22, 0.06], 0.0)
    if wave == "hammer":  # a string struck at 1/7 of its length (missing 7th, 14th, ...)
        return np.abs(np.sin(np.pi * k / 7.0)) / k**1.1
    if wave == "reed":  # mostly odd harmonics, softer highs: a warm organ/lead colour
        return np.where(k % 2 == 1, 1.0 / k, 0.35 / k) / np.sqrt(k)
    raise ValueError(f"unknown waveform {wave!r}")


@dataclass(frozen=True)
class TableBank:
    """Single-cycle tables of one note, one per cutoff. tables: (M, TABLE_SIZE + 1) float32."""

    tables: np.ndarray  # last column repeats the first, so look-ups need no wrap
    log_cutoffs: np.ndarray  # (M,) natural log of each table's cutoff in Hz, ascending


def make_bank(
    f0_hz: float,
    sample_rate: int,
    wave: str,
    cutoffs_hz: np.ndarray,
    resonance: float = 0.0,
    max_pitch_ratio: float = 1.02,
    band: float = NYQUIST_USE,
) -> TableBank:
    """Tables for a note of fundamental f0, band-limited for pitch up to f0 * max_pitch_ratio:
    no partial above band * sample_rate."""
    n_harm = int(band * sample_rate / (f0_hz * max_pitch_ratio))
    n_harm = max(1, min(TABLE_SIZE // 2 - 1, n_harm))
    k = np.arange(1, n_harm + 1, dtype=np.float64)  # (K,)
    amp = harmonic_amplitudes(wave, k)
    cut = np.atleast_1d(np.asarray(cutoffs_hz, dtype=np.float64))  # (M,)
    gain = ladder_magnitude(k[None, :] * f0_hz, cut[:, None], resonance)  # (M, K)
    spec = np.zeros((len(cut), TABLE_SIZE // 2 + 1), dtype=np.complex128)
    spec[:, 1 : n_harm + 1] = -0.5j * TABLE_SIZE * amp[None, :] * gain  # irfft -> sum a_k sin
    tables = sfft.irfft(spec, n=TABLE_SIZE, axis=1)  # (M, T)
    tables = np.concatenate([tables, tables[:, :1]], axis=1).astype(np.float32)
    return TableBank(tables, np.log(cut))


PHASE_BITS = 32  # phase accumulators are uint32: a full cycle is 2**32, wrap-around is free
_FRAC_BITS = PHASE_BITS - int(np.log2(TABLE_SIZE))  # low bits: position between table samples
_FRAC_SCALE = np.float32(1.0 / (1 << _FRAC_BITS))


_RAMP_LEN = 1 << 21  # 43 s at 48 kHz: longer notes build their own ramp


@lru_cache(maxsize=1)
def _ramp() -> np.ndarray:
    ramp = np.arange(_RAMP_LEN, dtype=np.uint32)
    ramp.setflags(write=False)  # shared between calls: read-only
    return ramp


def phase_constant(n: int, f0_hz: float, sample_rate: int, phase0: float = 0.0) -> np.ndarray:
    """(n,) uint32 phase accumulator (2**32 = one cycle) for a steady pitch.

    Fixed point: exact for any note length, and cheaper than float phase with a modulo.
    """
    inc = np.uint32(int(round(f0_hz / sample_rate * 2.0**PHASE_BITS)) & 0xFFFFFFFF)
    start = np.uint32(int(phase0 % 1.0 * 2.0**PHASE_BITS) & 0xFFFFFFFF)
    ramp = _ramp() if n <= _RAMP_LEN else np.arange(n, dtype=np.uint32)
    with np.errstate(over="ignore"):
        return ramp[:n] * inc + start


def read_bank(bank: TableBank, phase: np.ndarray, cutoff_hz: np.ndarray | float | None = None) -> np.ndarray:
    """Look up a bank at a uint32 `phase` and a cutoff (Hz, per sample or constant). -> (n,) float32.

    Linear interpolation along the cycle and between neighbouring cutoff tables.
    """
    i0 = (phase >> np.uint32(_FRAC_BITS)).astype(np.intp)
    frac = (phase & np.uint32((1 << _FRAC_BITS) - 1)).astype(np.float32) * _FRAC_SCALE
    m = len(bank.log_cutoffs)
    if m == 1 or cutoff_hz is None:
        tab = bank.tables[0]
        a = tab[i0]
        return a + frac * (tab[i0 + 1] - a)
    lo, hi = bank.log_cutoffs[0], bank.log_cutoffs[-1]
    lc = np.log(np.clip(cutoff_hz, np.exp(lo), np.exp(hi)))
    level = np.broadcast_to((lc - lo) / (hi - lo) * (m - 1), phase.shape)  # float table index
    j0 = np.minimum(level.astype(np.intp), m - 2)
    w = (level - j0).astype(np.float32)
    flat = bank.tables.ravel()
    base0 = j0 * (TABLE_SIZE + 1) + i0
    a0 = flat[base0]
    y0 = a0 + frac * (flat[base0 + 1] - a0)
    base1 = base0 + (TABLE_SIZE + 1)
    a1 = flat[base1]
    y1 = a1 + frac * (flat[base1 + 1] - a1)
    return y0 + w * (y1 - y0)


def vibrato_phase(
    n: int, f0_hz: float, sample_rate: int, phase0: float, depth: float, rate_hz: float, lfo_phase: float,
    delay_s: float = 0.0, fade_s: float = 0.3,
) -> np.ndarray:
    """(n,) uint32 phase of f0 * (1 + d(t) sin(2 pi rate t + lfo_phase)), where the depth d(t)
    is 0 until `delay_s`, then fades in linearly to `depth` over `fade_s`.

    The integral of the sine, -f0 d cos(.) / (2 pi rate) cycles, is added to a steady accumulator
    (d treated as locally constant: it changes over several LFO cycles), which avoids a float
    cumulative sum over the whole note.
    """
    phase = phase_constant(n, f0_hz, sample_rate, phase0)
    i0 = int(round(delay_s * sample_rate))
    if i0 >= n or depth == 0.0:  # a short note that ends before its vibrato starts
        return phase
    t = np.arange(i0, n, dtype=np.float32) * np.float32(1.0 / sample_rate)
    d = np.minimum((t - np.float32(delay_s)) * np.float32(1.0 / max(fade_s, 1e-3)), 1.0) * np.float32(depth)
    wobble = (np.float32(-f0_hz / (2 * np.pi * rate_hz)) * d
              * np.cos(np.float32(2 * np.pi * rate_hz) * t + np.float32(lfo_phase)))
    # Two's-complement wrap of the int64 cast = the offset modulo one cycle.
    offset = (wobble * np.float32(2.0**PHASE_BITS)).astype(np.int64).astype(np.uint32)
    with np.errstate(over="ignore"):
        phase[i0:] += offset
    return phase


_TO_RADIANS = np.float32(2 * np.pi / 2.0**PHASE_BITS)


def sine(phase: np.ndarray) -> np.ndarray:
    """sin of a uint32 phase accumulator, (n,) float32."""
    return np.sin(phase.astype(np.float32) * _TO_RADIANS)


def fm_index_limit(f0_hz: float, ratio: float, sample_rate: int, max_hz: float | None = None) -> float:
    """Largest modulation index whose sidebands above NYQUIST_USE * sample_rate (or `max_hz`, if
    lower: an instrument's own brightness limit) stay under -60 dB.

    Sideband n has amplitude J_n(index) ~ (index / 2)^n / n!. With N sidebands fitting below the
    limit, the index is capped where J_{N+1} = 1e-3 (-60 dB). -1 when even the modulator's first
    sideband would not fit.
    """
    limit = NYQUIST_USE * sample_rate if max_hz is None else min(max_hz, NYQUIST_USE * sample_rate)
    n_fit = int(np.floor((limit - f0_hz) / (ratio * f0_hz)))
    if n_fit < 1:
        return -1.0
    m = n_fit + 1
    return float(2.0 * math.exp((math.log(1e-3) + math.lgamma(m + 1)) / m))  # (1e-3 m!)^(1/m), no overflow


def fm_voice(
    n: int, f0_hz: float, sample_rate: int, ratio: float, index: np.ndarray, phase0: float = 0.0,
    max_hz: float | None = None,
) -> np.ndarray:
    """sin(carrier + index(t) * sin(ratio * carrier)), index capped so no sideband aliases audibly.

    -> (n,) float32. See fm_index_limit for the cap.
    """
    max_index = fm_index_limit(f0_hz, ratio, sample_rate, max_hz)
    carrier = phase_constant(n, f0_hz, sample_rate, phase0)
    if max_index <= 0.0:  # the modulator's sidebands would alias: a plain sine
        return sine(carrier)
    index = np.minimum(np.asarray(index, dtype=np.float32), np.float32(max_index))
    if float(ratio).is_integer():  # an exact multiple of the carrier's accumulator: no drift
        with np.errstate(over="ignore"):
            mod_phase = carrier * np.uint32(int(ratio))
    else:
        mod_phase = phase_constant(n, f0_hz * ratio, sample_rate, phase0 * ratio)
    return np.sin(carrier.astype(np.float32) * _TO_RADIANS + index * sine(mod_phase))


def karplus_strong_loop(f0_hz: float, sample_rate: int, n: int, decay_s: float) -> np.ndarray:
    """Impulse response (n,) float32 of a tuned Karplus–Strong string loop.

    y[m] = x[m] + g * (c0 y[m-P] + c1 y[m-P-1] + c2 y[m-P-2]): the two-point average of the
    classic algorithm combined with a linear-interpolation fractional delay, so the loop delay is
    P + 0.5 + d samples for exact tuning. Every tap reaches at least P samples back, so a block
    of P samples depends only on earlier blocks and is computed in one vectorised step.
    """
    period = sample_rate / f0_hz
    p = max(2, int(np.floor(period - 0.5)))
    d = period - 0.5 - p
    c = 0.5 * np.array([1.0 - d, 1.0, d])  # lags P, P+1, P+2
    g = 10.0 ** (-3.0 / max(decay_s * f0_hz, 1.0))  # -60 dB after decay_s
    pad = p + 2
    y = np.zeros(pad + n, dtype=np.float64)
    y[pad] = 1.0  # the impulse; x is zero elsewhere
    m0 = pad
    while m0 < pad + n:
        m1 = min(m0 + p, pad + n)
        L = m1 - m0
        fb = (c[0] * y[m0 - p : m0 - p + L] + c[1] * y[m0 - p - 1 : m0 - p - 1 + L]
              + c[2] * y[m0 - p - 2 : m0 - p - 2 + L])
        y[m0:m1] += g * fb
        m0 = m1
    return y[pad:].astype(np.float32)


def pluck_excitation(f0_hz: float, sample_rate: int, rng: np.random.Generator, brightness: float) -> np.ndarray:
    """One period of low-passed noise with a pick-position comb: the string's initial shape."""
    p = max(2, int(round(sample_rate / f0_hz)))
    x = rng.uniform(-1.0, 1.0, p)
    coef = np.clip(1.0 - brightness, 0.0, 0.95)  # one-pole low-pass: darker = softer pick
    x = signal.lfilter([1.0 - coef], [1.0, -coef], x)
    pick = max(1, p // 5)
    x[pick:] -= x[:-pick]  # comb from the pick point
    return (x - x.mean()).astype(np.float32)
