"""Hand-built arrangements for the synthesizer and post-processing tests (no planner involved)."""

from __future__ import annotations

import numpy as np

from scorecut.models.composer.events import Arrangement, DrumHit, Note
from scorecut.models.interface import MusicalPlan, Section

CHORDS = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))  # Am F C G


def plan_for(duration_s: float, bpm: float) -> MusicalPlan:
    beat = 60.0 / bpm
    beats = tuple(float(t) for t in np.arange(0.0, duration_s, beat))
    return MusicalPlan(bpm, "4/4", "A minor", beats, beats[::4], (Section(0.0, duration_s, 3),), "test", "")


def dense(
    duration_s: float = 8.0,
    bpm: float = 120.0,
    instruments: dict | None = None,
    tail_end_s: float | None = None,
    seed: int = 0,
) -> Arrangement:
    """A busy groove: 16th hats, kick/snare, fills, crash and riser, 8th bass, sustained chords
    that overlap their successors, a melody with very short and long notes, and notes that run
    past the tail end (so the tail fade is exercised)."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n_beats = int(duration_s / beat)
    drums, bass, harmony, melody = [], [], [], []
    for b in range(n_beats):
        t = b * beat
        drums.append(DrumHit(t, "kick" if b % 2 == 0 else "snare", 0.95))
        drums += [DrumHit(t + k * beat / 4, "hat_closed", 0.5 + 0.3 * (k == 0)) for k in range(4)]
        if b % 8 == 7:
            drums += [DrumHit(t, "hat_open", 0.7), DrumHit(t + beat / 2, "tom_mid", 0.8),
                      DrumHit(t + 0.75 * beat, "clap", 0.8)]
        if b % 8 == 0:
            drums.append(DrumHit(t, "crash", 0.8))
        chord = CHORDS[(b // 4) % 4]
        bass.append(Note(t, 0.45 * beat, chord[0] - 24, 0.9))
        bass.append(Note(t + beat / 2, 0.4 * beat, chord[0] - 12, 0.7))
        if b % 4 == 0:
            harmony += [Note(t, 4.3 * beat, p, 0.7) for p in chord]  # overlaps the next chord
        melody.append(Note(t, float(rng.choice([0.03, 0.25, 0.5, 1.2])) * beat, 69 + int(rng.choice([0, 3, 5, 7, 12])),
                           0.8))
    drums.append(DrumHit(max(0.0, duration_s - 3.0), "riser", 0.8, length_s=1.5))
    drums.append(DrumHit(duration_s - 1.5, "impact", 1.0))
    return Arrangement(
        duration_s=duration_s,
        plan=plan_for(duration_s, bpm),
        drums=tuple(drums),
        bass=tuple(bass),
        harmony=tuple(harmony),
        melody=tuple(melody),
        instruments=instruments or {"drums": "electronic", "bass": "synth", "harmony": "pad", "melody": "lead"},
        reverb_send={"drums": 0.1, "bass": 0.03, "harmony": 0.35, "melody": 0.3},
        tail_end_s=duration_s if tail_end_s is None else tail_end_s,
    )


def single(duration_s: float, stem: str, preset: str, note: Note | None = None,
           hit: DrumHit | None = None) -> Arrangement:
    """One note (or one drum hit) alone, dry: for measuring an instrument."""
    return Arrangement(
        duration_s=duration_s,
        plan=plan_for(duration_s, 120.0),
        drums=(hit,) if hit else (),
        bass=(note,) if note and stem == "bass" else (),
        harmony=(note,) if note and stem == "harmony" else (),
        melody=(note,) if note and stem == "melody" else (),
        instruments={stem: preset},
        reverb_send={stem: 0.0},
        tail_end_s=duration_s,
    )
