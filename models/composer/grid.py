"""The beat grid: a base tempo, a phase and a gentle tempo map that put cuts on beats.

Real edits cut at irregular times; one fixed tempo meets two of them at most. Like a film
composer we pick the base tempo whose grid can reach the most important cuts, then bend the
tempo between consecutive hit points ("anchors") by at most `TEMPO_BEND` so every anchor falls
exactly on a beat. A cut we cannot reach is left to the arranger (an accent on the nearest
subdivision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEMPO_BEND = 0.06  # largest tempo change between hit points, as a fraction of the base tempo
TEMPO_STEP_BPM = 0.25  # resolution of the base-tempo search
LOOKBACK = 6  # cuts we may skip between two anchors (keeps the search linear in cuts)
MIN_GAP_BEATS = 1  # two anchors at least one beat apart
SLACK_S = 0.03  # a cut the fullest bend misses by less than this still counts as on the beat


@dataclass(frozen=True)
class Grid:
    tempo_bpm: float  # base tempo
    beats_s: np.ndarray  # (n,) float64 true beat times, first >= 0, last past the end
    anchor_beats: np.ndarray  # (a,) int indices into beats_s of the cuts that land on beats
    anchor_cuts: np.ndarray  # (a,) int indices into the cut list of those cuts


def _search(cuts: np.ndarray, weight: np.ndarray, major: np.ndarray, periods: np.ndarray,
            beats_per_bar: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best anchor path per candidate period by dynamic programming over cuts.

    cuts: (k,) sorted seconds; weight: (k,) importance; major: (k,) bool; periods: (p,) seconds
    per beat. Returns score (p, k), back-pointers (p, k) (-1 = the path starts at that cut) and
    the beat count from the back-pointer (p, k).
    """
    k, p = len(cuts), len(periods)
    best = np.full((p, k), -np.inf)
    back = np.full((p, k), -1, dtype=np.int64)
    count = np.zeros((p, k), dtype=np.int64)
    for j in range(k):
        best[:, j] = weight[j]
        for i in range(max(0, j - LOOKBACK), j):
            gap = cuts[j] - cuts[i]
            for n in (np.floor(gap / periods), np.ceil(gap / periods)):
                n = np.maximum(n, MIN_GAP_BEATS)  # (p,) beats between them
                dev = gap / (n * periods) - 1.0  # (p,) tempo bend needed
                bend = np.clip(dev, -TEMPO_BEND, TEMPO_BEND)
                miss = np.abs(gap - n * periods * (1.0 + bend))  # (p,) seconds left after bending
                ok = miss <= SLACK_S
                # Small bends are free; larger ones and near misses cost a little, so straighter
                # grids win ties. Whole bars between two major cuts keep both on downbeats.
                cand = best[:, i] + weight[j] - 0.4 * (bend / TEMPO_BEND) ** 2 - 0.5 * miss / SLACK_S
                if major[i] and major[j]:
                    cand = cand + 0.3 * (n % beats_per_bar == 0)
                cand = np.where(ok, cand, -np.inf)
                better = cand > best[:, j]
                best[:, j] = np.where(better, cand, best[:, j])
                back[:, j] = np.where(better, i, back[:, j])
                count[:, j] = np.where(better, n.astype(np.int64), count[:, j])
    return best, back, count


def build_grid(
    duration_s: float,
    cuts_s: np.ndarray,
    strength: np.ndarray,
    tempo_range: tuple[float, float],
    preferred_bpm: float,
    rng: np.random.Generator,
    beats_per_bar: int = 4,
    major_strength: float = 0.6,
) -> Grid:
    """Choose tempo, phase and tempo map for cuts (k,) seconds with strength (k,) 0..1."""
    lo, hi = sorted(tempo_range)
    bpms = np.arange(lo, hi + 1e-9, TEMPO_STEP_BPM)  # (p,)
    periods = 60.0 / bpms
    keep = (cuts_s > 0.05) & (cuts_s < duration_s - 0.05)
    cuts, weight = np.asarray(cuts_s, float)[keep], np.asarray(strength, float)[keep]
    order = np.argsort(cuts)
    major = weight[order] >= major_strength
    cuts, weight = cuts[order], 0.5 + weight[order]  # every cut counts; strong ones more
    cut_index = np.flatnonzero(keep)[order]

    # A gentle preference for the style's centre tempo, plus a whisper of seed noise so seeds
    # pick different tempos where the picture does not decide.
    lean = -0.15 * np.abs(bpms - preferred_bpm) / max(hi - lo, 1.0) + rng.uniform(0, 0.02, len(bpms))
    if len(cuts) == 0:
        p = int(np.argmax(lean))
        return _assemble(duration_s, periods[p], bpms[p], np.zeros(0), np.zeros(0, int), [])
    best, back, count = _search(cuts, weight, major, periods, beats_per_bar)
    end_score = best.max(axis=1) + lean  # (p,)
    p = int(np.argmax(end_score))
    j = int(np.argmax(best[p]))
    path = [j]
    while back[p, path[-1]] >= 0:
        path.append(int(back[p, path[-1]]))
    path.reverse()
    counts = [int(count[p, j]) for j in path[1:]]
    return _assemble(duration_s, periods[p], bpms[p], cuts[path], cut_index[path], counts)


def _ramp(arrive: float, mean: float, n: int, base: float, leave: float) -> np.ndarray:
    """(n,) beat periods averaging `mean` (so the anchor still lands on its cut) that move
    linearly from near the period the music arrives with towards the one the next stretch
    needs (`leave`): an accelerando or ritardando instead of a tempo jump. The slope is limited
    so every period stays within TEMPO_BEND of `base`."""
    if n < 3:
        return np.full(n, mean)
    k = np.arange(n) - (n - 1) / 2.0  # centred: the sum is n * mean whatever the slope
    # Least squares on both joins: (p_0 - arrive)^2 + (p_last - leave)^2.
    slope = (leave - arrive) / (n - 1)
    room = (base * TEMPO_BEND - abs(mean - base)) / ((n - 1) / 2.0)  # the most the bend allows
    slope = float(np.clip(slope, -max(room, 0.0), max(room, 0.0)))
    return mean + slope * k


def _assemble(duration_s: float, period: float, bpm: float, anchors: np.ndarray, anchor_cuts: np.ndarray,
              counts: list[int]) -> Grid:
    """Beat times through the anchors: uniform at the base period outside them, evenly
    bent between consecutive anchors."""
    if len(anchors) == 0:
        anchors = np.array([0.0])
        no_anchor = True
    else:
        no_anchor = False
    first = anchors[0]
    n_before = int(np.floor(first / period + 1e-9))
    beats = [first - period * i for i in range(n_before, 0, -1)]
    anchor_beats = []
    a = first  # where the current beat actually is (a near miss may leave it off the cut)
    prev = period  # the beat period the music arrives with
    # Each stretch's mean period (what lands its anchor), known ahead so a ramp can lean into
    # the next stretch's tempo. Near misses shift later stretches by at most SLACK_S; ignored.
    means = [period * (1.0 + np.clip((b - a0) / (n * period) - 1.0, -TEMPO_BEND, TEMPO_BEND))
             for a0, b, n in zip(anchors[:-1], anchors[1:], counts, strict=False)] + [period]
    for i, (b, n) in enumerate(zip(anchors[1:], counts, strict=False)):
        anchor_beats.append(len(beats))
        step = period * (1.0 + np.clip((b - a) / (n * period) - 1.0, -TEMPO_BEND, TEMPO_BEND))
        periods = _ramp(prev, step, n, period, means[i + 1])
        beats.extend(a + np.concatenate([[0.0], np.cumsum(periods[:-1])]))
        a = a + float(periods.sum())
        prev = float(periods[-1])
    anchor_beats.append(len(beats))
    last = a
    n_after = int(np.ceil((duration_s - last) / period)) + 8  # a few past the end for note lengths
    beats.extend(last + period * np.arange(n_after + 1))
    beats_s = np.asarray(beats, dtype=np.float64)
    if no_anchor:
        return Grid(float(bpm), beats_s, np.zeros(0, int), np.zeros(0, int))
    return Grid(float(bpm), beats_s, np.asarray(anchor_beats, int), np.asarray(anchor_cuts, int))


def build_eighth_grid(duration_s: float, cuts_s: np.ndarray, strength: np.ndarray, tempo_range: tuple[float, float],
                      preferred_bpm: float, rng: np.random.Generator, beats_per_bar: int = 4,
                      major_strength: float = 0.6) -> Grid:
    """The half-time option for slow styles: plan on eighth notes (a grid twice as fast, so
    twice the ways to reach a cut), then keep every other eighth as the beat, in the phase that
    puts the strongest cuts on beats. The others land on the off-beat eighth, which the
    arranger accents; a slow groove's eighths are felt as pulses anyway (shaker, hats)."""
    lo, hi = sorted(tempo_range)
    fine = build_grid(duration_s, cuts_s, strength, (2 * lo, 2 * hi), 2 * preferred_bpm, rng,
                      2 * beats_per_bar, major_strength)
    on = [sum(float(strength[c]) for b, c in zip(fine.anchor_beats, fine.anchor_cuts, strict=False) if b % 2 == ph)
          for ph in (0, 1)]
    ph = int(np.argmax(on))
    keep = [(b, c) for b, c in zip(fine.anchor_beats, fine.anchor_cuts, strict=False) if b % 2 == ph]
    return Grid(fine.tempo_bpm / 2, fine.beats_s[ph::2], np.asarray([(b - ph) // 2 for b, _ in keep], int),
                np.asarray([c for _, c in keep], int))


def reach(grid: Grid, cuts_s: np.ndarray, strength: np.ndarray, tol_s: float = 0.03) -> float:
    """How well a grid meets the cuts: full weight on a beat, 0.8 on the eighth between beats."""
    beats = grid.beats_s
    eighths = (beats[:-1] + beats[1:]) / 2
    total = 0.0
    for t, s in zip(cuts_s, strength, strict=False):
        if np.min(np.abs(beats - t)) <= tol_s:
            total += 0.5 + s
        elif len(eighths) and np.min(np.abs(eighths - t)) <= tol_s:
            total += 0.8 * (0.5 + s)
    return total


def pin(beats_s: np.ndarray, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beats bent so every time in `times_s` (sorted seconds) falls exactly on a beat of its own.

    The grid's search reaches a heavily weighted time within SLACK_S, or misses it when no tempo
    in range can; either way the nearest free beat is moved onto it and the beats between two
    pinned ones take the difference in even steps (the beats before the first and after the last
    move with them). Returns the bent beats (n,) and the pinned beat indices (len(times_s),).
    """
    beats = np.asarray(beats_s, np.float64)
    index: list[int] = []
    for t in times_s:
        b = int(np.argmin(np.abs(beats - t)))
        index.append(max(b, index[-1] + 1) if index else b)  # one beat per time, in order
    if not index:
        return beats.copy(), np.zeros(0, int)
    shift = np.asarray(times_s, np.float64) - beats[index]  # (h,) seconds each pinned beat moves
    bent = beats + np.interp(np.arange(len(beats)), index, shift)
    bent[index] = times_s  # exactly, whatever the interpolation's rounding
    return bent, np.asarray(index, int)
