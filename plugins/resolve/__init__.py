"""DaVinci Resolve integration: score a timeline range and get one audio track per stem.

`score_timeline(resolve, scope="inout"|"current"|"timeline", server=None, **options)` does the
whole job against a Resolve scripting object; the panel and the Scripts-menu entry call it.
"""

from .errors import ResolveScoreError
from .reroll import reroll_section
from .score import ResolveJob, prepare, score_timeline, server_address
from .timeline_reader import SCOPES, TimelineSegment, read_segment

__all__ = ["SCOPES", "ResolveJob", "ResolveScoreError", "TimelineSegment", "prepare", "read_segment", "reroll_section",
           "score_timeline", "server_address"]
