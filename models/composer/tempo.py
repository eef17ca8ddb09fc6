"""The tempo the picture asks for, inside the style's range, and why.

Regular motion (steps, a bouncing ball, dancing, machinery) sets the beat: its period, or the
musical multiple of it (x2, /2, ...) that falls in the style's range, and its regular visual
accents (impacts) are offered to the grid as hits, so beats land on them. Without regular
motion the motion energy and the rate of cutting lean the tempo: a calm, slowly cut picture to
the slow end of the style, a busy, fast cut one to the fast end. The grid (grid.py) then bends
the tempo so cuts land on beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .styles import Mood, Style

PERIOD_CONFIDENCE = 0.5  # a motion period at least this regular sets the tempo
PERIOD_HOLD = 0.015  # the grid may move this far (a fraction) from the motion's tempo to meet cuts
ACCENT_MATCH_S = 0.04  # an accent is regular when another lies a whole number of beats away, within this
MAX_ACCENTS = 400  # accents offered to the grid (keeps its search quick on long segments)
BUSY_CUT_RATE = 0.5  # cuts per second that read as a fast edit (one every 2 s)


@dataclass(frozen=True)
class TempoChoice:
    range_bpm: tuple[float, float]  # the range the grid searches
    preferred_bpm: float  # where ties go
    accents_s: np.ndarray  # (a,) regular visual accents offered to the grid as hits
    reason: str  # for score.json: why this tempo


def _regular_accents(times: np.ndarray, beat_s: float) -> np.ndarray:
    """Accents with a neighbour 1-4 beats away (within ACCENT_MATCH_S): the regular ones."""
    keep = []
    for i, t in enumerate(times):
        d = np.abs(np.delete(times, i) - t)
        m = np.round(d / beat_s)
        if np.any((m >= 1) & (m <= 4) & (np.abs(d - m * beat_s) <= ACCENT_MATCH_S)):
            keep.append(t)
    return np.asarray(keep[:MAX_ACCENTS], np.float64)


def _multiple_in_range(period_s: float, lo: float, hi: float, target: float) -> tuple[float, float] | None:
    """(bpm, beats per motion period) of the musical multiple of the motion in [lo, hi] nearest target."""
    options = []
    for factor in (0.25, 0.5, 1.0, 2.0, 3.0, 4.0):  # beats per motion period
        bpm = 60.0 / period_s * factor
        if lo <= bpm <= hi:
            options.append((abs(bpm - target), bpm, factor))
    return (min(options)[1], min(options)[2]) if options else None


def choose_tempo(analysis, style: Style, mood: Mood | None, lo: float, hi: float) -> TempoChoice:
    """The tempo range and preference for the grid, from the picture, inside [lo, hi] BPM."""
    lean = style.tempo_centre + (0.3 * mood.tempo_lean if mood else 0.0)
    centre = lo + (hi - lo) * float(np.clip(lean, 0, 1))
    duration = max(float(analysis.duration_s), 1e-6)
    period = float(getattr(analysis, "motion_period_s", 0.0) or 0.0)
    conf = float(getattr(analysis, "motion_period_confidence", 0.0) or 0.0)
    if period > 0 and conf >= PERIOD_CONFIDENCE:
        found = _multiple_in_range(period, lo, hi, centre)
        if found is not None:
            bpm, factor = found
            beat = 60.0 / bpm
            accents = np.asarray(getattr(analysis, "accents_s", ()), np.float64)
            kinds = tuple(getattr(analysis, "accent_kinds", ()))
            impacts = accents[[k == "impact" for k in kinds]] if len(kinds) == len(accents) else accents
            regular = _regular_accents(np.sort(impacts), beat)
            rng = (max(lo, bpm * (1 - PERIOD_HOLD)), min(hi, bpm * (1 + PERIOD_HOLD)))
            per = {0.25: "a beat every four motion periods", 0.5: "a beat every other motion period",
                   1.0: "a beat per motion period", 2.0: "two beats per motion period",
                   3.0: "three beats per motion period", 4.0: "four beats per motion period"}[factor]
            reason = (f"regular motion every {period:.2f} s (regularity {conf:.2f}) sets the beat: {bpm:.1f} BPM, "
                      f"{per}, within the {style.name} range {lo:g}-{hi:g} BPM")
            if len(regular):
                reason += f"; {len(regular)} regular visual accents offered as hits"
            return TempoChoice(rng, bpm, regular, reason)
    motion = float(np.mean(analysis.motion)) if len(analysis.motion) else 0.3
    kinds = tuple(getattr(analysis, "cut_kinds", ()))
    n_cuts = sum(1 for k in kinds if k != "boundary") if len(kinds) == len(analysis.cuts_s) else len(analysis.cuts_s)
    rate = n_cuts / duration
    activity = float(np.clip(0.7 * motion + 0.3 * min(1.0, rate / BUSY_CUT_RATE), 0.0, 1.0))
    shifted = float(np.clip(lean + 0.9 * (activity - 0.35), 0.05, 0.95))
    preferred = lo + (hi - lo) * shifted
    how = "calm" if activity < 0.25 else "busy" if activity > 0.5 else "moderate"
    reason = (f"no regular motion to follow; a {how} picture (motion energy {motion:.2f}, "
              f"{n_cuts} cuts in {duration:.1f} s) "
              f"leans the tempo to about {preferred:.0f} BPM within the {style.name} range {lo:g}-{hi:g} BPM")
    if n_cuts:
        reason += "; the grid then bends it so cuts land on beats"
    if period > 0 and conf >= PERIOD_CONFIDENCE:
        reason += (f" (motion repeats every {period:.2f} s, but no musical multiple of it lies in that range; "
                   "widen the tempo range or choose another style to follow it)")
    elif period > 0:
        reason += f" (motion repeats every {period:.2f} s but too loosely: regularity {conf:.2f})"
    return TempoChoice((lo, hi), preferred, np.zeros(0), reason)
