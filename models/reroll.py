"""Re-roll one range of a take: new music inside it, the take itself, sample for sample, outside.

The take without the re-roll is made again (the same request is the same take) and a second take
with new music is spliced into it. Post-processing's gain is global (loudness, bus compression),
so only splicing finished audio keeps the outside identical. The seams are short linear
crossfades that end on a beat of the take's plan, so each side's attack on that beat is whole;
both takes meet the same loudness target, so the level holds across them.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from .directing import REROLL_HANDLE_S
from .interface import FinishedScore, MusicModel, ScoreOptions, Segment, check_cancelled
from .post import finish
from .post.levels import integrated_loudness, true_peak_dbtp

CROSSFADE_S = 0.06  # each seam: short enough to stay inside the handles, long enough not to click


def seams(reroll: tuple[float, float], beats_s, length_s: float) -> tuple[float, float]:
    """(into, back) seconds: the beats where the new music takes over and where the take returns,
    each crossfade ending there. The beat at or before START (at or after END) that keeps its
    crossfade inside the handles; START (END) itself when no beat does."""
    start, end = reroll
    beats = np.asarray(beats_s, np.float64)
    early = beats[(beats <= start) & (beats - CROSSFADE_S >= start - REROLL_HANDLE_S)]
    into = float(early[-1]) if len(early) else start
    late = beats[(beats >= end) & (beats <= end + REROLL_HANDLE_S)]
    back = float(late[0]) if len(late) else end
    return max(into, CROSSFADE_S), min(back, length_s)


def _splice(base: np.ndarray, new: np.ndarray, into: int, back: int, fade: int) -> np.ndarray:
    """base (ch, n) with new (ch, n) over [into, back): linear ramps over the `fade` frames before each."""
    w = np.zeros(base.shape[1], np.float32)  # weight of the new music
    w[into:back] = 1.0
    ramp = np.arange(1, fade + 1, dtype=np.float32) / (fade + 1)
    w[into - fade : into] = ramp
    if back < base.shape[1]:
        w[back - fade : back] = 1.0 - ramp
    return base + w * (new - base)


def score_rerolled(model: MusicModel, segment: Segment | None, analysis, options: ScoreOptions, progress,
                   cancel: threading.Event | None = None) -> FinishedScore:
    """The finished take of `options` with `options.reroll` re-rolled by `options.reroll_seed`.

    The composer keeps its plan and writes new parts (it reads the re-roll from the options);
    other models make a whole new take from the re-roll seed, spliced in the same way.
    """
    plain = replace(options, reroll=None, reroll_seed=0)
    take = finish(model.compose(segment, analysis, plain, progress=lambda s, f: progress(s, 0.5 * f), cancel=cancel),
                  analysis, plain, consume=True, cancel=cancel)
    check_cancelled(cancel)
    other = options if model.name == "composer" else replace(plain, seed=options.reroll_seed)
    new = finish(model.compose(segment, analysis, other, progress=lambda s, f: progress(s, 0.5 + 0.5 * f),
                               cancel=cancel), analysis, other, consume=True, cancel=cancel)
    sr = take.sample_rate
    frames = take.mix.shape[1]
    beats = take.plan.beats_s if take.plan is not None else ()
    into_s, back_s = seams(options.reroll, beats, frames / sr)
    fade = int(round(CROSSFADE_S * sr))
    into, back = int(round(into_s * sr)), int(round(back_s * sr))
    mix = _splice(take.mix, new.mix, into, back, fade)
    stems = {k: _splice(x, new.stems[k], into, back, fade) for k, x in take.stems.items()}
    extra = {**take.extra, "reroll": {"start_s": options.reroll[0], "end_s": options.reroll[1],
                                      "seed": int(options.reroll_seed),
                                      "seams_s": [round(into_s, 6), round(back_s, 6)]}}
    return replace(take, mix=mix, stems=stems, loudness_lufs=integrated_loudness(mix, sr),
                   true_peak_dbtp=true_peak_dbtp(mix), extra=extra)
