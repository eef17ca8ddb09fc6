"""The result of analysing a timeline segment: arrays of per-frame features with timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # Added with the editor's reading of the picture; defaults keep older callers working.
    cut_confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (k,) 0..1;
    # empty when unknown. Changes under MIN_CONFIDENCE are not cuts: they are accents below.
    accents_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (a,) float64 visual accents
    # that are not cuts: impacts (motion reversing, a ball's bounce), flashes, unsure changes
    accent_strength: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (a,) 0..1
    accent_kinds: tuple[str, ...] = ()  # (a,) "impact" | "flash" | "change"
    motion_period_s: float = 0.0  # period of regular motion (steps, bounces), 0 when there is none
    motion_period_confidence: float = 0.0  # 0..1 how regular that motion is
    speech_lufs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (m,) float32
    # K-weighted loudness (LUFS) of the clips' own sound at speech_times_s: how loud the dialogue is
    decoder: str = "cpu"  # what decoded the pictures: "cpu", "cuda" (NVDEC), or "cuda and cpu" across clips
    decoder_note: str = ""  # why the CPU decoded where the GPU was asked for; "" when the request was met

    def to_json(self) -> dict:
        """The `scorecut analyze --json` form: plain lists, times rounded to the microsecond."""
        return {
            "duration_s": round(float(self.duration_s), 6),
            "analysis_fps": float(self.analysis_fps),
            "cuts_s": [round(float(t), 6) for t in self.cuts_s],
            "cut_kinds": list(self.cut_kinds),
            "cut_confidence": [round(float(c), 3) for c in self.cut_confidence],
            "cut_strength": [round(float(c), 3) for c in self.cut_strength],
            "visual_accents": [{"time_s": round(float(t), 6), "strength": round(float(s), 3), "kind": k}
                               for t, s, k in zip(self.accents_s, self.accent_strength, self.accent_kinds,
                                                  strict=True)],
            "motion_period_s": round(float(self.motion_period_s), 4),
            "motion_period_confidence": round(float(self.motion_period_confidence), 3),
            "decoder": self.decoder,
            "decoder_note": self.decoder_note,
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
