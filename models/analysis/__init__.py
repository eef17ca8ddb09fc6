"""Video analysis: decode for analysis, cuts, motion, visual beats, speech in the clips' audio."""

from .analyze import analyze_file, analyze_segment
from .probe import MediaInfo, probe_media
from .types import VideoAnalysis

__all__ = ["analyze_segment", "analyze_file", "probe_media", "MediaInfo", "VideoAnalysis"]
