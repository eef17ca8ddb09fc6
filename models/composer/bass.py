"""The bass line: roots on downbeats, fifths and approach notes by style, in E1..E3.

The figure locks to the kick: "pulse8" doubles it, "offbeat8" plays between four-on-the-floor
kicks (interlock, never a flam), the others start with the kick on the chord change.
"""

from __future__ import annotations

import numpy as np

from .events import Note
from .harmony import Chord
from .plan import Plan

BASS_LOW, BASS_HIGH = 28, 52  # E1..E3


def bass_root(pc: int) -> int:
    """The chord root in the bass's home octave, E1..D#2."""
    return BASS_LOW + (pc - BASS_LOW) % 12


def _approach(current: int, target: int, mode_steps: tuple[int, ...], tonic: int) -> int:
    """A note a step below or above `target` leading into it: the scale step, else chromatic."""
    below = [target - d for d in (1, 2) if (target - d - tonic) % 12 in mode_steps]
    above = [target + d for d in (1, 2) if (target + d - tonic) % 12 in mode_steps]
    options = below + above or [target - 1]
    return min(options, key=lambda p: abs(p - current))


def write_bass(plan: Plan, chords: list[Chord], section_level, rng: np.random.Generator) -> list[Note]:
    """`section_level(beat) -> int` gives the intensity in force at a beat index."""
    from .styles import MODE_STEPS

    figure = plan.style.bass_figure
    # In minor keys the bass says "minor": every note's own partials (a major third two octaves
    # up) pull a low line towards the parallel major, so the line leans on b3 and b6.
    minor_key = 3 in MODE_STEPS[plan.mode]
    steps = MODE_STEPS[plan.mode]
    notes: list[Note] = []
    bt = plan.beat_time
    for ci, ch in enumerate(chords):
        b0, b1 = ch.start_beat, ch.end_beat
        if b0 >= plan.end_beat:  # the final tonic, held to the end of the ring
            root = bass_root(ch.root_pc)
            notes.append(Note(bt(b0), max(plan.duration_s - bt(b0) - plan.release_s, 0.2), root, 0.85))
            break
        level = section_level(int(b0))
        if level < 1:
            continue
        root = bass_root(ch.root_pc)
        nxt = chords[ci + 1] if ci + 1 < len(chords) else None
        if (minor_key and ch.root_pc == (plan.tonic_pc + 5) % 12 and 3 in ch.intervals
                and nxt is not None and nxt.root_pc == (plan.tonic_pc + 7) % 12):
            root = bass_root((plan.tonic_pc + 8) % 12)  # iv6 - V: the bass falls b6 -> 5, a half step
        fifth = root + 7
        nxt_root = bass_root(nxt.root_pc) if nxt is not None else root
        length = b1 - b0
        fig = figure
        if figure == "sustain" and level >= 3:
            fig = "pulse8"  # the cinematic build: a driving eighth-note ostinato
        if figure in ("offbeat8", "rolling") and level < 1:
            fig = "sustain"
        events: list[tuple[float, float, int, float]] = []  # beat offset, length in beats, pitch, vel
        if fig == "sustain":
            events.append((0.0, length, root, 0.8))
        elif fig == "pulse8":
            for k in range(int(length * 2)):
                events.append((k / 2, 0.45, root if k % 4 != 3 or length < 2 else root + 12,
                               0.85 if k % 2 == 0 else 0.6))
        elif fig == "rolling":  # electronic: root on the beat, a softer octave answer between
            for k in range(int(length)):
                events.append((k, 0.4, root, 0.8))
                if level >= 2:
                    events.append((k + 0.5, 0.35, root + 12 if k % 2 else root, 0.5))
        elif fig == "offbeat8":
            events.append((0.0, 0.4, root, 0.8))
            for k in range(int(length)):
                events.append((k + 0.5, 0.4, root if k % 2 == 0 else root + 12, 0.75))
        elif fig == "root_fifth":
            events.append((0.0, min(1.5, length), root, 0.85))
            if length >= 3:
                events.append((2.0, 1.0, fifth if fifth <= BASS_HIGH else root, 0.7))
            if length >= 2 and nxt is not None and level >= 2:
                events.append((length - 0.5, 0.45, _approach(root, nxt_root, steps, plan.tonic_pc), 0.65))
        elif fig == "lofi":
            events.append((0.0, 1.25, root, 0.85))
            if length >= 3:
                events.append((1.75, 0.5, root + 12 if rng.random() < 0.3 else fifth, 0.6))
                events.append((2.5, 0.75, root, 0.7))
            if nxt is not None and length >= 2:
                events.append((length - 0.5, 0.45, _approach(root, nxt_root, steps, plan.tonic_pc), 0.6))
        if minor_key and ch.root_pc == plan.tonic_pc and length >= 3:
            # On the minor tonic the line walks up to its minor third (root, b3, fifth): the
            # figure that says "minor" in the bass, where harmonics otherwise say major.
            third = root + 3
            events = [e for e in events if not (1.0 <= e[0] < 2.0)]
            events.append((1.5 if fig != "sustain" else 2.0, 0.45, third, 0.7))
        for off, dur, pitch, vel in events:
            if off >= length:
                continue
            while pitch > BASS_HIGH:
                pitch -= 12
            start = bt(b0 + off)
            end = bt(min(b0 + off + dur, b1))
            if start >= plan.duration_s:
                continue
            notes.append(Note(round(start, 6), round(max(end - start, 0.05) * 0.97, 6), int(pitch), vel))
    return notes
