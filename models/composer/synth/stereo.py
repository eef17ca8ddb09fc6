"""Stereo width, a mono-compatible low end and the style's tonal balance, on one (2, n) stem.

Width works in mid/side. M = (L + R) / 2 is left exactly as it was, so the mono fold-down of a
stem is the stem without the widening: nothing cancels on a phone speaker. The side gets a
decorrelated copy of the mid: M through a short velvet-noise filter (sparse +-1 taps over 3-30 ms,
decaying, unit energy), the early reflections of a room without its tail. A copy g times as strong
as the mid, in the side, gives a correlation near (1 - g^2) / (1 + g^2) between the channels.
Below LOW_MONO_HZ the side is filtered away, whatever put it there (a panned note, a SoundFont's
stereo sample, the room): bass and kick stay in the centre, where every system reproduces them.

The tone is a high shelf and a gentle top roll-off per stem (pedalboard's filters): how bright
a style sits against the range of real productions is mostly the level of the top octaves.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pedalboard
from scipy import signal

from .mixing import filter_sos

LOW_MONO_HZ = 150.0  # the side is high-passed here (8th order): the low end plays in mono
LOW_MONO_ORDER = 8
DECORRELATOR_S = (0.003, 0.030)  # taps between 3 ms (later than the direct sound) and 30 ms (no echo heard)
DECORRELATOR_TAPS_PER_S = 1500.0  # velvet-noise density: smooth enough to be heard as space, not as taps
DECORRELATOR_DECAY_S = 0.012  # the taps' envelope: each 12 ms quieter by a factor e
SHELF_HZ = 4000.0  # the tone shelf's corner: above it lie hats' sizzle, string noise, pick attack
SHELF_Q = 0.707


@lru_cache(maxsize=32)
def decorrelator(sample_rate: int, salt: int) -> np.ndarray:
    """(L,) float32 velvet-noise filter with unit energy; `salt` picks one of many (per stem)."""
    rng = np.random.default_rng((20_241_204, salt))  # fixed: part of the instrument, not the seed
    start, stop = (int(round(t * sample_rate)) for t in DECORRELATOR_S)
    n_taps = max(2, int(DECORRELATOR_TAPS_PER_S * (DECORRELATOR_S[1] - DECORRELATOR_S[0])))
    grid = np.linspace(start, stop, n_taps + 1)
    where = (grid[:-1] + rng.random(n_taps) * np.diff(grid)).astype(int)  # one tap per grid cell
    h = np.zeros(stop + 1)
    h[where] = rng.choice((-1.0, 1.0), n_taps) * np.exp(-(where - start) / (DECORRELATOR_DECAY_S * sample_rate))
    h /= np.sqrt((h**2).sum())
    return h.astype(np.float32)


CHUNK = 1 << 19  # frames per step (~11 s at 48 kHz): a long stem gets no stem-sized temporaries


def widen(x: np.ndarray, amount: float, sample_rate: int, salt: int = 0) -> np.ndarray:
    """(2, n) float32 `x`, changed IN PLACE and returned: a decorrelated copy of its mid, `amount`
    times as strong, added to its side (the mid unchanged). amount 0 leaves it as it is.

    A chunk at a time (overlap-add): what widening adds never changes the mid, so each chunk
    reads the mid it needs from `x` as it stands."""
    n = x.shape[1]
    if amount <= 0.0 or n == 0:
        return x
    for i in range(0, n, CHUNK):
        extra = decorrelated(x[0, i : i + CHUNK] + x[1, i : i + CHUNK], 0.5 * amount, sample_rate, salt,
                             full=True)  # x0 + x1: twice the mid
        extra = extra[: n - i]
        x[0, i : i + len(extra)] += extra
        x[1, i : i + len(extra)] -= extra
    return x


def decorrelated(mid: np.ndarray, amount: float, sample_rate: int, salt: int = 0, full: bool = False) -> np.ndarray:
    """(n,) float32: `mid` (n,) through the velvet-noise decorrelator, times `amount`: what
    widening adds to the left channel and takes from the right (`full`: with the filter's tail,
    n + L - 1 frames)."""
    h = decorrelator(sample_rate, salt)
    out = signal.oaconvolve(mid, h).astype(np.float32, copy=False)
    if not full:
        out = out[: len(mid)]
    out *= np.float32(amount)
    return out


def mono_low_end(x: np.ndarray, sample_rate: int, cutoff_hz: float = LOW_MONO_HZ) -> np.ndarray:
    """(2, n) float32 `x`, changed IN PLACE and returned: its side high-passed at `cutoff_hz` (8th
    order), the mid untouched, a chunk at a time (the filter's state carried across). (Subtracting
    a low-passed side would not do: an IIR low-pass shifts the phase of what it passes, so the low
    side would not cancel.)"""
    sos = filter_sos("highpass", cutoff_hz, sample_rate, LOW_MONO_ORDER)
    zi = np.zeros((sos.shape[0], 2), dtype=np.float32)
    for i in range(0, x.shape[1], CHUNK):
        left, right = x[0, i : i + CHUNK], x[1, i : i + CHUNK]  # views: written in place
        side = left - right  # twice the side
        if not np.any(side) and not np.any(zi):
            continue  # a mono stretch (a bass stem: all of it) stays as it is
        side, zi = signal.sosfilt(sos, side, zi=zi)
        side *= np.float32(0.5)
        left += right
        left *= np.float32(0.5)  # the mid
        np.subtract(left, side, out=right)
        left += side
    return x


def tone(x: np.ndarray, shelf_db: float, top_hz: float, sample_rate: int) -> np.ndarray:
    """(2, n) float32 `x` through a high shelf of `shelf_db` at SHELF_HZ and a gentle (6 dB per
    octave) roll-off above `top_hz` (0: none), as a style's recordings sound, IN PLACE a chunk at a
    time (the filters' state carried across); `x` as it is when both are off."""
    if (shelf_db == 0.0 and top_hz <= 0.0) or x.shape[1] == 0:
        return x
    plugins = []
    if shelf_db != 0.0:
        corner = min(SHELF_HZ, 0.4 * sample_rate)  # a low work rate still gets a shelf inside its band
        plugins.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=corner, gain_db=float(shelf_db), q=SHELF_Q))
    if 0.0 < top_hz < 0.45 * sample_rate:
        plugins.append(pedalboard.LowpassFilter(cutoff_frequency_hz=float(top_hz)))
    if not plugins:
        return x
    board = pedalboard.Pedalboard(plugins)
    for i in range(0, x.shape[1], CHUNK):
        chunk = np.ascontiguousarray(x[:, i : i + CHUNK])
        x[:, i : i + CHUNK] = board.process(chunk, float(sample_rate), reset=(i == 0))
    return x
