"""The drum part: a groove per style and intensity, fills into sections, hits on cuts, humanized.

Every level keeps a felt pulse on the beat (even "pad only" has a soft kick or shaker): music
under picture needs a beat the cut can sit on, and the ear (and a beat tracker) needs it too.
"""

from __future__ import annotations

import numpy as np

from .events import DrumHit
from .plan import MAJOR_CUT, Plan

# A groove: per intensity 0..4, hits (kind, beats, step, velocity). `beats` picks beats of the
# bar: "all", "even" (1 and 3 in 4/4), "odd" (the backbeat 2 and 4), "first", "last".
# `step` is the 16th inside the beat (0..3; 6/8 uses 0..2 and folds 3 onto 2).
Hits = tuple[tuple[str, str, int, float], ...]
_EIGHTHS = (("hat_closed", "all", 0, 0.5), ("hat_closed", "all", 2, 0.32))
_SIXTEENTHS = (("hat_closed", "all", 1, 0.18), ("hat_closed", "all", 3, 0.2))

GROOVES: dict[str, tuple[Hits, ...]] = {
    "pop": (
        (("kick", "all", 0, 0.4), ("shaker", "all", 2, 0.2)),
        (("kick", "even", 0, 0.7), ("kick", "odd", 0, 0.35), ("rim", "odd", 0, 0.45), *_EIGHTHS),
        (("kick", "even", 0, 0.85), ("snare", "odd", 0, 0.7), *_EIGHTHS),
        (("kick", "even", 0, 0.95), ("kick", "last", 2, 0.5), ("snare", "odd", 0, 0.85), *_EIGHTHS,
         ("shaker", "all", 1, 0.15), ("shaker", "all", 3, 0.15)),
        (("kick", "even", 0, 1.0), ("kick", "last", 2, 0.55), ("snare", "odd", 0, 0.95), *_EIGHTHS,
         *_SIXTEENTHS, ("hat_open", "last", 2, 0.4)),
    ),
    # The offbeat open hat is the genre's lift, kept under the on-beat layer (kick plus a closed
    # hat) so the pulse is heard on the beat, not between.
    "four_floor": (
        (("kick", "all", 0, 0.5), ("hat_closed", "all", 0, 0.3), ("hat_closed", "all", 2, 0.2)),
        (("kick", "all", 0, 0.75), ("hat_closed", "all", 0, 0.35), ("hat_open", "all", 2, 0.25)),
        (("kick", "all", 0, 0.9), ("clap", "odd", 0, 0.6), ("hat_closed", "all", 0, 0.4), ("hat_open", "all", 2, 0.3)),
        (("kick", "all", 0, 1.0), ("clap", "odd", 0, 0.85), ("hat_closed", "all", 0, 0.45),
         ("hat_open", "all", 2, 0.35), *_SIXTEENTHS),
        (("kick", "all", 0, 1.0), ("clap", "odd", 0, 0.9), ("snare", "odd", 0, 0.4), ("hat_closed", "all", 0, 0.45),
         ("hat_open", "all", 2, 0.4), *_SIXTEENTHS, ("shaker", "all", 0, 0.2), ("shaker", "all", 2, 0.15)),
    ),
    "boom_bap": (
        (("kick", "all", 0, 0.45), ("hat_closed", "all", 2, 0.2)),
        (("kick", "first", 0, 0.8), ("kick", "even", 0, 0.6), ("kick", "odd", 0, 0.3), ("rim", "odd", 0, 0.5),
         *_EIGHTHS),
        (("kick", "even", 0, 0.9), ("kick", "first", 3, 0.4), ("kick", "odd", 0, 0.3), ("snare", "odd", 0, 0.75),
         *_EIGHTHS),
        (("kick", "even", 0, 0.95), ("kick", "first", 3, 0.45), ("kick", "odd", 0, 0.3), ("snare", "odd", 0, 0.85),
         *_EIGHTHS, *_SIXTEENTHS),
        (("kick", "even", 0, 1.0), ("kick", "first", 3, 0.5), ("snare", "odd", 0, 0.9), *_EIGHTHS, *_SIXTEENTHS,
         ("hat_open", "last", 2, 0.35)),
    ),
    "ambient": (
        (("kick", "all", 0, 0.45), ("shaker", "all", 0, 0.18), ("shaker", "all", 2, 0.12)),
        (("kick", "all", 0, 0.55), ("shaker", "all", 0, 0.24), ("shaker", "all", 2, 0.16)),
        (("kick", "even", 0, 0.6), ("kick", "odd", 0, 0.4), ("rim", "odd", 0, 0.3), ("shaker", "all", 0, 0.25),
         ("shaker", "all", 2, 0.18)),
        (("kick", "even", 0, 0.7), ("kick", "odd", 0, 0.45), ("rim", "odd", 0, 0.4), ("shaker", "all", 0, 0.3),
         ("shaker", "all", 2, 0.2)),
        (("kick", "even", 0, 0.8), ("kick", "odd", 0, 0.5), ("snare", "odd", 0, 0.5), ("shaker", "all", 0, 0.3),
         ("shaker", "all", 2, 0.22)),
    ),
    "cinematic": (
        (("kick", "all", 0, 0.4),),
        (("kick", "all", 0, 0.55), ("tom_low", "last", 2, 0.3)),
        (("kick", "even", 0, 0.85), ("kick", "odd", 0, 0.5), ("tom_low", "all", 2, 0.35), ("shaker", "all", 0, 0.2)),
        (("kick", "even", 0, 0.95), ("kick", "odd", 0, 0.55), ("tom_low", "all", 3, 0.45), ("tom_low", "all", 2, 0.3),
         ("snare", "odd", 0, 0.8), ("hat_closed", "all", 2, 0.3)),
        (("kick", "all", 0, 1.0), ("tom_low", "all", 3, 0.55), ("tom_mid", "all", 2, 0.4), ("snare", "odd", 0, 0.9),
         *_EIGHTHS, ("tom_high", "last", 1, 0.45)),
    ),
    "upbeat": (
        (("kick", "all", 0, 0.45), ("shaker", "all", 2, 0.25)),
        (("kick", "all", 0, 0.7), ("clap", "odd", 0, 0.45), ("shaker", "all", 0, 0.25), ("shaker", "all", 2, 0.3)),
        (("kick", "all", 0, 0.85), ("clap", "odd", 0, 0.75), ("hat_closed", "all", 2, 0.5),
         ("shaker", "all", 1, 0.15), ("shaker", "all", 3, 0.18)),
        (("kick", "all", 0, 0.95), ("snare", "odd", 0, 0.7), ("clap", "odd", 0, 0.7), ("hat_open", "all", 2, 0.4),
         ("hat_closed", "all", 0, 0.35), *_SIXTEENTHS),
        (("kick", "all", 0, 1.0), ("snare", "odd", 0, 0.85), ("clap", "odd", 0, 0.8), ("hat_open", "all", 2, 0.5),
         ("ride", "all", 0, 0.35), *_SIXTEENTHS),
    ),
}


def _selected(sel: str, beat: int, n_beats: int) -> bool:
    if sel == "all":
        return True
    if sel == "first":
        return beat == 0
    if sel == "last":
        return beat == n_beats - 1
    if n_beats == 3:  # waltz: "even" is the downbeat, the backbeat lands on 2 and 3
        return beat == 0 if sel == "even" else beat > 0
    return beat % 2 == (0 if sel == "even" else 1)


def step_time(plan: Plan, beat: int, step: int, swing: float) -> float:
    """Seconds of 16th `step` (0..subdivisions-1) in beat `beat`, swing on the off 16ths."""
    sub = plan.subdivisions
    if sub == 3:
        return plan.beat_time(beat + min(step, 2) / 3)
    frac = (step // 2) / 2 + (step % 2) * swing / 2
    return plan.beat_time(beat + frac)


def write_drums(plan: Plan, rng: np.random.Generator, visual_beats=()) -> list[DrumHit]:
    """The drum part. `visual_beats`: (time_s, strength) peaks of on-screen motion (VMAS's
    low-level cue); a strong one that falls on the groove's own 16th grid gets a light accent."""
    style = plan.style
    groove = GROOVES[style.groove]
    swing = style.swing
    hits: list[tuple[float, str, float, float, bool]] = []  # time, kind, velocity, length, exact

    def add(t: float, kind: str, vel: float, length: float = 0.0, exact: bool = False) -> None:
        if 0.0 <= t < plan.duration_s:
            hits.append((t, kind, float(np.clip(vel, 0.05, 1.0)), length, exact))

    for si, sec in enumerate(plan.sections):
        for bi in range(sec.first_bar, sec.end_bar):
            bar = plan.bars[bi]
            if bar.start_beat >= plan.end_beat:
                break
            level = sec.intensity
            pattern = groove[level]
            last_bar = bi == sec.end_bar - 1 and si + 1 < len(plan.sections)
            fill_beats = (2 if level >= 3 and bar.n_beats >= 4 else 1) if last_bar and level >= 1 else 0
            # Phrase endings inside a long section (every fourth bar) get a one-beat pickup fill:
            # the groove breathes with the phrase instead of looping.
            phrase_end = (bi - sec.first_bar) % 4 == 3 and bi < sec.end_bar - 2
            if phrase_end and level >= 2 and not fill_beats:
                fill_beats = 1
            if style.groove == "ambient":
                fill_beats = 0  # ambient floats: a snare roll would wake it up
            for beat in range(bar.n_beats):
                b = bar.start_beat + beat
                in_fill = beat >= bar.n_beats - fill_beats
                for kind, sel, step, vel in pattern:
                    if not _selected(sel, beat, bar.n_beats) or (in_fill and kind != "kick"):
                        continue
                    if plan.subdivisions == 3 and step == 3:
                        continue
                    add(step_time(plan, b, step, swing), kind, vel, exact=step == 0 and b in plan.cut_beats)
                if in_fill:
                    _fill(plan, b, beat - (bar.n_beats - fill_beats), fill_beats, level, add, swing)
        # Into a section that rises: a riser over the bar before it (grooves that use one).
        nxt = plan.sections[si + 1] if si + 1 < len(plan.sections) else None
        if nxt is not None and nxt.intensity > sec.intensity and style.groove in ("four_floor", "cinematic", "upbeat"):
            t1 = plan.bar_time(nxt.first_bar)
            t0 = plan.bar_time(max(nxt.first_bar - 1, 0))
            if t1 - t0 > 0.2:
                add(t0, "riser", 0.5 + 0.1 * nxt.intensity, length=t1 - t0)

    # Hits on cuts: a crash (cinematic: an impact) marks section starts and the strongest cuts,
    # at most one per two bars (a crash on every cut of a fast edit is noise, not emphasis);
    # the other major cuts get a kick and an open hat (a tom in cinematic), the weak ones a hat.
    section_beats = {plan.bars[s.first_bar].start_beat for s in plan.sections[1:]}
    last_crash = -10 ** 9
    for b in sorted(plan.cut_beats):
        strength = plan.cut_beats[b]
        if b >= plan.end_beat:
            continue
        t = float(plan.beats_s[b])
        big = b in section_beats or (strength >= 0.85 and b - last_crash >= 2 * plan.beats_per_bar)
        if strength >= MAJOR_CUT and big:
            add(t, "impact" if style.groove == "cinematic" else "crash", 0.55 + 0.4 * strength, exact=True)
            add(t, "kick", 0.9 + 0.1 * strength, exact=True)
            last_crash = b
        elif strength >= MAJOR_CUT:
            add(t, "kick", 0.85, exact=True)
            add(t, "tom_low" if style.groove == "cinematic" else "hat_open", 0.45 + 0.3 * strength, exact=True)
        else:
            add(t, "hat_open" if style.groove != "cinematic" else "tom_low", 0.35 + 0.3 * strength, exact=True)
    for sec in plan.sections[1:]:
        if not sec.starts_on_cut and sec.intensity >= 3 and plan.bars[sec.first_bar].start_beat < plan.end_beat:
            add(plan.bar_time(sec.first_bar), "crash", 0.6, exact=True)
    # Cuts no beat reaches: an accent on the nearest subdivision.
    for t, strength in plan.off_grid_cuts:
        b = int(np.searchsorted(plan.beats_s, t) - 1)
        if b < 0 or b + 1 >= len(plan.beats_s) or b >= plan.end_beat:
            continue
        steps = [step_time(plan, b, s, swing) for s in range(plan.subdivisions)] + [float(plan.beats_s[b + 1])]
        ts = steps[int(np.argmin(np.abs(np.asarray(steps) - t)))]
        add(ts, "tom_mid" if style.groove == "cinematic" else "clap", 0.4 + 0.4 * strength)

    accents: list[DrumHit] = []  # kept apart: the groove's humanizing must not depend on them
    # Motion peaks: a light percussion accent where a strong visual beat meets a 16th (within
    # 25 ms), away from cuts and only once the groove plays; the picture's motion is felt
    # without moving the beat.
    level_at = {b: sec.intensity for sec in plan.sections
                for bi in range(sec.first_bar, sec.end_bar)
                for b in range(plan.bars[bi].start_beat, plan.bars[bi].start_beat + plan.bars[bi].n_beats)}
    for t, strength in visual_beats:
        b = int(np.searchsorted(plan.beats_s, t) - 1)
        if strength < 0.5 or b < 0 or b >= plan.end_beat or level_at.get(b, 0) < 2:
            continue
        if any(abs(t - plan.beats_s[c]) < 0.2 for c in plan.cut_beats):
            continue
        grid = np.asarray([step_time(plan, b, s_, swing) for s_ in range(plan.subdivisions)])
        k = int(np.argmin(np.abs(grid - t)))
        if abs(grid[k] - t) <= 0.025 and k > 0:  # off the beat itself: the beat is already busy
            accents.append(DrumHit(round(float(grid[k]), 6), "tom_high" if style.groove == "cinematic" else "rim",
                                   round(0.2 + 0.25 * strength, 4)))

    # The editor's hits: every `hit` and `section` gets the full accent (kick and crash, an impact
    # in cinematic) on its frame, whatever the section's energy; the downbeat after a `stop`
    # brings the music back the same way.
    big = "impact" if style.groove == "cinematic" else "crash"
    for b, kind in plan.hit_beats:
        if kind != "stop" and b <= plan.end_beat:
            add(float(plan.beats_s[b]), "kick", 1.0, exact=True)
            add(float(plan.beats_s[b]), big, 0.95, exact=True)
    for _, t in plan.breaks_s:
        if t < plan.duration_s:
            add(t, "kick", 0.95, exact=True)
            add(t, "crash", 0.75, exact=True)

    # The ending: one last hit on the final tonic.
    t_end = float(plan.beats_s[plan.end_beat])
    add(t_end, "kick", 0.9, exact=True)
    add(t_end, "impact" if style.groove == "cinematic" else "crash", 0.65, exact=True)
    groove_hits = _humanize(hits, rng)
    taken = {(round(h.time_s, 3), h.kind) for h in groove_hits}
    extra = [h for h in accents if (round(h.time_s, 3), h.kind) not in taken]
    return sorted(groove_hits + extra, key=lambda h: (h.time_s, h.kind))


def _fill(plan: Plan, b: int, k: int, n: int, level: int, add, swing: float) -> None:
    """Beat `k` of an `n`-beat fill leading into the next section: snare (toms for cinematic)
    16ths rising in velocity."""
    toms = plan.style.groove in ("cinematic",)
    kinds = ("tom_high", "tom_mid", "tom_low", "tom_low") if toms else ("snare",) * 4
    gentle = plan.style.groove == "boom_bap"  # lo-fi: a lazy eighth-note fill, not a roll
    steps = range(plan.subdivisions) if level >= 2 and not gentle else (0, 2)
    for s in steps:
        progress = (k * plan.subdivisions + s + 1) / (n * plan.subdivisions)
        kind = kinds[min(int(progress * 4), 3)] if toms else kinds[0]
        add(step_time(plan, b, s, swing), kind, 0.35 + 0.5 * progress)


def _humanize(hits, rng: np.random.Generator) -> list[DrumHit]:
    """A few ms of timing drift and ±10% velocity, never on the hits that carry cuts."""
    out = []
    merged: dict[tuple[int, str], tuple] = {}  # one hit per instrument and instant: the loudest
    for h in hits:
        key = (int(round(h[0] * 1000)), h[1])
        if key not in merged or h[2] > merged[key][2]:
            merged[key] = h if key not in merged else (h[0], h[1], h[2], h[3], h[4] or merged[key][4])
    hits = sorted(merged.values(), key=lambda h: (h[0], h[1]))
    jitter_t = rng.normal(0.0, 0.003, len(hits)).clip(-0.006, 0.006)
    jitter_v = rng.normal(1.0, 0.06, len(hits)).clip(0.9, 1.1)
    for (t, kind, vel, length, exact), dt, dv in zip(hits, jitter_t, jitter_v, strict=False):
        if not exact and kind != "riser":
            t, vel = max(t + float(dt), 0.0), float(np.clip(vel * dv, 0.05, 1.0))
        out.append(DrumHit(round(t, 6), kind, round(vel, 4), round(length, 6)))
    return out
