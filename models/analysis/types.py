"""The result of analysing a timeline segment: arrays of per-frame features with timestamps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VideoAnalysis:
    """Per-frame features of a segment, all times in seconds from the segment start.

    Curves share `times_s`, shape (n,), sampled at about `analysis_fps`. Events (cuts, visual
    beats) are sorted arrays of times with a strength each.
    """

    duration_s: float  # segment length (the output length)
    analysis_fps: float  # nominal rate of the per-frame curves
    times_s: np.ndarray  # (n,) float64 frame times
    motion: np.ndarray  # (n,) float32 motion energy, 0..1 (normalised frame-to-frame change)
    brightness: np.ndarray  # (n,) float32 mean luma, 0..1
    saturation: np.ndarray  # (n,) float32 mean saturation, 0..1
    warmth: np.ndarray  # (n,) float32 red-blue balance, -1 (cold) .. 1 (warm)
    cuts_s: np.ndarray  # (k,) float64 cuts: hard cuts, transition midpoints, clip boundaries
    cut_strength: np.ndarray  # (k,) float32 0..1 importance (clip boundaries and hard cuts high)
    cut_kinds: tuple[str, ...]  # (k,) "hard" | "fade" | "dissolve" | "boundary"
    visual_beats_s: np.ndarray  # (b,) float64 peaks of frame-to-frame change (VMAS's motion cue)
    visual_beat_strength: np.ndarray  # (b,) float32 0..1
    pace: np.ndarray  # (n,) float32 local cut/motion rate, 0..1 (slow .. frantic)
    speech_times_s: np.ndarray  # (m,) float64 times of the speech curve (empty without audio)
    speech: np.ndarray  # (m,) float32 probability of speech in the clips' own audio, 0..1

    def to_json(self) -> dict:
        """The `scorecut analyze --json` form: plain lists, times rounded to the microsecond."""
        return {
            "duration_s": round(float(self.duration_s), 6),
            "analysis_fps": float(self.analysis_fps),
            "cuts_s": [round(float(t), 6) for t in self.cuts_s],
            "cut_kinds": list(self.cut_kinds),
            "visual_beats_s": [round(float(t), 6) for t in self.visual_beats_s],
            "times_s": [round(float(t), 6) for t in self.times_s],
            "motion": [round(float(v), 5) for v in self.motion],
            "brightness": [round(float(v), 5) for v in self.brightness],
            "saturation": [round(float(v), 5) for v in self.saturation],
            "warmth": [round(float(v), 5) for v in self.warmth],
            "pace": [round(float(v), 5) for v in self.pace],
            # Speech has its own time base (empty arrays when the clips have no audio).
            "speech_times_s": [round(float(t), 6) for t in self.speech_times_s],
            "speech": [round(float(v), 5) for v in self.speech],
        }
