"""One job, in-process: segment -> analysis (cached) -> model -> post-processing -> finished stems.

The pipeline owns its stages: it makes (or reuses) the analysis, gives each stage its share of
one progress fraction over the whole job, and reports what happens as small event objects
(models.events). The server's worker relays those events; the in-process
benchmark ignores them. Nothing here knows about gRPC.
"""

from __future__ import annotations

import collections
import threading

from .analysis import analyze_segment
from .analysis.types import VideoAnalysis
from .events import AnalysisReady, EventFn, Progress, Started, ignore_events
from .interface import FinishedScore, MusicModel, ProgressFn, ScoreOptions, Segment
from .post import finish
from .reroll import score_rerolled

# Share of the whole job each stage takes, for one progress fraction over the job.
STAGE_SPAN = {"analysis": (0.0, 0.3), "compose": (0.3, 0.9), "post": (0.9, 1.0)}
PROGRESS_STEP = 0.01  # report progress when it moved at least this much (or the stage changed)
ANALYSES_KEPT = 8  # recent analyses reused by requests that differ only in options (seed, style)


class AnalysisCache:
    """The last ANALYSES_KEPT analyses by key (clip ranges and media content, not options)."""

    def __init__(self, kept: int = ANALYSES_KEPT):
        self.kept = kept
        self._items: collections.OrderedDict[str, VideoAnalysis] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> VideoAnalysis | None:
        with self._lock:
            analysis = self._items.get(key)
            if analysis is not None:
                self._items.move_to_end(key)
            return analysis

    def put(self, key: str, analysis: VideoAnalysis) -> None:
        with self._lock:
            self._items[key] = analysis
            self._items.move_to_end(key)
            while len(self._items) > self.kept:
                self._items.popitem(last=False)


class _JobProgress:
    """Turns each stage's own 0..1 into the job's fraction, never backwards, at most every 1%."""

    def __init__(self, on_event: EventFn):
        self.on_event = on_event
        self.last_stage, self.last = "", -1.0

    def stage(self, span: str) -> ProgressFn:
        lo, hi = STAGE_SPAN[span]
        return lambda name, fraction: self.report(name, lo + (hi - lo) * min(max(fraction, 0.0), 1.0))

    def report(self, stage: str, fraction: float) -> None:
        fraction = min(max(fraction, self.last, 0.0), 1.0)  # whatever the stages' rounding
        if stage != self.last_stage or fraction - self.last >= PROGRESS_STEP or fraction >= 1.0:
            self.last_stage, self.last = stage, fraction
            self.on_event(Progress(stage, fraction))


def score_segment(
    segment: Segment | None,
    options: ScoreOptions,
    model: MusicModel,
    *,
    on_event: EventFn = ignore_events,
    cancel: threading.Event | None = None,
    analyses: AnalysisCache | None = None,
    analysis_key: str = "",
    analysis: VideoAnalysis | None = None,
    decoder: str = "cpu",
) -> tuple[VideoAnalysis, FinishedScore]:
    """Score a segment; returns its analysis and the finished stems.

    The analysis is `analysis` when given, else the one `analyses` holds under `analysis_key`,
    else made now (and kept there). `on_event` gets Started, Progress and AnalysisReady events.
    `segment` may be None only with an analysis given and a model that needs no pictures.
    `decoder` ("cpu" or "cuda") decodes the pictures of an analysis made now; `analysis_key` must
    name it when it can differ (server/request.py keys a "cuda" one apart).
    """
    on_event(Started())
    progress = _JobProgress(on_event)
    if analysis is None and analyses is not None and analysis_key:
        analysis = analyses.get(analysis_key)
    if analysis is None:
        if segment is None:
            raise ValueError("score_segment needs the segment or its analysis")
        analysis = analyze_segment(segment, progress=progress.stage("analysis"), cancel=cancel, decoder=decoder)
        if analyses is not None and analysis_key:
            analyses.put(analysis_key, analysis)
    on_event(AnalysisReady(analysis))
    if options.reroll is not None:  # the take, and new music spliced into it (models/reroll.py)
        finished = score_rerolled(model, segment, analysis, options, progress.stage("compose"), cancel)
    else:
        output = model.compose(segment, analysis, options, progress=progress.stage("compose"), cancel=cancel)
        progress.report("post", STAGE_SPAN["post"][0])
        # The model's arrays are not used again: post-processing works in them (saves a copy of
        # every stem, ~0.9 GB on a 10-minute segment).
        finished = finish(output, analysis, options, consume=True, cancel=cancel)
        del output
    finished.model = model.name
    finished.seed = options.seed
    progress.report("post", 1.0)
    return analysis, finished
