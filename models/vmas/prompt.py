"""The text prompt MusicGen is given for a segment, written from the analysis and the options.

MusicGen was trained on descriptions such as "upbeat electronic dance track, synth bass, drum
machine, 124 bpm, A minor". We write the same kind of text from what Scorecut already knows: the
style (genre words and its instrumentation), the mood (named, or the one the picture gives), and
the musical plan the composer makes from the analysis, so tempo, key and the energy of each
section follow the cuts and the motion exactly as they do for the composer (one plan, one place).

Energy per section cannot be timed by words, so the prompt is written per generation window: a
window's text names the energies of the sections inside it in order ("soft and gentle, then
driving, full groove"), and the next window, which continues the music, hears its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..composer.plan import make_plan
from ..interface import ScoreOptions

# Genre words and instrumentation per composer style (keys: models.composer.styles.STYLES).
STYLE_WORDS: dict[str, tuple[str, str]] = {
    "cinematic": ("cinematic film score", "orchestral strings, deep sub bass, cinematic percussion, bells"),
    "ambient": ("ambient soundscape", "warm synth pads, soft sub bass, bells, no drums"),
    "electronic": ("electronic dance track",
                   "four-on-the-floor drum machine, rolling synth bass, synth stabs, lead synth"),
    "lofi": ("lo-fi hip hop beat", "dusty boom bap drums, electric bass, mellow electric piano"),
    "acoustic_pop": ("acoustic pop song", "acoustic drums, bass guitar, strummed acoustic guitar"),
    "corporate": ("upbeat corporate background music", "light acoustic drums, pulsing synth bass, piano, plucks"),
}

# Adjectives per mood (keys: models.composer.styles.MOODS, and the moods the picture gives).
MOOD_WORDS: dict[str, str] = {
    "bright": "bright, uplifting",
    "warm": "warm, heartfelt",
    "calm": "calm, peaceful",
    "playful": "playful, bouncy",
    "dreamy": "dreamy, floating",
    "serious": "serious, focused",
    "dark": "dark, brooding",
    "tense": "tense, suspenseful",
    "epic": "epic, heroic",
    "sad": "sad, melancholic",
}

# Section intensity 0..4 (models.interface.Section) in words a music model was trained on.
ENERGY_WORDS = (
    "very soft and sparse",
    "soft and gentle",
    "medium energy with light percussion",
    "driving, full groove",
    "intense, powerful climax",
)

METER_WORDS = {"4/4": "", "3/4": "in 3/4 waltz time", "6/8": "in 6/8 time"}


@dataclass(frozen=True)
class SectionPrompt:
    """One section of the plan and the energy words written for it."""

    start_s: float
    end_s: float
    intensity: int  # 0..4, as the composer's plan gives it
    label: str  # "intro", "A", "B", "outro", ...
    energy: str  # ENERGY_WORDS[intensity]


@dataclass(frozen=True)
class MusicPrompt:
    """What MusicGen is told: a description of the whole piece and the energy of each section."""

    description: str  # style, mood, instrumentation, tempo, key, meter: the same for every window
    tempo_bpm: float  # the plan's tempo, as written in the description
    key: str  # "A minor", ...
    mood: str  # the mood's name (asked for, or derived from the picture)
    sections: tuple[SectionPrompt, ...]

    def energy_between(self, start_s: float, end_s: float) -> str:
        """The energies of the sections overlapping [start_s, end_s), in order, repeats merged."""
        words: list[str] = []
        for s in self.sections:
            if s.end_s > start_s and s.start_s < end_s and (not words or words[-1] != s.energy):
                words.append(s.energy)
        return ", then ".join(words)

    def for_window(self, start_s: float, end_s: float) -> str:
        """The prompt of one generation window: the description, then its sections' energies."""
        energy = self.energy_between(start_s, end_s)
        return f"{self.description}, {energy}" if energy else self.description

    @property
    def text(self) -> str:
        """The prompt of the whole piece (what score.json records)."""
        return self.for_window(0.0, float("inf"))


def write_prompt(analysis, options: ScoreOptions) -> MusicPrompt:
    """The prompt for an analysed segment. RequestError for an unknown style, mood or meter
    (the composer's plan checks them, with the same messages)."""
    plan = make_plan(analysis, options)
    genre, instruments = STYLE_WORDS[plan.style.name]
    mood = MOOD_WORDS.get(plan.mood_name, plan.mood_name)
    tempo = round(plan.tempo_bpm)
    parts = [genre, f"{mood} mood" if mood else "", instruments, f"{tempo} bpm", plan.key_name,
             METER_WORDS.get(plan.meter, "")]
    music = plan.musical_plan()
    sections = tuple(SectionPrompt(s.start_s, s.end_s, int(s.intensity), s.label, ENERGY_WORDS[int(s.intensity)])
                     for s in music.sections)
    return MusicPrompt(description=", ".join(p for p in parts if p), tempo_bpm=float(tempo), key=plan.key_name,
                       mood=plan.mood_name, sections=sections)
