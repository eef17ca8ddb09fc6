"""A made edit analysed once, and the composer run on it in-process (no server)."""

from __future__ import annotations

from pathlib import Path

from scorecut.models.interface import Clip, ScoreOptions, Segment


def analysed_edit(folder: Path, duration_s: float, cuts_s: tuple[float, ...]):
    """(segment, analysis) of a made clip with cuts at `cuts_s`."""
    from scorecut.models.analysis import analyze_segment
    from tests.helpers.videos import VideoSpec, make_video

    path = make_video(folder / "edit.mp4", VideoSpec(duration_s=duration_s, cuts_s=cuts_s, fps=25, motion=2.0, seed=7))
    segment = Segment((Clip(str(path), 0.0, duration_s, 0.0, duration_s, "edit"),), duration_s)
    return segment, analyze_segment(segment)


def compose(clip, **options):
    """The composer's result for (segment, analysis) with these ScoreOptions, as a job makes it."""
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.pipeline import score_segment

    segment, analysis = clip
    return score_segment(segment, ScoreOptions(**options), ComposerModel(), analysis=analysis)[1]
