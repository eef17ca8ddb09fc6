"""How wide and how bright a stereo mix is: the measures the width bench and tests judge by.

All take a (2, frames) float array at `sample_rate`:
- correlation: Pearson's r between left and right (what a studio correlation meter shows: +1 mono,
  0 unrelated, -1 out of polarity), over the whole piece and over 4 s windows;
- side/mid: energy of S = (L - R) / 2 against M = (L + R) / 2, in dB;
- mono fold-down: the level of (L + R) / 2 against the mean level of L and R, in dB (0 for a
  mono signal, -3 for unrelated channels, -inf for opposite ones);
- low-band correlation: r of both channels low-passed at 150 Hz (8th order, forward and back),
  where bass and kick live; and r of what lies above it, the width a listener hears (a mix's
  power is mostly below 150 Hz, so its whole-band r is mostly the low end's);
- spectral centroid: the magnitude-weighted mean frequency of 2048-point frames (hop 512) of the
  mono fold-down, averaged over the frames that are playing (within 60 dB of the loudest), as
  librosa.feature.spectral_centroid computes it per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

# Where real productions sit, as the tests and the width bench judge the composer (BENCHMARKS.md,
# "Stereo width and tonal balance", says where each figure comes from). Studio correlation meters'
# makers put normal stereo mixes at r 0.3-0.7 and call 0.4-0.8 healthy; a whole-band r is mostly
# the low end's (most of a mix's power lies below 150 Hz, and that band is mono by design),
# so the width is judged above 150 Hz, and the low band must stay mono.
HIGH_CORRELATION_MAX = 0.7  # above 150 Hz: the parts a listener hears as wide must be decorrelated
LOW_CORRELATION_MIN = 0.98  # below 150 Hz: bass and kick in mono
LOW_MONO_LOSS_MIN_DB = -0.1  # ... so a mono fold-down keeps the low end's level
MONO_LOSS_MIN_DB = -1.5  # the whole mix folded to mono loses at most this much (r ~0.4 at equal levels)
# Spectral centroid (the meter below) per style: ~1.2 kHz reads as low-end dominant, ~2.5 kHz as
# balanced, ~4 kHz as bright; soundtracks and lo-fi sit darker than pop and corporate, electronic
# a little brighter. Our ranges, from those anchors: the references themselves are not here.
CENTROID_RANGE_HZ = {
    "cinematic": (900.0, 2500.0), "ambient": (800.0, 2200.0), "lofi": (1000.0, 2300.0),
    "acoustic_pop": (1800.0, 3200.0), "corporate": (1800.0, 3500.0), "electronic": (2000.0, 4000.0),
}
WINDOW_S = 4.0  # the windows correlation is also read over: a few bars, as a meter's needle moves
LOW_BAND_HZ = 150.0  # below this a mix should be (nearly) mono
CENTROID_FFT = 2048
CENTROID_HOP = 512
CENTROID_FLOOR_DB = 60.0  # frames quieter than the loudest by more than this are silence, not music


@dataclass(frozen=True)
class StereoImage:
    correlation: float  # whole piece, -1..1
    window_correlation: tuple[float, float, float]  # over 4 s windows: 10th percentile, median, 90th
    side_to_mid_db: float  # S energy over M energy, dB (-inf: mono)
    mono_loss_db: float  # (L+R)/2 level minus the mean channel level, dB (<= 0 for r >= -1)
    low_correlation: float  # r below LOW_BAND_HZ
    high_correlation: float  # r above LOW_BAND_HZ
    low_share: float  # the part of the power below LOW_BAND_HZ, 0..1
    low_mono_loss_db: float  # the mono fold-down loss below LOW_BAND_HZ
    centroid_hz: float  # mean spectral centroid of the playing frames


def correlation(x: np.ndarray) -> float:
    """Pearson's r of the two channels of (2, n); 1.0 for silence (nothing to tell apart)."""
    x = np.asarray(x, dtype=np.float64)
    left, right = x[0] - x[0].mean(), x[1] - x[1].mean()
    denom = np.sqrt(np.dot(left, left) * np.dot(right, right))
    return float(np.dot(left, right) / denom) if denom > 0 else 1.0


def window_correlations(x: np.ndarray, sample_rate: int, window_s: float = WINDOW_S) -> np.ndarray:
    """(k,) r of each whole window of `window_s` that is not silent."""
    w = int(window_s * sample_rate)
    out = []
    for i in range(0, x.shape[1] - w + 1, w):
        seg = x[:, i : i + w]
        if np.abs(seg).max(initial=0.0) > 1e-6:
            out.append(correlation(seg))
    return np.asarray(out)


def mono_loss_db(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    both = 0.5 * (np.dot(x[0], x[0]) + np.dot(x[1], x[1]))
    mid = 0.5 * (x[0] + x[1])
    folded = np.dot(mid, mid)
    if both <= 0:
        return 0.0
    return float(10.0 * np.log10(max(folded, 1e-30) / both))


def side_to_mid_db(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    mid, side = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
    m, s = np.dot(mid, mid), np.dot(side, side)
    if s <= 0:
        return float("-inf")
    return float(10.0 * np.log10(s / max(m, 1e-30)))


def low_band(x: np.ndarray, sample_rate: int, cutoff_hz: float = LOW_BAND_HZ) -> np.ndarray:
    sos = signal.butter(8, cutoff_hz, "lowpass", fs=sample_rate, output="sos")  # forward and back: 96 dB/octave
    return signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=1)


def spectral_centroid(x: np.ndarray, sample_rate: int) -> float:
    """Mean magnitude-weighted centroid (Hz) of the playing frames of the mono fold-down."""
    mono = 0.5 * np.asarray(x, dtype=np.float64).sum(axis=0) if np.ndim(x) == 2 else np.asarray(x, np.float64)
    _, _, spec = signal.stft(mono, sample_rate, window="hann", nperseg=CENTROID_FFT,
                             noverlap=CENTROID_FFT - CENTROID_HOP, boundary=None, padded=False)
    mag = np.abs(spec)  # (bins, frames)
    freqs = np.fft.rfftfreq(CENTROID_FFT, 1.0 / sample_rate)
    total = mag.sum(axis=0)
    energy = (mag**2).sum(axis=0)
    playing = energy > energy.max(initial=0.0) * 10.0 ** (-CENTROID_FLOOR_DB / 10.0)
    if not playing.any():
        return 0.0
    centroids = (freqs[:, None] * mag[:, playing]).sum(axis=0) / total[playing]
    return float(centroids.mean())


def measure(x: np.ndarray, sample_rate: int) -> StereoImage:
    """Every measure of a (2, frames) mix."""
    windows = window_correlations(x, sample_rate)
    x = np.asarray(x, dtype=np.float64)
    low = low_band(x, sample_rate)
    high = x - low
    power = float((x**2).sum())
    p10, p50, p90 = np.percentile(windows, [10, 50, 90]) if len(windows) else (np.nan,) * 3
    return StereoImage(
        correlation=correlation(x), window_correlation=(float(p10), float(p50), float(p90)),
        side_to_mid_db=side_to_mid_db(x), mono_loss_db=mono_loss_db(x), low_correlation=correlation(low),
        high_correlation=correlation(high), low_share=float((low**2).sum()) / power if power > 0 else 0.0,
        low_mono_loss_db=mono_loss_db(low), centroid_hz=spectral_centroid(x, sample_rate),
    )
