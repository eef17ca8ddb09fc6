"""The composer: the embedded default model. Plan -> arrangement -> synthesized stems.

Stems: the composer always renders and returns all four stems, whatever `options.stems` asks
for, because the mix is the whole piece (ScoreOptions.stems are the stems wanted *besides* the
mix) and post-processing builds the mix as the sum of the stems it is given; post keeps only the
requested stems in the finished score. So the mix equals the sum of the four stems.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import directing
from ..interface import (
    STEMS,
    ModelInfo,
    ModelOutput,
    ProgressFn,
    ScoreOptions,
    Segment,
    check_cancelled,
    no_progress,
)
from . import soundfont
from .arrangement import arrange
from .directions import LOOP_RING_S, breathe_before, fold_loop, silence_breaks
from .midi import MIDI_EXTRA, score_mid_base64
from .plan import make_plan
from .styles import MOODS, STYLES

if TYPE_CHECKING:
    from ..analysis.types import VideoAnalysis


class ComposerModel:
    """Implements models.interface.MusicModel; no weights, CPU-fast, deterministic per seed."""

    name = "composer"

    def __init__(self, model_dir: Path | None = None):
        self.model_dir = model_dir  # where `scorecut models add soundfont` puts a SoundFont

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            available=True,
            stems=STEMS,
            native_output="stems",
            description="Embedded composer: beats and sections follow the cuts, no weights; "
                        + soundfont.describe(self.model_dir) + ".",
            styles=tuple(STYLES),
            moods=tuple(MOODS),
            directions=("hits", "reroll", "loop", "tail"),
        )

    def compose(
        self,
        segment: Segment | None,
        analysis: VideoAnalysis,
        options: ScoreOptions,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
    ) -> ModelOutput:
        """The composer reads the analysis alone; `segment` may be None (no pictures needed)."""
        self.info().check(options, analysis.duration_s)
        progress("plan", 0.0)
        plan = make_plan(analysis, options)
        check_cancelled(cancel)
        progress("arrange", 0.1)
        # A re-roll keeps the plan (tempo, beats, key, sections) and writes new parts on it.
        seed = options.seed if options.reroll is None else options.reroll_seed
        arrangement = arrange(plan, analysis, seed)
        check_cancelled(cancel)
        progress("synthesize", 0.2)
        from .synth import render  # the DSP half; heavy, imported when first used

        frames = int(round(plan.duration_s * options.sample_rate))
        if plan.loop:  # rendered on past the end, then folded: the join is seamless
            longer = plan.duration_s + LOOP_RING_S
            arrangement = replace(arrangement, duration_s=longer, tail_end_s=longer)
        font = soundfont.font_for(arrangement.plan.style, self.model_dir)
        stems = render(arrangement, options.sample_rate, seed, stems=STEMS, cancel=cancel, soundfont=font)
        if plan.loop:
            stems = fold_loop(stems, frames)
        silence_breaks(stems, plan.breaks_s, options.sample_rate)
        breathe_before(stems, [float(plan.beats_s[b]) for b, kind in plan.hit_beats if kind == "hit"],
                       options.sample_rate)
        check_cancelled(cancel)
        progress("synthesize", 1.0)
        extra = {"tempo_reason": plan.tempo_reason, **directing.report(options, arrangement.plan)}
        extra[MIDI_EXTRA] = score_mid_base64(arrangement, plan.duration_s, articulate=font is not None)
        extra["instruments"] = f"soundfont {font.name}" if font is not None else "synthesizer"
        return ModelOutput(sample_rate=options.sample_rate, stems=stems, plan=arrangement.plan, extra=extra)
