"""Rhythm in the picture: visual accents that are not cuts, and the period of regular motion.

Accents. An impact (a ball hitting the floor, a foot landing, a hammer blow) is motion that
turns back the way it came: the luma change into a frame and the change out of it point in
opposite directions, so their product is negative. Frames straddling the turn are caught by the
product of the changes one frame further apart. A flash is the same turn in brightness. Changes
the cut detector was unsure of (a whip pan's end, a subject passing the lens) are accents too.

Period. The motion energy of walking, bouncing, dancing or machinery repeats: the strongest
peak of its autocorrelation between MIN_PERIOD_S and MAX_PERIOD_S, with how high that peak
stands (0..1) as the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cuts import Cut
from .features import ClipArrays

MIN_PERIOD_S = 0.25  # faster repetition reads as texture (vibration), not as a pulse
MAX_PERIOD_S = 2.0  # slower than this is no groove
PERIOD_RATE = 50.0  # Hz: the grid the energy is resampled to for the autocorrelation
ACCENT_SPACING_S = 0.2  # two accents closer than this are one


@dataclass(frozen=True)
class Accent:
    time_s: float  # seconds (source or record, as the caller says)
    strength: float  # 0..1
    kind: str  # "impact" | "flash" | "change"


def _reversals(a: ClipArrays) -> tuple[np.ndarray, np.ndarray]:
    """Times (source seconds) and sizes of motion turning back, one value per frame and per step.

    Returns (times (r,), size (r,)): size is how strongly the change out opposes the change in,
    in the units of the step energy (mean squared luma change).
    """
    t, dot1, dot2 = a.frame_t, a.step_dot1.astype(np.float64), a.step_dot2.astype(np.float64)
    n = len(t)
    if n < 4:
        return np.zeros(0), np.zeros(0)
    # dot1[j] = D_j . D_(j-1): the turn is at frame j-1. dot2[j] = D_j . D_(j-2): the turn is in
    # step D_(j-1), between frames j-2 and j-1 (a frame on each side of it, the step itself small).
    # Only where the frames are evenly spaced: a coarse decode keeps some frames and not others,
    # and steps of unequal length do not cancel even when the motion is steady.
    gap = np.diff(t)  # (n-1,) gap[m] = t[m+1] - t[m]
    even = np.abs(gap[1:] - gap[:-1]) <= 0.25 * np.minimum(gap[1:], gap[:-1])  # (n-2,) around frame m+1
    at_frame = t[1:-1]  # frames 1..n-2, from dot1[2..n-1]
    size_frame = np.where(even, -dot1[2:], 0.0)
    at_step = 0.5 * (t[1:-2] + t[2:-1])  # between frames j-2 and j-1 for j = 3..n-1
    size_step = np.where(even[1:] & even[:-1], -dot2[3:], 0.0)
    times = np.concatenate([at_frame, at_step])
    size = np.concatenate([size_frame, size_step])
    order = np.argsort(times, kind="stable")
    return times[order], size[order]


def clip_accents(a: ClipArrays, cuts: list[Cut], unsure: list[Cut]) -> list[Accent]:
    """One clip's visual accents (source seconds): impacts and flashes, and the unsure changes."""
    times, size = _reversals(a)
    out: list[Accent] = []
    if len(times):
        energy = a.step_energy.astype(np.float64)
        # Scale: the clip's strong steps (its 90th percentile), never below sensor grain.
        scale = max(float(np.percentile(energy[1:], 90)) if len(energy) > 1 else 0.0, 2e-5)
        score = size / scale
        keep = score >= 0.4
        cand = sorted(zip(-score[keep], times[keep], strict=True))  # strongest first
        chosen: list[tuple[float, float]] = []
        busy = [c.time_s for c in cuts]
        for neg, when in cand:
            if any(abs(when - c) < 2.5 / max(_fps(a), 1.0) for c in busy):
                continue  # the frames around a cut change for the cut's sake
            if all(abs(when - w) >= ACCENT_SPACING_S for w, _ in chosen):
                chosen.append((float(when), float(-neg)))
        bright = a.frame_brightness
        for when, sc in sorted(chosen):
            i = int(np.clip(np.searchsorted(a.frame_t, when), 0, len(bright) - 1))
            lo, hi = max(0, i - 3), min(len(bright), i + 4)
            flash = float(bright[lo:hi].max() - min(bright[lo], bright[hi - 1])) > 0.15
            out.append(Accent(when, float(min(1.0, 0.2 + 0.4 * sc)), "flash" if flash else "impact"))
    seen = [x.time_s for x in out]
    out += [Accent(c.time_s, float(min(1.0, c.strength)), "change") for c in unsure
            if all(abs(c.time_s - w) >= ACCENT_SPACING_S for w in seen)]
    return sorted(out, key=lambda x: x.time_s)


def _fps(a: ClipArrays) -> float:
    return 1.0 / float(np.median(np.diff(a.frame_t))) if len(a.frame_t) > 1 else 25.0


def motion_period(frame_times: list[np.ndarray], energies: list[np.ndarray],
                  cuts_s: np.ndarray) -> tuple[float, float]:
    """(period seconds, confidence 0..1) of regular motion over the clips; (0, 0) when none.

    frame_times: per clip, (f,) record seconds of its frames; energies: per clip, (f,) luma change
    per frame step. Cut frames are left out (a cut is not motion), each clip on its own grid.
    """
    grids, values = [], []
    for t, e in zip(frame_times, energies, strict=True):
        if len(t) < 8:
            continue
        g = np.arange(t[0], t[-1], 1.0 / PERIOD_RATE)  # (g,)
        v = np.interp(g, t, e.astype(np.float64))
        # Cuts spike the change for a frame: clip them to the level of motion around them.
        v = np.minimum(v, 3.0 * float(np.median(v)) + float(np.percentile(v, 90)))
        for c in cuts_s:
            near = np.abs(g - c) < 0.06
            if near.any():
                v[near] = float(np.median(v))
        grids.append(g)
        values.append(v)
    if not values:
        return 0.0, 0.0
    min_lag, max_lag = int(MIN_PERIOD_S * PERIOD_RATE), int(MAX_PERIOD_S * PERIOD_RATE)
    acf = np.zeros(max_lag + 1)  # summed over clips: sum of x[t] x[t + lag]
    energy = 0.0
    span = 0  # samples in the longest clip: a period must repeat three times in one clip
    for v in values:
        # Remove the slow swell (a shot getting busier) so only repetition remains.
        k = int(MAX_PERIOD_S * PERIOD_RATE)
        trend = np.convolve(np.pad(v, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="valid")
        x = v - trend
        span = max(span, len(x))
        energy += float(x @ x)
        for lag in range(min(max_lag, len(x) - 1) + 1):
            acf[lag] += float(x[: len(x) - lag] @ x[lag:])
    top_lag = min(max_lag, span // 3)
    if energy < 1e-12 or top_lag <= min_lag + 1:
        return 0.0, 0.0
    r = acf / energy  # (lags,) biased autocorrelation: repetition seen over the whole clip scores high
    seg = r[min_lag : top_lag + 1]
    peaks = [i for i in range(1, len(seg) - 1) if seg[i] >= seg[i - 1] and seg[i] > seg[i + 1] and seg[i] > 0]
    if not peaks:
        return 0.0, 0.0
    # The first strong peak is the period (later ones are its multiples, about as high).
    top = max(seg[i] for i in peaks)
    i = next(i for i in peaks if seg[i] >= 0.85 * top)
    y0, y1, y2 = seg[i - 1], seg[i], seg[i + 1]
    den = y0 - 2 * y1 + y2
    off = 0.5 * (y0 - y2) / den if den < -1e-12 else 0.0
    lag = min_lag + i + off
    # A biased estimate falls as 1 - lag/span even for a perfect repetition: undo that.
    conf = float(np.clip(y1 / max(1.0 - lag / span, 1e-3), 0.0, 1.0))
    return float(lag / PERIOD_RATE), conf
