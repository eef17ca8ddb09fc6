"""One job, in-process: segment -> analysis -> model -> post-processing -> finished stems.

The server's worker and the in-process benchmark both call `score_segment`; nothing here knows
about gRPC.
"""

from __future__ import annotations

import threading

from .analysis import analyze_segment
from .analysis.types import VideoAnalysis
from .interface import FinishedScore, MusicModel, ProgressFn, ScoreOptions, Segment, no_progress
from .post import finish

# Share of the whole job each stage takes, for one progress fraction over the job.
_STAGE_SPAN = {"analysis": (0.0, 0.3), "compose": (0.3, 0.9), "post": (0.9, 1.0)}


def _scaled(progress: ProgressFn, stage: str) -> ProgressFn:
    lo, hi = _STAGE_SPAN[stage]
    return lambda name, fraction: progress(name, lo + (hi - lo) * min(max(fraction, 0.0), 1.0))


def score_segment(
    segment: Segment,
    options: ScoreOptions,
    model: MusicModel,
    *,
    progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    analysis: VideoAnalysis | None = None,
) -> tuple[VideoAnalysis, FinishedScore]:
    """Score a segment. `progress(stage, fraction)` gets a fraction over the whole job."""
    if analysis is None:
        analysis = analyze_segment(segment, progress=_scaled(progress, "analysis"), cancel=cancel)
    seen = analysis
    if getattr(model, "needs_segment", False):  # vmas decodes the pictures itself
        from .vmas.serving import SegmentAnalysis

        seen = SegmentAnalysis(analysis, segment)
    output = model.compose(seen, options, progress=_scaled(progress, "compose"), cancel=cancel)
    progress("post", _STAGE_SPAN["post"][0])
    # The model's arrays are not used again: post-processing works in them (saves a copy of
    # every stem, ~0.9 GB on a 10-minute segment).
    finished = finish(output, analysis, options, consume=True, cancel=cancel)
    del output
    finished.model = model.name
    finished.seed = options.seed
    progress("post", 1.0)
    return analysis, finished
