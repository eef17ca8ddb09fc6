"""The editor's directions in the composer's audio: stops' silences and a loop's seamless join.

Both act on the rendered stems (2, frames), the same way on every stem, so the stems still sum
to the mix.
"""

from __future__ import annotations

import numpy as np

LOOP_RING_S = 4.0  # a loop is rendered this far past its end; what rings there wraps onto its start
BREAK_FADE_S = 0.004  # a stop's edges: short enough to be heard as a cut, long enough not to click


def silence_breaks(stems: dict[str, np.ndarray], breaks_s, sample_rate: int) -> None:
    """Stems silenced IN PLACE over each (start, end) break: the releases and the reverb that
    would ring into a stop are cut with it; the music comes back with its first attack."""
    if not breaks_s:
        return
    frames = next(iter(stems.values())).shape[1]
    gain = np.ones(frames, np.float32)
    ramp = max(1, int(BREAK_FADE_S * sample_rate))
    for t0, t1 in breaks_s:
        a, b = int(round(t0 * sample_rate)), min(int(round(t1 * sample_rate)), frames)
        if a >= frames or b <= a:
            continue
        down = np.cos(0.5 * np.pi * np.arange(1, ramp + 1) / ramp).astype(np.float32)  # 1 -> 0 from the stop on
        gain[a : a + ramp] = np.minimum(gain[a : a + ramp], down[: len(gain[a : a + ramp])])
        gain[a + ramp : b] = 0.0  # silent right up to the re-entry's first attack
    for x in stems.values():
        x *= gain  # exact zeros: post-processing keeps digital silence silent


def fold_loop(stems: dict[str, np.ndarray], frames: int) -> dict[str, np.ndarray]:
    """Stems rendered past a loop's end (2, frames + ring) folded to (2, frames): what rings past
    the end is added onto the start, as it sounds when the loop plays again, so the last sample
    leads into the first as any two neighbouring samples do."""
    out = {}
    for name, x in stems.items():
        y = np.array(x[:, :frames], dtype=np.float32)
        for k in range(frames, x.shape[1], frames):  # a ring longer than the loop wraps again
            part = x[:, k : k + frames]
            y[:, : part.shape[1]] += part
        out[name] = y
    return out


BREATH_S = 0.09  # before a hit the music draws breath this long, as trailer cues "suck" before an impact
BREATH_DB = -14.0  # how far it dips; the hit then lands on near quiet and is heard as a hit, whatever plays


def breathe_before(stems: dict[str, np.ndarray], times_s, sample_rate: int) -> None:
    """Stems dipped IN PLACE over the BREATH_S before each time (a raised-cosine fall, then back
    to full level exactly at the time): the accent on the hit stands out from what precedes it."""
    if not len(times_s):
        return
    frames = next(iter(stems.values())).shape[1]
    gain = np.ones(frames, np.float32)
    floor = np.float32(10.0 ** (BREATH_DB / 20.0))
    n = int(BREATH_S * sample_rate)
    fall = max(1, n // 3)
    shape = np.full(n, floor, np.float32)
    shape[:fall] = floor + (1.0 - floor) * (0.5 + 0.5 * np.cos(np.pi * np.arange(fall) / fall))
    for t in times_s:
        end = int(round(t * sample_rate))
        start = end - n
        if start < 0 or end > frames:
            continue
        gain[start:end] = np.minimum(gain[start:end], shape)
    for x in stems.values():
        x *= gain
