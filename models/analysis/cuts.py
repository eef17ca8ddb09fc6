"""Shot changes in one clip: hard cuts (to the frame), fades through black, dissolves.

Hard cuts: a frame-to-frame distance that stands far above its neighbourhood (so fast motion,
whose every frame changes a lot, does not trigger), above the frames right next to it (a whip
pan changes the picture over several frames, a cut in one), and that persists (the frames after
the candidate stay unlike the frames before it: a flash, even one that decays over a few
frames, returns to the picture and is not a cut).
Fades: a dip to black with a ramp on at least one side, away from the clip's ends.
Dissolves: frames k samples before and after differ in colour distribution, and the middle
frame is their average (a cross-fade is linear in the pixels; camera motion is not), with the
same mix everywhere in the frame (a subject crossing close to the lens covers one side first,
and its soft out-of-focus edge only looks like a mix), and the old picture does not come back
soon after (a subject that fills the frame and pulls back is not a new shot).
Every change keeps a confidence 0..1; below MIN_CONFIDENCE it is a visual accent, not a cut.
Times are source seconds; a transition's time is its midpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter

from ..interface import check_cancelled
from .features import BACK, ClipArrays

MIN_CONFIDENCE = 0.5  # a change below this is offered as a visual accent, not a cut


@dataclass(frozen=True)
class CutOptions:
    hard_min: float = 0.30  # absolute floor of the frame distance for a hard cut (0..1)
    hard_ratio: float = 3.0  # ... and this many times the local median distance
    # Cuts between look-alike shots: a smaller change, but an isolated spike far above the rest
    # (a dissolve's frames change a little each, a cut's change all at once).
    subtle_min: float = 0.12
    subtle_ratio: float = 8.0
    neighbourhood_s: float = 0.5  # half-window of that local median
    persist: float = 0.5  # post-cut frames must stay this far (x the cut distance) from the pre-cut frames
    isolation: float = 3.0  # a sure cut's distance is this many times its neighbours' (within 2 frames)
    blend_spread: float = 0.6  # spread of the mix across the frame's blocks where a dissolve is ruled out
    return_s: float = 1.5  # a transition whose old picture comes back within this is no shot change
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
    confidence: float = 1.0  # 0..1 that an editor would call it a shot change


_CHUNK = 2048  # analysis samples per block of the dissolve search (about 3.5 minutes at 10 per second)


def _frames_per(t: np.ndarray, seconds: float) -> int:
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    return max(1, int(round(seconds / max(dt, 1e-4))))


def _returns(a: ClipArrays, i: int) -> float:
    """Smallest distance between frames i..i+2 and the frames before i (within BACK): 0 when the
    old picture comes back (a flash), as large as the cut itself when it never does."""
    n = len(a.frame_t)
    best = np.inf
    for j in range(i, min(n, i + 3)):
        for k in range(j - i + 1, BACK + 1):  # frame j - k lies before i
            if j - k < 0:
                break
            best = min(best, float(a.back[j, k - 1]))
    return best


def hard_cuts(a: ClipArrays, opt: CutOptions) -> list[Cut]:
    """Hard cuts with their confidence; candidates below MIN_CONFIDENCE come back too (accents)."""
    n = len(a.frame_t)
    if n < 2:
        return []
    d1 = a.d1
    # Motion and blends change the picture in proportion to the time between two decoded frames,
    # a cut does not: neighbours are compared at the rate they change, times this step's length
    # (a coarse decode keeps some frames and not others; so does a variable frame rate).
    gap = np.diff(a.frame_t, prepend=a.frame_t[0])  # (f,) seconds since the previous decoded frame
    step = float(np.min(gap[gap > 1e-6])) if np.any(gap > 1e-6) else 1.0
    span = np.maximum(gap / step, 1.0)  # (f,) source frames this step spans (about)
    rate = d1 / span  # (f,)
    w = _frames_per(a.frame_t, opt.neighbourhood_s)
    local = median_filter(rate, size=2 * w + 1, mode="nearest") * span  # (f,)
    before = np.concatenate([[0.0], rate[:-1]]) * span  # (f,) the previous step's change, scaled
    after = np.concatenate([rate[1:], [0.0]]) * span
    pad = np.pad(rate, 2)
    near = np.max(np.stack([pad[0:-4], pad[1:-3], pad[3:-1], pad[4:]]), axis=0) * span  # (f,) within 2 steps
    clear = (d1 >= opt.hard_min) & (d1 >= opt.hard_ratio * local + 0.02)
    subtle = ((d1 >= opt.subtle_min) & (d1 >= opt.subtle_ratio * local + 0.02)
              & (np.maximum(before, after) < 0.25 * d1))
    cand = np.flatnonzero(clear | subtle)
    cuts: list[Cut] = []
    for i in cand:
        if i == 0:
            continue
        c = float(d1[i])
        # Isolation: a whip pan or a subject sweeping past changes the frames around it as much.
        iso = c / (float(near[i]) + 0.02)
        sure_iso = float(np.clip((iso - 1.0) / (opt.isolation - 1.0), 0.0, 1.0))
        # Persistence: the picture after must stay unlike every frame before (a flash returns).
        back = _returns(a, int(i)) / c
        sure_new = float(np.clip((back - 0.3) / (2 * (opt.persist - 0.3)), 0.0, 1.0))
        conf = min(sure_iso, sure_new)
        t = float(a.frame_t[i])
        cut = Cut(t, "hard", min(1.0, 0.5 + 0.5 * c / 0.8), t, t, conf)
        # The surest frame of a cluster wins (an encoder's ghost frame right after a cut).
        if cuts and t - cuts[-1].time_s < opt.min_gap_s:
            if (conf, c) > (cuts[-1].confidence, cuts[-1].strength):
                cuts[-1] = cut
            continue
        cuts.append(cut)
    return cuts


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
        # A ramp keeps brightening away from the core; it ends where the picture levels off.
        kl = 0
        while (s - kl - 1 >= lo and b[s - kl - 1] < 0.85 * left
               and b[s - kl - 1] > b[s - kl] + 0.002):
            kl += 1
        kr = 0
        while (e + kr + 1 < hi and b[e + kr + 1] < 0.85 * right
               and b[e + kr + 1] > b[e + kr] + 0.002):
            kr += 1
        if kl + kr < 2:
            continue  # black frames between two hard cuts (or a black flash): not a fade
        mid = 0.5 * (t[s] + t[e])
        out.append(Cut(float(mid), "fade", 0.9, float(t[s - kl]), float(t[e + kr])))
    return out


def _mad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(x - y).mean(axis=tuple(range(1, x.ndim)))


def _on_blend_path(frames: np.ndarray, max_residual: float) -> bool:
    """Whether every frame between the first and last is a blend of the two, the blend growing.

    frames: (m, 4, 8, 3) block colours from one side of a candidate dissolve to the other. A
    cross-fade moves each frame along the straight line from the first to the last; a pan or
    camera move leaves that line (its middle frames are not mixtures of its ends).
    """
    a, b = frames[0].ravel(), frames[-1].ravel()
    d = b - a
    dd = float(d @ d)
    if dd < 1e-8:
        return False
    x = frames.reshape(len(frames), -1) - a  # (m, p)
    alpha = x @ d / dd  # (m,) position along the line, 0 at the first frame, 1 at the last
    off = x - alpha[:, None] * d  # (m, p) what the line does not explain
    residual = np.sqrt((off * off).sum(axis=1) / dd)  # (m,) share of the whole change
    return bool(residual.mean() <= max_residual and residual.max() <= 1.5 * max_residual
                and np.all(np.diff(alpha) >= -0.15))


def _blend_spread(frames: np.ndarray) -> float:
    """How unevenly a change is mixed across the frame: 0 for a cross-fade (every block is the
    same share of the way from the first frame to the last), large for a subject or an edge
    sweeping across (blocks it has covered are all the way, the others not yet).

    frames: (m, 4, 8, 3) block colours over the change. Blocks are weighted by how much they change.
    """
    a, b = frames[0], frames[-1]
    d = (b - a).reshape(-1, 3)  # (blocks, 3)
    dd = (d * d).sum(axis=1)  # (blocks,)
    wgt = dd / max(float(dd.sum()), 1e-9)
    inner = frames[1:-1].reshape(len(frames) - 2, -1, 3) - a.reshape(1, -1, 3)  # (m-2, blocks, 3)
    if not len(inner):
        return 0.0
    alpha = (inner * d[None]).sum(axis=2) / np.maximum(dd, 1e-9)[None]  # (m-2, blocks)
    mean = (alpha * wgt[None]).sum(axis=1, keepdims=True)  # (m-2, 1)
    spread = np.sqrt(((alpha - mean) ** 2 * wgt[None]).sum(axis=1))  # (m-2,)
    return float(spread.mean())


def _comes_back(L: np.ndarray, t: np.ndarray, j0: int, j1: int, within_s: float) -> bool:
    """Whether the picture before a change (sample j0) is seen again soon after it (sample j1 on),
    or the picture after it was already there soon before: then nothing was cut, something passed.

    L: (s, 4, 8, 3) block colours; closeness is against the distance across the change.
    """
    first, last = L[j0].astype(np.float32), L[j1].astype(np.float32)
    across = float(np.abs(first - last).mean())
    if across < 1e-3:
        return True
    after = L[j1 : int(np.searchsorted(t, t[j1] + within_s, side="right"))].astype(np.float32)
    before = L[int(np.searchsorted(t, t[j0] - within_s, side="left")) : j0 + 1].astype(np.float32)
    near_first = np.abs(after - first).mean(axis=(1, 2, 3)) if len(after) else np.array([np.inf])
    near_last = np.abs(before - last).mean(axis=(1, 2, 3)) if len(before) else np.array([np.inf])
    return bool(min(near_first.min(), near_last.min()) < 0.35 * across)


def _best_shift(first: np.ndarray, last: np.ndarray, max_shift: float = 0.35) -> tuple[float, int, int]:
    """How well a shift of `first` explains `last`: (residual share, dx, dy).

    first, last: (h, w) uint8 luma thumbnails, lightly blurred (to forgive sub-pixel shifts).
    Shifts up to `max_shift` of the frame each way, all at once; the match is the mean absolute
    difference over the overlap, as a share of the unshifted difference (1 = no shift helps).
    """
    a, b = _blur(first.astype(np.float32)), _blur(last.astype(np.float32))
    h, w = a.shape
    still = float(np.abs(a - b).mean())
    if still < 1.0:
        return 1.0, 0, 0  # nothing changed: no motion to explain
    sy, sx = int(h * max_shift), int(w * max_shift)
    padded = np.full((h + 2 * sy, w + 2 * sx), np.nan, np.float32)
    padded[sy : sy + h, sx : sx + w] = b
    views = np.lib.stride_tricks.sliding_window_view(padded, (h, w))  # (2sy+1, 2sx+1, h, w): b shifted
    with np.errstate(invalid="ignore"):
        mad = np.nanmean(np.abs(views - a), axis=(2, 3))  # (2sy+1, 2sx+1); NaN outside the overlap
    mad[sy, sx] = np.inf
    iy, ix = np.unravel_index(int(np.nanargmin(mad)), mad.shape)
    return float(mad[iy, ix]) / still, int(ix - sx), int(iy - sy)


def _blur(img: np.ndarray) -> np.ndarray:
    """3x3 box blur of a small (h, w) image, edges repeated."""
    p = np.pad(img, 1, mode="edge")
    h, w = img.shape
    return sum(p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0


def _camera_moves(thumbs: np.ndarray, first_index: int, memo: dict[int, tuple[float, int, int]]) -> bool:
    """Whether the steps of a window are mostly the picture shifting one way (a pan), not a blend.

    thumbs: (m, h, w) uint8 luma thumbnails one analysis step apart, starting at sample
    `first_index`. Each step is matched on its own (a pan's step is a small shift however long
    the window is), once per clip: `memo` maps a step's first sample to its best shift.
    """
    shifts = []
    for i in range(len(thumbs) - 1):
        key = first_index + i
        if key not in memo:
            memo[key] = _best_shift(thumbs[i], thumbs[i + 1])
        ratio, dx, dy = memo[key]
        if ratio < 0.7:
            shifts.append((dx, dy))
    if len(shifts) <= 0.5 * (len(thumbs) - 1):
        return False
    # A pan keeps its direction; chance matches of a blend point anywhere.
    dx = np.array([s[0] for s in shifts])
    dy = np.array([s[1] for s in shifts])
    along = dx if np.abs(dx).sum() >= np.abs(dy).sum() else dy
    return bool(max(np.sum(along > 0), np.sum(along < 0)) >= 0.7 * len(shifts))


def dissolves(a: ClipArrays, opt: CutOptions, taken: list[Cut], cancel=None) -> list[Cut]:
    """Gradual changes whose middle is the mean of their ends; `taken` are changes found already."""
    # Block-mean colours: a blend of two shots blends them exactly, and 8x4 blocks barely see
    # motion or a pan within a shot (histograms are no use here: a blend makes new colours).
    t, L, H = a.sample_t, a.sample_colour, a.sample_hist  # L: (s, 4, 8, 3) uint8
    n = len(t)
    cands = []  # (centre time, residual, distance, window start, window end)
    pan_memo: dict[int, tuple[float, int, int]] = {}
    for span in opt.dissolve_scales_s:
        k = _frames_per(t, span)
        for lo in range(0, n - 2 * k, _CHUNK):  # window starts j in chunks: bounded temporaries
            check_cancelled(cancel)
            hi = min(n - 2 * k, lo + _CHUNK)
            la = L[lo:hi].astype(np.float32) / 255.0  # (m, 4, 8, 3) window starts
            lm = L[lo + k : hi + k].astype(np.float32) / 255.0  # middles
            lb = L[lo + 2 * k : hi + 2 * k].astype(np.float32) / 255.0  # ends
            hdist = 0.5 * np.abs(H[lo:hi] - H[lo + 2 * k : hi + 2 * k]).sum(axis=1)  # (m,)
            ldist = _mad(la, lb)  # (m,)
            dist = 0.6 * hdist + 0.4 * np.minimum(1.0, 3.0 * ldist)
            res = _mad(lm, 0.5 * (la + lb)) / (ldist + 1e-3)  # 0 = the middle is exactly the average
            ok = (dist >= opt.dissolve_min) & (hdist >= 0.5 * opt.dissolve_min) & (res <= opt.dissolve_linear)
            for count, i in enumerate(np.flatnonzero(ok)):
                if count % 64 == 63:
                    check_cancelled(cancel)
                j = lo + int(i)
                if any(c.start_s <= t[j + 2 * k] and c.end_s >= t[j] for c in taken):
                    continue  # the window holds another shot change: its ends are not the two shots
                # A pan over a smooth scene can look like a blend; a shift of the picture explains
                # its steps. A change to wholly other colours is a shot change even when the camera moves.
                path = L[j : j + 2 * k + 1].astype(np.float32) / 255.0
                # Overall colour (mean of the blocks, per channel) barely moves in a pan over one
                # scene; between two shots it usually jumps.
                recolour = float(np.abs(path[0].mean(axis=(0, 1)) - path[-1].mean(axis=(0, 1))).max())
                if _on_blend_path(path, opt.dissolve_linear) and \
                        (recolour >= 0.15 or not _camera_moves(a.sample_luma[j : j + 2 * k + 1], j, pan_memo)):
                    spread = _blend_spread(path)
                    back = _comes_back(L, t, j, j + 2 * k, opt.return_s)
                    # Sure when the mix is even and the old picture stays away. Motion inside the
                    # two shots spreads a real cross-fade's mix too (measured up to ~0.35); a
                    # sharp-edged subject or wipe covering half the frame spreads it ~0.5 and more.
                    conf = 0.0 if back else float(np.clip((opt.blend_spread - spread) / 0.3, 0.0, 1.0))
                    cands.append((float(t[j + k]), float(res[i]), float(dist[i]), float(t[j]), float(t[j + 2 * k]),
                                  conf))
    cands.sort()
    # Candidates from one dissolve come in runs; runs whose best windows reach each other's
    # centres are one long dissolve (its middle passes the tests at several scales).
    groups: list[list[tuple]] = []
    for c in cands:
        if groups and c[0] - groups[-1][-1][0] <= opt.min_gap_s + 1e-6:
            groups[-1].append(c)
        else:
            groups.append([c])
    merged: list[list[tuple]] = []
    for g in groups:
        if merged:
            prev_best = min(merged[-1], key=lambda c: c[1])
            best = min(g, key=lambda c: c[1])
            if best[3] <= prev_best[0] or prev_best[4] >= best[0]:
                merged[-1].extend(g)
                continue
        merged.append(g)

    out: list[Cut] = []
    for group in merged:
        best = min(group, key=lambda c: c[1])
        # Midpoint: residual-weighted mean of the candidate centres (they flank it symmetrically).
        w = np.array([opt.dissolve_linear - c[1] + 1e-3 for c in group])
        mid = float(np.dot(w, [c[0] for c in group]) / w.sum())
        conf = float(np.median([c[5] for c in group]))
        if not any(c.start_s - opt.min_gap_s <= mid <= c.end_s + opt.min_gap_s or
                   best[3] < c.time_s < best[4] for c in taken):
            out.append(Cut(mid, "dissolve", min(1.0, 0.4 + 0.5 * best[2]), best[3], best[4], conf))
    return out


def detect_cuts(a: ClipArrays, opt: CutOptions = CutOptions(), cancel=None) -> list[Cut]:
    """Every change of one clip that may be a shot change, with its confidence, sorted by time.

    Those with confidence >= MIN_CONFIDENCE are cuts; the others are visual accents (a whip
    pan's end, a subject passing the lens). `cancel`: an Event checked as it goes.
    """
    fd = fades(a, opt)
    hard = [c for c in hard_cuts(a, opt)
            if not any(f.start_s - 0.1 <= c.time_s <= f.end_s + 0.1 for f in fd)]
    found = sorted(fd + hard, key=lambda c: c.time_s)
    check_cancelled(cancel)
    found += dissolves(a, opt, [c for c in found if c.confidence >= MIN_CONFIDENCE], cancel)
    return sorted(found, key=lambda c: c.time_s)
