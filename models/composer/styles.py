"""Style presets and moods: the producer's choices a user picks by name.

A style fixes the groove (tempo range, drums, bass figure, swing), the palette (an instrument
preset per stem, reverb sends) and the harmonic language (progressions per mode family). A mood
overrides the mode, the progressions' colour and the energy. Progressions are roman numerals
relative to the tonic (see harmony.parse_chord): upper case = major, lower = minor, a leading
"b" lowers the root a semitone, suffixes add 7ths/9ths. Every progression starts on the tonic:
an independent key estimate must hear the key we planned.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..interface import METERS, RequestError


@dataclass(frozen=True)
class Style:
    name: str
    tempo_bpm: tuple[float, float]  # the range editors expect for this kind of music
    tempo_centre: float  # 0..1 position in the range the planner leans to (ties broken there)
    meters: tuple[str, ...]  # meters the style plays in (4/4 always allowed by the planner)
    major: tuple[tuple[str, ...], ...]  # progressions for major-family modes
    minor: tuple[tuple[str, ...], ...]  # progressions for minor-family modes
    chords_per_bar: int  # harmonic rhythm: 1 or 2 (2 only in 4/4)
    drums: str  # drum kit family the synthesizer plays: acoustic|electronic|lofi|cinematic
    groove: str  # drum pattern family in drums.py
    bass_figure: str  # "sustain" | "root_fifth" | "pulse8" | "rolling" | "offbeat8" | "lofi"
    harmony_figure: str  # "sustain" | "strings" | "stab" | "comp" | "strum"
    instruments: tuple[tuple[str, str], ...]  # (stem, preset) — see events.Arrangement
    swing: float  # 0.5 straight 16ths; 0.55-0.6 lazy lo-fi swing
    reverb: tuple[tuple[str, float], ...]  # (stem, send 0..1)
    melody_density: float  # 0..1 chance a rhythmic slot of the motif sounds
    melody_min_intensity: int  # the lead enters at this section intensity and above
    intensity: tuple[int, int]  # lowest and highest section intensity the style uses
    major_bias: float  # -1..1 nudge towards minor (-) or major (+) when the picture decides
    free_meter: bool = False  # may shorten a bar at any major cut (film styles), not only at sections
    eighth_grid: bool = False  # slow grooves: cuts may land on the off-beat eighth (half-time planning)
    # Stereo width per stem (synth/stereo.py: the decorrelated copy of the mid added to the side;
    # stems not named keep engine.DEFAULT_WIDTH).
    width: tuple[tuple[str, float], ...] = ()
    # Tone per stem: (high shelf at 4 kHz in dB, 6 dB/octave roll-off above this many Hz or 0),
    # synth/stereo.py, so the style's brightness (spectral centroid) sits where real productions
    # of its kind do.
    tone: tuple[tuple[str, tuple[float, float]], ...] = ()


_POP_MAJOR = (("I", "V", "vi", "IV"), ("I", "IV", "vi", "V"), ("I", "vi", "IV", "V"), ("I", "IV", "I", "V"))
_POP_MINOR = (("i", "bVI", "iv", "V"), ("i", "bVII", "bVI", "V"), ("i", "iv", "bVI", "V"))

STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            name="cinematic", tempo_bpm=(70, 110), tempo_centre=0.4, meters=("4/4", "3/4", "6/8"),
            major=(("I", "V", "vi", "IV"), ("I", "vi", "IV", "I"), ("I", "bVII", "IV", "I"), ("I", "IV", "vi", "V")),
            minor=(("i", "bVI", "iv", "V"), ("i", "bVI", "bVII", "i"), ("i", "iv", "bVI", "V"),
                   ("i", "iv", "i", "bVI")),
            chords_per_bar=1, drums="cinematic", groove="cinematic", bass_figure="sustain",
            harmony_figure="strings", instruments=(("drums", "cinematic"), ("bass", "sub"),
                                                   ("harmony", "strings"), ("melody", "bell")),
            swing=0.5, reverb=(("drums", 0.25), ("bass", 0.05), ("harmony", 0.45), ("melody", 0.5)),
            melody_density=0.45, melody_min_intensity=3, intensity=(0, 4), major_bias=-0.2, free_meter=True,
        ),
        Style(
            name="ambient", tempo_bpm=(60, 80), tempo_centre=0.5, meters=("4/4", "3/4", "6/8"),
            major=(("Imaj7", "IVmaj7"), ("Iadd9", "vi7", "IVmaj7", "Iadd9"), ("Iadd9", "V", "IVmaj7", "I")),
            minor=(("i9", "iv7"), ("i7", "iv7", "i7", "bVImaj7"), ("i9", "bVI", "iv7", "V")),
            chords_per_bar=1, drums="lofi", groove="ambient", bass_figure="sustain",
            harmony_figure="sustain", instruments=(("drums", "lofi"), ("bass", "sub"), ("harmony", "pad"),
                                                 ("melody", "bell")),
            swing=0.5, reverb=(("drums", 0.15), ("bass", 0.1), ("harmony", 0.6), ("melody", 0.6)),
            melody_density=0.3, melody_min_intensity=2, intensity=(0, 2), major_bias=0.1, free_meter=True,
            eighth_grid=True,
        ),
        Style(
            name="electronic", tempo_bpm=(118, 130), tempo_centre=0.5, meters=("4/4",),
            major=(("I", "V", "vi", "IV"), ("I", "IV", "vi", "V"), ("I", "vi", "IV", "V")),
            minor=(("i", "bVI", "bVII", "i"), ("i", "bVI", "iv", "V"), ("i", "iv", "bVI", "bVII")),
            chords_per_bar=1, drums="electronic", groove="four_floor", bass_figure="rolling",
            harmony_figure="stab", instruments=(("drums", "electronic"), ("bass", "synth"),
                                                ("harmony", "pluck"), ("melody", "lead")),
            swing=0.5, reverb=(("drums", 0.12), ("bass", 0.0), ("harmony", 0.35), ("melody", 0.35)),
            melody_density=0.6, melody_min_intensity=3, intensity=(1, 4), major_bias=-0.1,
            width=(("melody", 0.35),), tone=(("drums", (-3.0, 9000.0)), ("melody", (-2.0, 0.0))),
        ),
        Style(
            name="lofi", tempo_bpm=(70, 90), tempo_centre=0.45, meters=("4/4",),
            major=(("Imaj9", "IVmaj7", "ii9", "V9"), ("Iadd9", "vi7", "IVmaj7", "Iadd9"), ("Imaj7", "IVmaj7")),
            minor=(("i7", "iv7", "i7", "V7"), ("i9", "bVImaj7", "iv7", "V7"), ("i7", "iv7", "bVII7", "i7")),
            chords_per_bar=1, drums="lofi", groove="boom_bap", bass_figure="lofi",
            harmony_figure="comp", instruments=(("drums", "lofi"), ("bass", "fingered"),
                                                ("harmony", "epiano"), ("melody", "epiano")),
            swing=0.58, reverb=(("drums", 0.15), ("bass", 0.05), ("harmony", 0.3), ("melody", 0.35)),
            melody_density=0.45, melody_min_intensity=2, intensity=(1, 3), major_bias=0.0, eighth_grid=True,
        ),
        Style(
            name="acoustic_pop", tempo_bpm=(90, 120), tempo_centre=0.5, meters=("4/4", "3/4", "6/8"),
            major=_POP_MAJOR, minor=_POP_MINOR,
            chords_per_bar=1, drums="acoustic", groove="pop", bass_figure="root_fifth",
            harmony_figure="strum", instruments=(("drums", "acoustic"), ("bass", "fingered"),
                                                 ("harmony", "pluck"), ("melody", "pluck")),
            swing=0.5, reverb=(("drums", 0.15), ("bass", 0.03), ("harmony", 0.25), ("melody", 0.3)),
            melody_density=0.55, melody_min_intensity=3, intensity=(1, 4), major_bias=0.35,
            width=(("melody", 0.6),),  # a picked guitar line, not a lead voice: it may sit off centre
            tone=(("drums", (-5.0, 6000.0)), ("harmony", (-4.0, 7000.0)), ("melody", (-3.0, 8000.0))),
        ),
        Style(
            name="corporate", tempo_bpm=(110, 128), tempo_centre=0.5, meters=("4/4",),
            major=(("I", "V", "vi", "IV"), ("I", "IV", "vi", "V"), ("Iadd9", "V", "IVmaj7", "I"),
                   ("I", "IV", "V", "IV")),
            minor=_POP_MINOR,
            chords_per_bar=1, drums="acoustic", groove="upbeat", bass_figure="pulse8",
            harmony_figure="comp", instruments=(("drums", "acoustic"), ("bass", "synth"),
                                                ("harmony", "piano"), ("melody", "pluck")),
            swing=0.5, reverb=(("drums", 0.12), ("bass", 0.0), ("harmony", 0.25), ("melody", 0.3)),
            melody_density=0.55, melody_min_intensity=3, intensity=(1, 4), major_bias=0.6,
            width=(("melody", 0.6),), tone=(("drums", (-3.0, 7000.0)), ("melody", (-3.0, 8000.0))),
        ),
    )
}

STYLE_ALIASES = {"lo-fi": "lofi", "lo_fi": "lofi", "acoustic-pop": "acoustic_pop", "acoustic pop": "acoustic_pop",
                 "upbeat-corporate": "corporate", "upbeat_corporate": "corporate", "upbeat corporate": "corporate"}


@dataclass(frozen=True)
class Mood:
    name: str
    mode: str  # "major" | "minor" | "dorian" | "lydian" | "phrygian" | "mixolydian"
    intensity_shift: int  # added to every section's intensity (then clipped to the style's range)
    tempo_lean: float  # -1..1 leans the tempo choice to the slow or fast end of the style range
    colour: str  # which progressions suit: "plain" | "tonic" (pedal-heavy, tense or calm)


MOODS: dict[str, Mood] = {
    m.name: m
    for m in (
        Mood("bright", "major", 0, 0.4, "plain"),
        Mood("warm", "major", 0, -0.2, "plain"),
        Mood("calm", "major", -1, -0.6, "tonic"),
        Mood("playful", "mixolydian", 1, 0.5, "plain"),
        Mood("dreamy", "lydian", -1, -0.4, "tonic"),
        Mood("serious", "dorian", 0, -0.2, "plain"),
        Mood("dark", "minor", 0, -0.3, "plain"),
        Mood("tense", "phrygian", 1, 0.3, "tonic"),
        Mood("epic", "minor", 1, 0.2, "plain"),
        Mood("sad", "minor", -1, -0.6, "plain"),
    )
}

MAJOR_FAMILY = ("major", "lydian", "mixolydian")
MODE_STEPS = {  # semitones of each mode's scale above its tonic
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
# The colour chord that makes a mode audible, swapped into progressions for that mode.
MODE_PROGRESSIONS = {
    "lydian": (("Imaj7", "II", "Imaj7", "V"), ("I", "II", "IV", "V")),
    "mixolydian": (("I", "bVII", "IV", "I"), ("I", "bVII", "IV", "V")),
    "dorian": (("i7", "IV", "i7", "V"), ("i", "IV7", "bVII", "i")),
    "phrygian": (("i", "bII", "i", "V"), ("i", "bII", "bVII", "i")),
}


def style_by_name(name: str) -> Style:
    key = (name or "cinematic").strip().lower()
    key = STYLE_ALIASES.get(key, key)
    if key not in STYLES:
        raise RequestError(
            f"unknown style {name!r}; choose one of: {', '.join(STYLES)} (also lo-fi, acoustic-pop, upbeat-corporate)"
        )
    return STYLES[key]


def mood_by_name(name: str) -> Mood | None:
    """The mood called `name`, or None for "" (derived from the picture)."""
    key = (name or "").strip().lower()
    if not key or key == "auto":
        return None
    if key not in MOODS:
        raise RequestError(f"unknown mood {name!r}; choose one of: {', '.join(MOODS)} (or leave it empty)")
    return MOODS[key]


def meter_beats(meter: str) -> tuple[int, int]:
    """(beats per bar, subdivisions per beat): 4/4 -> (4, 4), 3/4 -> (3, 4), 6/8 -> (2, 3)."""
    if meter == "4/4":
        return 4, 4
    if meter == "3/4":
        return 3, 4
    if meter == "6/8":
        return 2, 3
    raise RequestError(f"unknown meter {meter!r}; choose one of: {', '.join(METERS)}")
