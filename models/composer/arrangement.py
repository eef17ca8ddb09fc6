"""From plan to arrangement: harmony figures, and the drum, bass and melody parts put together.

Each part draws from its own random stream derived from the seed, so a change in one part's
logic does not reshuffle the others.
"""

from __future__ import annotations

import numpy as np

from .bass import write_bass
from .drums import step_time, write_drums
from .events import Arrangement, Note
from .harmony import Chord, chord_timeline, voice
from .melody import write_melody
from .plan import Plan

SPEECH_REST = 0.5  # speech probability above which the lead rests (room for dialogue)


def _stream(seed: int, part: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, sum(map(ord, part)) * 7919]))


def _level_lookup(plan: Plan):
    """beat index -> intensity of the section it belongs to."""
    starts = np.asarray([plan.bars[s.first_bar].start_beat for s in plan.sections])
    levels = [s.intensity for s in plan.sections]

    def level(beat: int) -> int:
        return levels[max(int(np.searchsorted(starts, beat, side="right")) - 1, 0)]

    return level


def write_harmony(plan: Plan, chords: list[Chord], voicings, level) -> list[Note]:
    figure = plan.style.harmony_figure
    notes: list[Note] = []
    bt = plan.beat_time
    swing = plan.style.swing

    def add(b_on: float, b_off: float, pitches, vel: float, spread_s: float = 0.0, t_on: float | None = None):
        start = bt(b_on) if t_on is None else t_on
        end = bt(b_off)
        for k, p in enumerate(pitches):
            s = start + k * spread_s
            if s < plan.duration_s:
                notes.append(Note(round(s, 6), round(max(end - s, 0.05), 6), int(p), float(vel)))

    for ch, v in zip(chords, voicings, strict=False):
        b0, b1 = ch.start_beat, ch.end_beat
        if b0 >= plan.end_beat:
            t0 = bt(b0)
            dur = max(plan.duration_s - t0 - plan.release_s, 0.25)
            for k, p in enumerate(v):  # rolled a little, as a player lands a final chord
                notes.append(Note(round(t0 + 0.012 * k, 6), round(dur - 0.012 * k, 6), int(p), 0.62))
            break
        lvl = level(int(b0))
        n = int(round(b1 - b0))
        # Sound from the first frame, not the first beat (in a loop, its own end rings there).
        if b0 == chords[0].start_beat and bt(b0) > 0.02 and not plan.loop:
            first = Chord(ch.symbol, ch.root_pc, ch.intervals, b0, b1)
            notes.extend(Note(0.0, round(bt(b0), 6), int(p), 0.45) for p in v)
            ch = first
        if figure in ("strings", "sustain") or (figure != "sustain" and lvl == 0):
            add(b0, b1 + 0.05, v, 0.55 + 0.08 * lvl)  # legato: a hair of overlap into the next chord
        elif figure == "stab":
            # Stabs on the beat; the offbeat answer only in the full groove, and softer, so the
            # pulse stays where the kick is.
            for k in range(n):
                add(b0 + k, b0 + k + 0.35, v, 0.55 + 0.05 * lvl)
                if lvl >= 3:
                    add(b0 + k + 0.5, b0 + k + 0.8, v[1:], 0.38)
        elif figure == "comp":
            if plan.style.name == "lofi":
                add(b0, b0 + min(1.6, n), v, 0.6, spread_s=0.012)
                if n >= 3:
                    t = step_time(plan, int(b0) + 1, 3, swing)
                    add(b0 + 1.75, b0 + min(3.0, n), v, 0.5, spread_s=0.01, t_on=t)
                if n >= 4:
                    add(b0 + 3.5, b1, v[1:], 0.42, spread_s=0.01)
            else:  # upbeat piano: eighths, accents on the beat
                for k in range(n * 2):
                    add(b0 + k / 2, b0 + k / 2 + 0.42, v, 0.62 if k % 2 == 0 else 0.45)
        elif figure == "strum":
            pattern = (0.0, 1.0, 1.5, 2.5, 3.0, 3.5) if lvl >= 3 else (0.0, 1.0, 2.0, 3.0)
            for k, off in enumerate(pattern):
                if off >= n:
                    break
                up = (off % 1) > 0
                pitches = v[::-1] if up else v
                nxt = min(pattern[k + 1] if k + 1 < len(pattern) else n, n)
                add(b0 + off, b0 + nxt, pitches, 0.45 if up else 0.65, spread_s=0.012)
        else:
            add(b0, b1, v, 0.6)
    return notes


def _directed(notes, plan: Plan):
    """Notes (or drum hits) as the editor's directions allow: none starts inside a stop's break,
    and a note sounding into one is cut where it begins; a loop keeps what starts inside it (what
    starts at its end is its own beginning)."""
    out = []
    for n in notes:
        t = n.start_s if isinstance(n, Note) else n.time_s
        if plan.loop and t >= plan.duration_s - 1e-6:
            continue
        if any(b0 - 1e-6 <= t < b1 - 1e-6 for b0, b1 in plan.breaks_s):
            continue
        if isinstance(n, Note):
            cut = min((b0 for b0, _ in plan.breaks_s if t < b0 < t + n.duration_s), default=None)
            if cut is not None:
                n = Note(n.start_s, round(max(cut - t, 0.02), 6), n.pitch, n.velocity)
        out.append(n)
    return out


def arrange(plan: Plan, analysis, seed: int) -> Arrangement:
    chords = chord_timeline(plan, _stream(seed, "harmony"))
    voicings = voice(chords, centre=60 + int(_stream(seed, "voicing").integers(-2, 4)))
    level = _level_lookup(plan)
    visual = list(zip(np.asarray(getattr(analysis, "visual_beats_s", ()), float),
                      np.asarray(getattr(analysis, "visual_beat_strength", ()), float), strict=False))
    drums = write_drums(plan, _stream(seed, "drums"), visual)
    bass = write_bass(plan, chords, level, _stream(seed, "bass"))
    harmony = write_harmony(plan, chords, voicings, level)

    speech_t = np.asarray(getattr(analysis, "speech_times_s", np.zeros(0)), float)
    speech = np.asarray(getattr(analysis, "speech", np.zeros(0)), float)

    # The lead enters at the style's intensity. A calm picture may never get there; then the tune
    # still comes in, over the most active stretch after the opening, so no cue is only a bed.
    threshold, entry_s = plan.style.melody_min_intensity, 0.0
    peak = max(s.intensity for s in plan.sections)
    if peak < threshold:
        threshold, entry_s = peak, plan.duration_s / 3

    def active(beat: int) -> bool:
        if level(beat) < threshold or plan.beat_time(beat) < entry_s:
            return False
        if len(speech_t):
            t = plan.beat_time(beat)
            i = int(np.clip(np.searchsorted(speech_t, t), 0, len(speech_t) - 1))
            if speech[i] > SPEECH_REST:
                return False
        return True

    melody = write_melody(plan, chords, active, _stream(seed, "melody"))
    style = plan.style
    return Arrangement(
        duration_s=plan.duration_s,
        plan=plan.musical_plan(),
        drums=tuple(_directed(drums, plan)),
        bass=tuple(sorted(_directed(bass, plan), key=lambda n: n.start_s)),
        harmony=tuple(sorted(_directed(harmony, plan), key=lambda n: (n.start_s, n.pitch))),
        melody=tuple(_directed(melody, plan)),
        instruments=dict(style.instruments),
        swing=style.swing,
        reverb_send=dict(style.reverb),
        tail_end_s=plan.duration_s,
        key_pc=plan.tonic_pc,
    )
