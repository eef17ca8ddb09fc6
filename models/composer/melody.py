"""The melody: a 1–2 bar motif, repeated with variation over the chords, resting under speech.

A motif is a rhythm (which subdivisions sound) and a contour (scale steps between notes). Each
repetition is fitted to the chord of the moment (transposition), and every few repetitions it
is displaced by an eighth or inverted, so the ear hears one idea that develops. Notes on strong
beats are chord tones; the final note is the tonic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .events import Note
from .harmony import Chord
from .plan import Plan
from .styles import MODE_STEPS

RANGE_SEMITONES = 19  # about an octave and a half


@dataclass(frozen=True)
class Motif:
    onsets: tuple[float, ...]  # beat offsets within the motif
    lengths: tuple[float, ...]  # beats
    steps: tuple[int, ...]  # scale steps from the previous note (first: 0 = start on a chord tone)
    n_beats: int


def make_motif(plan: Plan, rng: np.random.Generator) -> Motif:
    bpb = plan.beats_per_bar
    n_beats = bpb * (2 if rng.random() < 0.6 and bpb <= 4 else 1)
    grid = 0.5 if plan.subdivisions == 4 else 1 / 3  # eighths
    slots = np.arange(0, n_beats, grid)
    density = plan.style.melody_density
    strong = (np.abs(slots - np.round(slots)) < 1e-9)
    p = np.where(strong, density + 0.25, density - 0.1)
    on = rng.random(len(slots)) < p
    on[0] = True
    on[-2:] = False  # breathe before the motif repeats
    if n_beats > bpb:
        on[int(bpb / grid) - 1] = False  # a short rest at the half
    onsets = slots[on]
    ends = np.append(onsets[1:], n_beats - 2 * grid)
    lengths = np.maximum((ends - onsets) * 0.92, grid * 0.8)
    lengths = np.minimum(lengths, 1.5)
    steps = [0]
    for _ in range(len(onsets) - 1):
        if rng.random() < 0.15:
            steps.append(int(rng.choice([-4, -3, 3, 4])))  # a leap...
        elif abs(steps[-1]) >= 3:
            steps.append(-int(np.sign(steps[-1])))  # ...recovered by a step back
        else:
            steps.append(int(rng.choice([-2, -1, -1, 1, 1, 2, 0])))
    return Motif(tuple(float(x) for x in onsets), tuple(float(x) for x in lengths), tuple(steps), n_beats)


def _scale_pitches(plan: Plan, low: int, high: int) -> np.ndarray:
    steps = MODE_STEPS[plan.mode]
    return np.asarray([p for p in range(low, high + 1) if (p - plan.tonic_pc) % 12 in steps])


def _chord_at(chords: list[Chord], beat: float) -> Chord:
    for ch in chords:
        if ch.start_beat <= beat < ch.end_beat:
            return ch
    return chords[-1]


def write_melody(plan: Plan, chords: list[Chord], active, rng: np.random.Generator) -> list[Note]:
    """`active(beat) -> bool`: whether the lead plays at this beat (intensity and no speech)."""
    motifs = {"A": make_motif(plan, rng)}
    motifs["B"] = make_motif(plan, rng)  # the chorus-like parts get their own idea
    low = 60 + plan.tonic_pc if plan.tonic_pc <= 6 else 48 + plan.tonic_pc
    high = low + RANGE_SEMITONES
    scale = _scale_pitches(plan, low, high)
    notes: list[Note] = []
    prev = low + 7
    rep = {"A": 0, "B": 0}
    for sec in plan.sections:
        part = "B" if sec.label == "B" else "A"
        motif = motifs[part]
        long_section = (sec.end_bar - sec.first_bar) * plan.beats_per_bar >= 4 * motif.n_beats
        for bi in range(sec.first_bar, sec.end_bar):
            bar = plan.bars[bi]
            b0 = bar.start_beat
            if b0 >= plan.end_beat or not active(b0):
                continue
            first_bar_of_motif = (bi - sec.first_bar) % max(motif.n_beats // plan.beats_per_bar, 1) == 0
            if not first_bar_of_motif:
                continue
            # Statement, restatement over the new chord, answer (inverted contour), then either
            # a breath (long sections: rests leave room for the picture) or the idea displaced.
            variant = rep[part] % 4
            rep[part] += 1
            onsets = np.asarray(motif.onsets)
            steps = list(motif.steps)
            if variant == 2:
                steps = [-s for s in steps]  # inverted contour
            if variant == 3:
                if long_section:
                    continue
                onsets = onsets + 0.5  # displaced by an eighth
            idx = None
            for on, length, step in zip(onsets, motif.lengths, steps, strict=False):
                beat = b0 + on
                if beat >= plan.end_beat - 0.5 or beat >= b0 + motif.n_beats or not active(int(beat)):
                    break
                ch = _chord_at(chords, beat)
                if idx is None:
                    # Start on the chord tone nearest where the last phrase ended.
                    tones = [p for p in scale if p % 12 in ch.pcs]
                    pitch = min(tones or list(scale), key=lambda p: abs(p - prev))
                    idx = int(np.argmin(np.abs(scale - pitch)))
                else:
                    idx = int(np.clip(idx + step, 0, len(scale) - 1))
                    pitch = int(scale[idx])
                    on_strong = abs(on - round(on)) < 1e-6 and int(round(on)) % 2 == 0
                    if on_strong and pitch % 12 not in ch.pcs:
                        tones = [p for p in scale if p % 12 in ch.pcs]
                        if tones:
                            pitch = min(tones, key=lambda p: abs(p - pitch))
                            idx = int(np.argmin(np.abs(scale - pitch)))
                start = plan.beat_time(beat)
                end = plan.beat_time(min(beat + length, plan.end_beat))
                vel = 0.75 if abs(on - round(on)) < 1e-6 else 0.6
                notes.append(Note(round(start, 6), round(max(end - start, 0.06), 6), int(pitch), vel))
                prev = int(pitch)
    # The last word: the tonic on the final chord, when the lead was playing before it.
    if notes and active(max(plan.end_beat - 1, 0)):
        t = float(plan.beats_s[plan.end_beat])
        tonic = min((p for p in scale if (p - plan.tonic_pc) % 12 == 0), key=lambda p: abs(p - prev))
        notes.append(Note(round(t, 6), round(max(plan.duration_s - t - 0.6, 0.2), 6), int(tonic), 0.7))
    return notes
