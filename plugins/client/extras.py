"""The extras of a take, preview.mp4 and alignment.png, made inside its temporary folder.

They are drawn from what the server streamed (the Analysis and Plan events a Draft carries), so
no front end decodes or analyses the video a second time. Unlike the rest of the client library
this needs numpy, matplotlib and PyAV: the `scorecut` command and the watch folder use it; the
host plugins, which carry the client alone, do not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .output import Draft
from .types import ClipSpec

PREVIEW_FILE = "preview.mp4"
PLOT_FILE = "alignment.png"


def analysis_from_message(message):
    """A models.analysis.VideoAnalysis from a scorecut.v1.Analysis (the curves the plot draws;
    brightness, saturation and warmth do not travel and come back as zeros)."""
    from scorecut.models.analysis.types import VideoAnalysis

    times = np.asarray(message.times_s, np.float64)  # (n,)
    zeros = np.zeros(len(times), np.float32)
    motion = np.asarray(message.motion, np.float32)
    if len(motion) != len(times):  # an older server sends motion without its times
        times = np.arange(len(motion), dtype=np.float64) / max(message.analysis_fps, 1e-9)
        zeros = np.zeros(len(motion), np.float32)
    pace = np.asarray(message.pace, np.float32) if len(message.pace) == len(times) else zeros
    n_cuts = len(message.cuts_s)
    return VideoAnalysis(
        duration_s=float(message.duration_s), analysis_fps=float(message.analysis_fps), times_s=times,
        motion=motion, brightness=zeros, saturation=zeros, warmth=zeros,
        cuts_s=np.asarray(message.cuts_s, np.float64),
        cut_strength=np.asarray(message.cut_strength, np.float32) if len(message.cut_strength) == n_cuts
        else np.ones(n_cuts, np.float32),
        cut_kinds=tuple(message.cut_kinds) if len(message.cut_kinds) == n_cuts else ("hard",) * n_cuts,
        visual_beats_s=np.asarray(message.visual_beats_s, np.float64),
        visual_beat_strength=np.asarray(message.visual_beat_strength, np.float32)
        if len(message.visual_beat_strength) == len(message.visual_beats_s)
        else np.ones(len(message.visual_beats_s), np.float32),
        pace=pace, speech_times_s=np.asarray(message.speech_times_s, np.float64),
        speech=np.asarray(message.speech, np.float32))


def plan_from_message(message):
    """A models.interface.MusicalPlan from a scorecut.v1.Plan."""
    from scorecut.models.interface import MusicalPlan, Section

    return MusicalPlan(tempo_bpm=float(message.tempo_bpm), meter=message.meter, key=message.key,
                       beats_s=tuple(message.beats_s), downbeats_s=tuple(message.downbeats_s),
                       sections=tuple(Section(s.start_s, s.end_s, int(s.intensity), s.label)
                                      for s in message.sections),
                       style=message.style, mood=message.mood)


def write_extras(draft: Draft, clips: Sequence[ClipSpec], *, preview: bool, plot: bool,
                 warn: Callable[[str], None], otio: bool = False, name: str = "",
                 timecode_start_s: float | None = None) -> None:
    """preview.mp4, alignment.png and <name>.otio in the draft's folder, as asked. A failure is
    said through `warn` and never fails the take: the stems the user came for are good."""
    if preview:
        from .preview import PreviewUnsupported, preview_for_clips

        try:
            note = preview_for_clips(clips, draft.folder / draft.score["mix"]["file"], draft.folder / PREVIEW_FILE)
            if note:
                warn(note)
        except PreviewUnsupported as e:
            warn(f"no preview: {e}")
        except Exception as e:  # reported; the take stands without it
            warn(f"no {PREVIEW_FILE}: {e}")
    if otio:
        try:
            from .bext import source_start_s
            from .otio_export import write_otio

            start = timecode_start_s if timecode_start_s is not None else source_start_s(clips, draft.analysis)
            write_otio(draft.folder, draft.score, name or Path(clips[0].path).stem, start)
        except ImportError:
            warn("no .otio: the opentimelineio package is missing; pip install opentimelineio")
        except Exception as e:  # reported; the take stands without it
            warn(f"no .otio: {e}")
    if plot:
        try:
            if draft.analysis is None:
                raise ValueError("the server sent no analysis; update the server")
            from scorecut.models.analysis.plot import plot_alignment

            plan = plan_from_message(draft.plan) if draft.plan is not None else None
            plot_alignment(analysis_from_message(draft.analysis), Path(draft.folder) / PLOT_FILE, plan,
                           ducked_spans_s=[tuple(s) for s in draft.score.get("ducked_spans_s", ())])
        except Exception as e:  # reported; the take stands without it
            warn(f"no {PLOT_FILE}: {e}")
