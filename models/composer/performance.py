"""The arrangement as a performance: General MIDI channel events per stem, in seconds.

One list of events feeds both the SoundFont renderer (models/composer/soundfont.py) and score.mid
(models/composer/midi.py), so the MIDI file holds exactly what was played. Each style maps its
parts to General MIDI programs with a velocity curve and an articulation:

- "pedal": the sustain pedal (CC64) is caught just after each chord and lifted just before the next;
- "legato": a note is held into the next onset of its part (a small overlap, no gap);
- "strum": the notes of a chord start one after another, low to high on down-strums and high to
  low on up-strums, a few milliseconds apart;
- "plain": as written.

Articulations change timing, so they apply only where a SoundFont plays (`articulate=True`); for
the synthesizer's render the events are the arrangement's own times.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Arrangement, Note

DRUM_CHANNEL = 9  # General MIDI's percussion channel (10 counting from 1)
FX_CHANNEL = 10  # the riser: a reverse cymbal is a melodic program in General MIDI
CHANNEL = {"bass": 0, "harmony": 1, "melody": 2}
STRUM_STEP_S = 0.012  # between strings of a strummed chord
LEGATO_OVERLAP_S = 0.03  # a legato note still sounds this long under the next one
LEGATO_GAP_MAX_S = 0.25  # gaps longer than this are phrasing, not legato
PEDAL_LIFT_S = 0.01  # the pedal comes up this long before the next chord...
PEDAL_CATCH_S = 0.03  # ...and goes down this long after it (syncopated pedalling: no smear)
CHORD_TOLERANCE_S = 0.002  # onsets closer than this are one chord


@dataclass(frozen=True)
class Voice:
    """How one part is played on a General MIDI instrument."""

    program: int  # General MIDI program, 0..127 (0 = Acoustic Grand Piano)
    articulation: str = "plain"  # "plain" | "pedal" | "legato" | "strum"
    velocity_low: int = 40  # MIDI velocity of the softest note (arrangement velocity 0)
    velocity_high: int = 120  # ... and of the loudest (velocity 1)
    velocity_curve: float = 1.0  # exponent: > 1 keeps soft notes softer (a wider dynamic)

    def velocity(self, v: float) -> int:
        v = min(max(float(v), 0.0), 1.0)
        return int(round(self.velocity_low + (self.velocity_high - self.velocity_low) * v ** self.velocity_curve))


# Per style: bass, harmony, melody. Styles that are meant to sound acoustic get acoustic programs.
STYLE_VOICES: dict[str, dict[str, Voice]] = {
    "cinematic": {"bass": Voice(43, "legato", 35, 110, 1.3),  # contrabass
                  "harmony": Voice(48, "legato", 30, 115, 1.4),  # string ensemble
                  "melody": Voice(60, "legato", 40, 115, 1.2)},  # French horn
    "ambient": {"bass": Voice(38, "plain", 40, 100),  # synth bass 1
                "harmony": Voice(89, "legato", 40, 105),  # warm pad
                "melody": Voice(11, "plain", 35, 105, 1.2)},  # vibraphone
    "electronic": {"bass": Voice(38, "plain", 60, 120),
                   "harmony": Voice(90, "plain", 50, 115),  # polysynth
                   "melody": Voice(80, "plain", 60, 120)},  # square lead
    "lofi": {"bass": Voice(33, "plain", 45, 110),  # fingered bass
             "harmony": Voice(4, "pedal", 35, 105, 1.2),  # electric piano
             "melody": Voice(11, "plain", 35, 105, 1.2)},
    "acoustic_pop": {"bass": Voice(33, "plain", 45, 115),
                     "harmony": Voice(25, "strum", 40, 110, 1.2),  # steel-string guitar
                     "melody": Voice(24, "plain", 45, 115)},  # nylon-string guitar
    "corporate": {"bass": Voice(38, "plain", 55, 115),
                  "harmony": Voice(0, "pedal", 40, 112, 1.3),  # acoustic grand piano
                  "melody": Voice(45, "plain", 50, 115)},  # pizzicato strings
}
# By the synth preset, for styles without their own map.
PRESET_VOICES: dict[str, Voice] = {
    "sub": Voice(38), "synth": Voice(38), "fingered": Voice(33), "pad": Voice(89, "legato"),
    "epiano": Voice(4, "pedal"), "pluck": Voice(25, "strum"), "strings": Voice(48, "legato"),
    "piano": Voice(0, "pedal"), "lead": Voice(80), "bell": Voice(11),
}
# General MIDI percussion keys; the riser is a note on FX_CHANNEL instead.
DRUM_KEYS = {
    "kick": 36, "snare": 38, "clap": 39, "hat_closed": 42, "hat_open": 46, "ride": 51, "crash": 49,
    "tom_low": 45, "tom_mid": 47, "tom_high": 50, "shaker": 70, "rim": 37, "impact": 57,
}
DRUM_VOICE = Voice(0, "plain", 35, 125)  # kit preset 0 (Standard) in bank 128
RISER_PROGRAM = 119  # Reverse Cymbal
RISER_KEY = 60


@dataclass(frozen=True)
class MidiEvent:
    time_s: float  # seconds from the segment start
    kind: str  # "note_on" | "note_off" | "control"
    channel: int  # 0..15
    a: int  # key or controller number
    b: int = 0  # velocity or controller value


@dataclass(frozen=True)
class Track:
    """One stem's part: its programs per channel and its events in time order."""

    stem: str
    programs: tuple[tuple[int, int, int], ...]  # (channel, bank, program)
    events: tuple[MidiEvent, ...]


def voice_for(arrangement: Arrangement, stem: str) -> Voice:
    style = STYLE_VOICES.get(arrangement.plan.style, {})
    if stem in style:
        return style[stem]
    return PRESET_VOICES.get(arrangement.instruments.get(stem, ""), Voice(0))


def _order(event: MidiEvent) -> tuple:
    # At one instant: lift the pedal, end notes, then start notes (a repeated key is re-struck).
    rank = {"control": 0, "note_off": 1, "note_on": 2}[event.kind]
    if event.kind == "control" and event.b > 0:
        rank = 3  # the pedal goes down after the chord
    return (event.time_s, rank, event.a)


def _strum(notes: list[Note]) -> list[tuple[float, float, Note]]:
    """(onset, end, note): chord notes spread low->high, then high->low on the next chord."""
    out, group, direction = [], [], 1
    for note in sorted(notes, key=lambda n: (n.start_s, n.pitch)) + [None]:
        if group and (note is None or note.start_s - group[0].start_s > CHORD_TOLERANCE_S):
            ordered = sorted(group, key=lambda n: n.pitch * direction)
            for i, n in enumerate(ordered):
                out.append((n.start_s + i * STRUM_STEP_S, n.start_s + n.duration_s, n))
            direction = -direction if len(group) > 1 else direction
            group = []
        if note is not None:
            group.append(note)
    return out


def _legato(notes: list[Note]) -> list[tuple[float, float, Note]]:
    onsets = sorted({round(n.start_s, 6) for n in notes})
    out = []
    for n in notes:
        end = n.start_s + n.duration_s
        later = [t for t in onsets if t > n.start_s + CHORD_TOLERANCE_S]
        if later and 0.0 <= later[0] - end <= LEGATO_GAP_MAX_S:
            end = later[0] + LEGATO_OVERLAP_S
        out.append((n.start_s, end, n))
    return out


def _note_events(timed: list[tuple[float, float, Note]], channel: int, voice: Voice,
                 end_s: float) -> list[MidiEvent]:
    """Note on/off pairs; a key struck again while it still sounds is ended there first."""
    events, sounding = [], {}  # key -> index of its note_off in events
    for onset, end, note in sorted(timed, key=lambda x: (x[0], x[2].pitch)):
        if onset >= end_s or not 0 <= note.pitch <= 127:
            continue
        end = min(max(end, onset + 0.005), end_s)
        previous = sounding.get(note.pitch)
        if previous is not None and events[previous].time_s > onset:
            events[previous] = MidiEvent(onset, "note_off", channel, note.pitch)
        events.append(MidiEvent(onset, "note_on", channel, note.pitch, max(1, voice.velocity(note.velocity))))
        events.append(MidiEvent(end, "note_off", channel, note.pitch))
        sounding[note.pitch] = len(events) - 1
    return events


def _held_by_pedal(notes: list[Note]) -> list[tuple[float, float, Note]]:
    """Each note held until the pedal lifts before the next chord: the sound of the pedal whether
    or not the player (a SoundFont renderer, a DAW) honours CC64."""
    onsets = sorted({round(n.start_s, 4) for n in notes})
    out = []
    for n in notes:
        later = [t for t in onsets if t > n.start_s + CHORD_TOLERANCE_S]
        end = n.start_s + n.duration_s
        out.append((n.start_s, max(end, later[0] - PEDAL_LIFT_S) if later else end, n))
    return out


def _pedal(notes: list[Note], channel: int, end_s: float) -> list[MidiEvent]:
    onsets = sorted({round(n.start_s, 4) for n in notes if n.start_s < end_s})
    events = []
    for i, t in enumerate(onsets):
        if i > 0 and t - onsets[i - 1] > CHORD_TOLERANCE_S:
            events.append(MidiEvent(max(t - PEDAL_LIFT_S, 0.0), "control", channel, 64, 0))
        if i == 0 or t - onsets[i - 1] > CHORD_TOLERANCE_S:
            events.append(MidiEvent(min(t + PEDAL_CATCH_S, end_s), "control", channel, 64, 127))
    if onsets:
        last = max(n.start_s + n.duration_s for n in notes)
        events.append(MidiEvent(min(last, end_s), "control", channel, 64, 0))
    return events


def _pitched(arrangement: Arrangement, stem: str, articulate: bool) -> Track:
    notes = list(getattr(arrangement, stem))
    voice = voice_for(arrangement, stem)
    channel = CHANNEL[stem]
    end_s = arrangement.tail_end_s or arrangement.duration_s
    style = voice.articulation if articulate else "plain"
    if style == "strum":
        timed = _strum(notes)
    elif style == "legato":
        timed = _legato(notes)
    else:
        timed = [(n.start_s, n.start_s + n.duration_s, n) for n in notes]
    if style == "pedal":
        timed = _held_by_pedal(notes)
    events = _note_events(timed, channel, voice, end_s)
    if style == "pedal":
        events += _pedal(notes, channel, end_s)
    return Track(stem, ((channel, 0, voice.program),), tuple(sorted(events, key=_order)))


def _drums(arrangement: Arrangement) -> Track:
    end_s = arrangement.tail_end_s or arrangement.duration_s
    hits, riser = [], []
    for hit in arrangement.drums:
        if hit.time_s >= end_s:
            continue
        if hit.kind == "riser":
            riser.append((hit.time_s, hit.time_s + max(hit.length_s, 0.1), Note(hit.time_s, hit.length_s, RISER_KEY,
                                                                                 hit.velocity)))
        elif hit.kind in DRUM_KEYS:
            note = Note(hit.time_s, 0.1, DRUM_KEYS[hit.kind], hit.velocity)
            hits.append((hit.time_s, hit.time_s + 0.1, note))
    events = _note_events(hits, DRUM_CHANNEL, DRUM_VOICE, end_s)
    events += _note_events(riser, FX_CHANNEL, Voice(RISER_PROGRAM, "plain", 60, 120), end_s)
    programs = ((DRUM_CHANNEL, 128, 0),) + (((FX_CHANNEL, 0, RISER_PROGRAM),) if riser else ())
    return Track("drums", programs, tuple(sorted(events, key=_order)))


def perform(arrangement: Arrangement, stems=("drums", "bass", "harmony", "melody"),
            articulate: bool = False) -> dict[str, Track]:
    """Stem -> its Track. `articulate`: apply the styles' articulations (a SoundFont plays)."""
    return {stem: _drums(arrangement) if stem == "drums" else _pitched(arrangement, stem, articulate)
            for stem in stems}
