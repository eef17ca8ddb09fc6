"""Shot changes in one clip: hard cuts (to the frame), fades through black, dissolves.

Hard cuts: a frame-to-frame distance that stands far above its neighbourhood (so fast motion,
whose every frame changes a lot, does not trigger) and that persists (the frames after the
candidate stay unlike the frame before it: a one- or two-frame flash returns and is not a cut).
Fades: a dip to black with a ramp on at least one side, away from the clip's ends.
Dissolves: frames k samples before and after differ in colour distribution, and the middle
frame is their average (a cross-fade is linear in the pixels; camera motion is not).
Times are source seconds; a transition's time is its midpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter

from .features import ClipArrays


@dataclass(frozen=True)
class CutOptions:
    hard_min: float = 0.30  # absolute floor of the frame distance for a hard cut (0..1)
    hard_ratio: float = 3.0  # ... and this many times the local median distance
    neighbourhood_s: float = 0.5  # half-window of that local median
    persist: float = 0.5  # post-cut frames must stay this far (x the cut distance) from the pre-cut frame
    fade_dark: float = 0.12  # a fade's darkest frames are below this mean luma
    fade_rel: float = 0.30  # ... and below this share of the picture's level around them
    fade_context_s: float = 1.5  # where that level is measured, each side
    dissolve_scales_s: tuple[float, ...] = (0.3, 0.6, 1.0)  # half-spans tried (covers 0.2-2 s dissolves)
    dissolve_min: float = 0.30  # colour distance across the dissolve
    dissolve_linear: float = 0.35  # max residual of middle vs average of the ends (share of their distance)
    min_gap_s: float = 0.2  # two shot changes closer than this are one


@dataclass(frozen=True)
class Cut:
    time_s: float  # source seconds: first frame of the new shot, or a transition's midpoint
    kind: str  # "hard" | "fade" | "dissolve"
    strength: float  # 0..1
    start_s: float  # extent of the change (equal to time_s for a hard cut)
    end_s: float


def _frames_per(t: np.ndarray, seconds: float) -> int:
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    return max(1, int(round(seconds / max(dt, 1e-4))))


def hard_cuts(a: ClipArrays, opt: CutOptions) -> list[Cut]:
    n = len(a.frame_t)
    if n < 2:
        return []
    w = _frames_per(a.frame_t, opt.neighbourhood_s)
    local = median_filter(a.d1, size=2 * w + 1, mode="nearest")  # (f,)
    cand = np.flatnonzero((a.d1 >= opt.hard_min) & (a.d1 >= opt.hard_ratio * local + 0.02))
    cuts = []
    for i in cand:
        if i == 0:
            continue
        c = float(a.d1[i])
        # Persistence: frame i+1 and i+2 compared with frame i-1 (d2, d3 are to 2 and 3 back).
        later = [float(a.d2[i + 1])] if i + 1 < n else []
        later += [float(a.d3[i + 2])] if i + 2 < n else []
        # ... and frame i compared with frames i-2, i-3: the picture returning after a flash.
        earlier = [float(a.d2[i])] if i >= 2 else []
        earlier += [float(a.d3[i])] if i >= 3 else []
        if any(x < opt.persist * c for x in later + earlier):
            continue  # the picture came back: a flash, not a cut
        # The strongest frame of a cluster wins (an encoder's ghost frame right after a cut).
        if cuts and a.frame_t[i] - cuts[-1].time_s < opt.min_gap_s:
            if c > cuts[-1].strength:
                cuts[-1] = Cut(float(a.frame_t[i]), "hard", c, float(a.frame_t[i]), float(a.frame_t[i]))
            continue
        cuts.append(Cut(float(a.frame_t[i]), "hard", c, float(a.frame_t[i]), float(a.frame_t[i])))
    return [Cut(c.time_s, c.kind, min(1.0, 0.5 + 0.5 * c.strength / 0.8), c.start_s, c.end_s) for c in cuts]


def fades(a: ClipArrays, opt: CutOptions) -> list[Cut]:
    t, b = a.frame_t, a.frame_brightness
    n = len(t)
    if n < 5:
        return []
    ctx = _frames_per(t, opt.fade_context_s)
    level = maximum_filter1d(b, size=2 * ctx + 1, mode="nearest")  # (f,) picture level nearby
    dark = (b <= 0.03) | ((b <= opt.fade_dark) & (b <= opt.fade_rel * level))
    out = []
    i = 0
    while i < n:
        if not dark[i]:
            i += 1
            continue
        s = i
        while i + 1 < n and (dark[i + 1] or (i + 2 < n and dark[i + 2])):
            i += 1
        e = i
        i += 1
        if s == 0 or e == n - 1:
            continue  # a fade in from black at the start or out at the end: not a shot change
        lo, hi = max(0, s - ctx), min(n, e + 1 + ctx)
        left, right = float(b[lo:s].max()), float(b[e + 1 : hi].max())
        core = float(b[s : e + 1].mean())
        if min(left, right) < 0.06 or core > 0.35 * min(left, right):
            continue
        # Ramps: frames next to the dark core that sit between black and the picture's level.
        kl = 0
        while s - kl - 1 >= lo and b[s - kl - 1] < 0.85 * left and b[s - kl - 1] > core:
            kl += 1
        kr = 0
        while e + kr + 1 < hi and b[e + kr + 1] < 0.85 * right and b[e + kr + 1] > core:
            kr += 1
        if kl + kr < 2:
            continue  # black frames between two hard cuts (or a black flash): not a fade
        mid = 0.5 * (t[s] + t[e])
        out.append(Cut(float(mid), "fade", 0.9, float(t[s - kl]), float(t[e + kr])))
    return out


def _mad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(x - y).mean(axis=tuple(range(1, x.ndim)))


def dissolves(a: ClipArrays, opt: CutOptions, taken: list[Cut]) -> list[Cut]:
    """Gradual changes whose middle is the mean of their ends; `taken` are changes found already."""
    t, L, H = a.sample_t, a.sample_luma, a.sample_hist
    n = len(t)
    cands = []  # (time, residual, distance, k)
    for span in opt.dissolve_scales_s:
        k = _frames_per(t, span)
        if n < 2 * k + 1:
            continue
        A, M, B = slice(0, n - 2 * k), slice(k, n - k), slice(2 * k, n)
        hdist = 0.5 * np.abs(H[A] - H[B]).sum(axis=1)  # (m,)
        ldist = _mad(L[A], L[B])  # (m,)
        dist = 0.6 * hdist + 0.4 * np.minimum(1.0, 3.0 * ldist)
        lres = _mad(L[M], 0.5 * (L[A] + L[B])) / (ldist + 1e-3)  # 0 = exactly the average
        # (Histograms are not linear in a blend: mixed pixels take new colours. Luma is.)
        res = lres
        ok = (dist >= opt.dissolve_min) & (hdist >= 0.5 * opt.dissolve_min) & (res <= opt.dissolve_linear)
        for j in np.flatnonzero(ok):
            cands.append((float(t[j + k]), float(res[j]), float(dist[j]), float(t[j]), float(t[j + 2 * k])))
    cands.sort()
    out: list[Cut] = []
    group: list[tuple] = []

    def flush():
        if not group:
            return
        best = min(group, key=lambda c: c[1])
        # Midpoint: residual-weighted mean of the candidate centres (they flank it symmetrically).
        w = np.array([opt.dissolve_linear - c[1] + 1e-3 for c in group])
        mid = float(np.dot(w, [c[0] for c in group]) / w.sum())
        if not any(c.start_s - opt.min_gap_s <= mid <= c.end_s + opt.min_gap_s or
                   best[3] < c.time_s < best[4] for c in taken):
            out.append(Cut(mid, "dissolve", min(1.0, 0.4 + 0.5 * best[2]), best[3], best[4]))
        group.clear()

    for c in cands:
        if group and c[0] - group[-1][0] > opt.min_gap_s + 1e-6:
            flush()
        group.append(c)
    flush()
    return out


def detect_cuts(a: ClipArrays, opt: CutOptions = CutOptions()) -> list[Cut]:
    """All shot changes of one clip, sorted by time."""
    fd = fades(a, opt)
    hard = [c for c in hard_cuts(a, opt)
            if not any(f.start_s - 0.1 <= c.time_s <= f.end_s + 0.1 for f in fd)]
    found = sorted(fd + hard, key=lambda c: c.time_s)
    found += dissolves(a, opt, found)
    return sorted(found, key=lambda c: c.time_s)
