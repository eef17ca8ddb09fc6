"""What a job reports on its way: small event objects, from the pipeline to whoever relays them.

Kept apart from the pipeline so the server can name them without importing analysis and
post-processing (heavy) before its worker warms up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis.types import VideoAnalysis


@dataclass(frozen=True)
class Started:
    """The job left the queue and its first stage began."""


@dataclass(frozen=True)
class Progress:
    stage: str  # the step running now ("decode", "plan", "synthesize", "post", ...)
    fraction: float  # of the whole job, 0..1, never backwards


@dataclass(frozen=True)
class AnalysisReady:
    """The analysis is known (made or reused): clients can show the cuts while music is written."""

    analysis: VideoAnalysis


JobEvent = Started | Progress | AnalysisReady
EventFn = Callable[[JobEvent], None]


def ignore_events(event: JobEvent) -> None:
    """An EventFn that reports nowhere."""
