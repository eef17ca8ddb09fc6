"""The editor's directions (hit points, re-roll, loop, ring-out tail): checked once, for every model.

Front ends read them (plugins.client.hits); the server and the models call `check` so a bad
direction gets one clear message whichever way it came.
"""

from __future__ import annotations

from scorecut.v1 import HIT_KINDS  # the contract's: front ends take the same list

from .interface import RequestError, ScoreOptions

HIT_MIN_GAP_S = 0.5  # two hits closer than this cannot both land on downbeats at a playable tempo
HIT_EDGE_S = 0.05  # a hit must lie this far inside the segment
MAX_TAIL_S = 30.0  # a ring-out longer than this is no longer a tail
REROLL_MIN_S = 0.5  # a shorter range holds no beat to re-write
REROLL_HANDLE_S = 0.5  # the re-roll may differ this far outside its range (crossfades on beat boundaries)


def check(options: ScoreOptions, duration_s: float) -> None:
    """Raise RequestError, saying what to do, when the directions cannot be followed on a segment
    of `duration_s` seconds."""
    times = sorted(h.time_s for h in options.hits)
    for h in options.hits:
        if h.kind not in HIT_KINDS:
            raise RequestError(f"hit kind {h.kind!r} is unknown; use one of: {', '.join(HIT_KINDS)}")
        if not HIT_EDGE_S <= h.time_s <= duration_s - HIT_EDGE_S:
            raise RequestError(f"the hit at {h.time_s:g} s is outside the segment (0 to {duration_s:.2f} s); "
                               "give hit times in seconds from the segment start")
    for a, b in zip(times, times[1:], strict=False):
        if b - a < HIT_MIN_GAP_S:
            raise RequestError(f"hits at {a:g} s and {b:g} s are {b - a:.2f} s apart; keep hits at least "
                               f"{HIT_MIN_GAP_S:g} s apart (one hit per moment)")
    if options.loop and options.hits:
        raise RequestError("a loop takes no hit points (its bars are fixed by the loop's length); "
                           "drop --loop or the hits")
    if options.loop and options.tail_s:
        raise RequestError("a loop has no ending to ring out; drop --loop or --tail")
    if not 0.0 <= options.tail_s <= MAX_TAIL_S:
        raise RequestError(f"tail {options.tail_s:g} s is out of range; give 0 to {MAX_TAIL_S:g} seconds")
    if options.reroll is not None:
        start, end = options.reroll
        if not 0.0 <= start < end <= duration_s + options.tail_s:
            raise RequestError(f"re-roll range {start:g},{end:g} is not inside the segment (0 to "
                               f"{duration_s + options.tail_s:.2f} s) with its start before its end")
        if end - start < REROLL_MIN_S:
            raise RequestError(f"re-roll range {start:g},{end:g} is shorter than {REROLL_MIN_S:g} s; give a "
                               "range that holds at least a beat")
        if options.reroll_seed == options.seed:
            raise RequestError("the re-roll seed equals the take's seed, so nothing would change; give "
                               "--reroll-seed another number")


HIT_TOLERANCE_S = 0.010  # a hit is met when a downbeat (a section start, for `section`) lies this close


def report(options: ScoreOptions, plan) -> dict:
    """What was asked and what was done, for score.json: `hits` (each with the downbeat or section
    start that landed on it and whether it is met), `reroll`, `loop`, `tail_s`. `plan`: the
    MusicalPlan of the take."""
    out: dict = {}
    if options.hits:
        downbeats = [float(t) for t in plan.downbeats_s] if plan is not None else []
        starts = [float(s.start_s) for s in plan.sections] if plan is not None else []
        rows = []
        for h in sorted(options.hits, key=lambda h: h.time_s):
            ref = starts if h.kind == "section" else downbeats
            landed = min(ref, key=lambda t: abs(t - h.time_s)) if ref else None
            met = landed is not None and abs(landed - h.time_s) <= HIT_TOLERANCE_S
            rows.append({"time_s": round(h.time_s, 6), "kind": h.kind,
                         "landed_s": None if landed is None else round(landed, 6), "met": bool(met)})
        out["hits"] = rows
    if options.reroll is not None:
        out["reroll"] = {"start_s": options.reroll[0], "end_s": options.reroll[1], "seed": int(options.reroll_seed)}
    if options.loop:
        out["loop"] = True
    if options.tail_s:
        out["tail_s"] = float(options.tail_s)
    return out


def hits_met(beats_s, hits, tolerance_s: float) -> int:
    """How many of the editor's hits (Hit, kind hit/section/stop) a beat lies within `tolerance_s`
    of: how models that cannot place their beats (VMAS, MusicGen) rank their candidates first."""
    beats = [float(b) for b in beats_s]
    return sum(1 for h in hits if beats and min(abs(b - h.time_s) for b in beats) <= tolerance_s)
