"""The arrangement: what the composer's planner writes and its synthesizer plays.

Plain note and drum events in seconds from the segment start, so the synthesizer needs no music
theory and the arranger needs no DSP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..interface import MusicalPlan

DRUM_KINDS = (
    "kick", "snare", "clap", "hat_closed", "hat_open", "ride", "crash",
    "tom_low", "tom_mid", "tom_high", "shaker", "rim", "impact", "riser",
)


@dataclass(frozen=True)
class Note:
    start_s: float  # onset, seconds from the segment start
    duration_s: float  # until the note's release begins
    pitch: int  # MIDI note number (60 = C4)
    velocity: float  # 0..1


@dataclass(frozen=True)
class DrumHit:
    time_s: float
    kind: str  # one of DRUM_KINDS ("riser": `length_s` long, ending at time_s + length_s)
    velocity: float  # 0..1
    length_s: float = 0.0  # for sustained kinds (riser); 0 = the instrument's natural decay


@dataclass(frozen=True)
class Arrangement:
    """Everything the synthesizer needs for one segment."""

    duration_s: float  # exact output length
    plan: MusicalPlan
    drums: tuple[DrumHit, ...]
    bass: tuple[Note, ...]
    harmony: tuple[Note, ...]
    melody: tuple[Note, ...]
    # Instrument preset per stem, chosen by the style: e.g. harmony "pad" | "epiano" | "pluck" |
    # "strings" | "piano"; melody "lead" | "bell" | "pluck" | "epiano"; bass "sub" | "synth" |
    # "fingered"; drums "acoustic" | "electronic" | "lofi" | "cinematic".
    instruments: dict[str, str] = field(default_factory=dict)
    swing: float = 0.5  # 0.5 = straight 16ths; lo-fi 0.55-0.6 (already applied to event times)
    reverb_send: dict[str, float] = field(default_factory=dict)  # stem -> send level 0..1
    tail_end_s: float = 0.0  # all sound, reverb included, must be inside [0, tail_end_s]
    # Added by the composer (defaults keep older callers working):
    # The key's tonic as a pitch class (0 = C, -1 = unknown). Producers tune the kick and toms to
    # the key; an untuned 50 Hz kick is heard as a pitch and pulls a listener (and a key estimate)
    # towards a foreign key. The synthesizer should tune the kick's settled pitch and the toms to
    # this pitch class (the nearest octave to the kit's own pitch).
    key_pc: int = -1
