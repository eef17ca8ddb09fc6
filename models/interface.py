"""The one interface both music models implement.

A timeline segment's analysis and the options go in; stems and the musical metadata come out.
Post-processing (length, loudness, fades, ducking) is shared and lives in `post.py`, so a model
only writes music. Audio arrays are float32, shape (channels, frames), at `sample_rate`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from scorecut.v1 import STEMS  # the contract's stem names, in their order

if TYPE_CHECKING:  # the analysis package decodes video; a model's signature only names its result
    from .analysis.types import VideoAnalysis

MIX = "mix"
DEFAULT_SAMPLE_RATE = 48_000  # Hz: video post-production's rate
SAMPLE_RATES = (22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000)  # Hz a model may be asked for
METERS = ("4/4", "3/4", "6/8")
TEMPO_RANGE_BPM = (30.0, 300.0)  # widest tempo range a request may ask for; 0 = the style's own
# File name endings (lower case) taken as video by the watch folder and the training data.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi", ".mxf", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg",
                  ".wmv", ".flv", ".ogv", ".3gp", ".dv")
DEFAULT_LOUDNESS_LUFS = -16.0  # integrated, BS.1770; online-video delivery norm
TRUE_PEAK_CEILING_DBTP = -1.0


class ScorecutError(Exception):
    """Base of the errors a person can act on; the message says what to do."""


class MediaError(ScorecutError, ValueError):
    """The media cannot be used as given (missing, undecodable, no video, bad range)."""


class RequestError(ScorecutError, ValueError):
    """The request itself is invalid (unknown style, bad stems, limits)."""


class ModelUnavailable(ScorecutError, RuntimeError):
    """The model asked for cannot run here (no checkpoint, no device)."""


class Cancelled(ScorecutError):
    """The job was cancelled; raised from inside long loops that check the cancel event."""


ProgressFn = Callable[[str, float], None]
"""progress(stage, fraction): stage name and the fraction 0..1 done within that stage."""


def no_progress(stage: str, fraction: float) -> None:
    """A ProgressFn that reports nowhere."""


def check_cancelled(cancel: threading.Event | None) -> None:
    """Raise Cancelled when the job's cancel event is set; call it between units of work."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("the job was cancelled")


@dataclass(frozen=True)
class Clip:
    """One clip of a timeline segment, with its media resolved to a local file."""

    path: str  # local file the server may read
    source_in_s: float  # seconds into the media
    source_out_s: float  # exclusive
    record_start_s: float  # seconds from the segment start
    record_end_s: float  # exclusive; a length differing from the source's is a speed change
    name: str = ""  # for messages

    @property
    def speed(self) -> float:
        """Source seconds per record second (1.0 = normal speed)."""
        return (self.source_out_s - self.source_in_s) / (self.record_end_s - self.record_start_s)


@dataclass(frozen=True)
class Segment:
    """A timeline segment: clips in record order; their boundaries are cuts the music respects."""

    clips: tuple[Clip, ...]
    duration_s: float  # output length in seconds

    @property
    def boundaries_s(self) -> tuple[float, ...]:
        """Record times strictly inside the segment where one clip ends or another starts."""
        edges = {round(t, 6) for c in self.clips for t in (c.record_start_s, c.record_end_s)}
        return tuple(sorted(t for t in edges if 1e-3 < t < self.duration_s - 1e-3))


@dataclass(frozen=True)
class Hit:
    """A moment the music must hit, as the editor directs it."""

    time_s: float  # seconds from the segment start
    kind: str = "hit"  # one of scorecut.v1.HIT_KINDS


@dataclass(frozen=True)
class ScoreOptions:
    """What the user asked for. Defaults are the product's defaults."""

    model: str = "composer"
    style: str = "cinematic"  # a preset name of the composer
    mood: str = ""  # "" = derived from the picture
    tempo_min_bpm: float | None = None  # None = the style's range
    tempo_max_bpm: float | None = None
    seed: int = 0
    stems: tuple[str, ...] = STEMS  # stems wanted besides the mix
    sample_rate: int = DEFAULT_SAMPLE_RATE
    loudness_lufs: float = DEFAULT_LOUDNESS_LUFS
    duck_dialogue: bool = False  # duck the music under speech found in the clips' audio
    duck_amount_lu: float = 10.0  # music's loudest 400 ms under a line, this many LU below that line
    duck_fade_s: float = 0.4  # how long the music takes to come back after a line
    meter: str = "4/4"  # "4/4", "3/4" or "6/8"
    checkpoint: str = ""  # vmas: a checkpoint path; "" = the installed one
    hits: tuple[Hit, ...] = ()  # moments the music must hit (directing; models/directing.py checks them)
    reroll: tuple[float, float] | None = None  # (start_s, end_s): new music inside, the same take outside
    reroll_seed: int = 0  # the seed of the music inside `reroll`
    loop: bool = False  # whole bars equal to the segment, no intro or ending, a seamless join
    tail_s: float = 0.0  # the music rings this long past the segment's end (the output is longer by it)


@dataclass(frozen=True)
class Section:
    start_s: float
    end_s: float
    intensity: int  # 0 = pad only, 1 = + bass, 2 = + light drums, 3 = full groove, 4 = + lead
    label: str = ""  # "intro", "A", "B", "outro", ...


@dataclass(frozen=True)
class MusicalPlan:
    """The musical metadata that score.json and the Plan event carry. Times from segment start."""

    tempo_bpm: float  # base tempo; the tempo map may bend it between hit points
    meter: str
    key: str  # "A minor", "D major", "E dorian", ...
    beats_s: tuple[float, ...]  # the true beat times
    downbeats_s: tuple[float, ...]
    sections: tuple[Section, ...]
    style: str
    mood: str


@dataclass
class ModelOutput:
    """What a model returns before post-processing."""

    sample_rate: int
    stems: dict[str, np.ndarray]  # name -> (channels, frames) float32; all the same shape
    plan: MusicalPlan
    native_mix: np.ndarray | None = None  # (channels, frames); set by mix-native models (vmas)
    extra: dict = field(default_factory=dict)  # model-specific metadata for score.json (musicgen: re-ranking)


@dataclass(frozen=True)
class ModelInfo:
    """A model, whether it can run here, and what it accepts: the one place those facts live.

    The server checks requests against it (`check`), GetInfo carries it, front ends read stems,
    styles and limits from it.
    """

    name: str
    available: bool
    unavailable_reason: str = ""  # what to do, in words
    stems: tuple[str, ...] = STEMS  # stems it gives besides the mix, in streaming order
    native_output: str = "stems"  # "stems" or "mix"
    description: str = ""
    styles: tuple[str, ...] = ()  # () = it takes no style (the request's style is recorded only)
    moods: tuple[str, ...] = ()  # () = it takes no mood
    meters: tuple[str, ...] = METERS
    tempo_range_bpm: tuple[float, float] = TEMPO_RANGE_BPM  # a requested tempo must lie inside
    sample_rates: tuple[int, ...] = SAMPLE_RATES  # Hz
    max_duration_s: float = 0.0  # longest segment it writes music for; 0 = no limit of its own
    # The editor's directions it follows (models/directing.py): a model that generates audio it
    # cannot shape meets hits by re-ranking and takes re-rolls by splicing, but makes no loop or tail.
    directions: tuple[str, ...] = ("hits", "reroll")

    def check(self, options: ScoreOptions, duration_s: float | None = None) -> None:
        """Raise RequestError, saying what to do, when this model does not accept `options`."""
        unknown = [s for s in options.stems if s not in self.stems]
        if unknown:
            gives = ", ".join(self.stems) if self.stems else "the mix alone (ask for no stems)"
            raise RequestError(f"the {self.name} model gives no stem {', '.join(map(repr, unknown))}; "
                               f"it gives: {gives}")
        if self.styles and options.style not in self.styles:
            raise RequestError(f"unknown style {options.style!r}; choose one of: {', '.join(self.styles)}")
        if options.mood and self.moods and options.mood not in self.moods:
            raise RequestError(f"unknown mood {options.mood!r}; choose one of: {', '.join(self.moods)}, "
                               "or leave it empty to take the mood from the picture")
        if options.meter not in self.meters:
            raise RequestError(f"meter {options.meter!r} is not supported by the {self.name} model; use one "
                               f"of: {', '.join(self.meters)}")
        if options.sample_rate not in self.sample_rates:
            raise RequestError(f"sample rate {options.sample_rate} Hz is not supported; use one of "
                               f"{', '.join(map(str, self.sample_rates))} (48000 is usual for video)")
        lo, hi = self.tempo_range_bpm
        tmin, tmax = options.tempo_min_bpm, options.tempo_max_bpm
        for t in (tmin, tmax):
            if t is not None and not lo <= t <= hi:
                raise RequestError(f"tempo {t:g} BPM is out of range; use {lo:g} to {hi:g} BPM, or 0 for "
                                   "the style's range")
        if tmin and tmax and tmin > tmax:
            raise RequestError(f"tempo range {tmin:g}-{tmax:g} BPM is reversed; the minimum must not "
                               "exceed the maximum")
        for direction, asked in (("loop", options.loop), ("tail", options.tail_s > 0)):
            if asked and direction not in self.directions:
                what = "a seamless loop" if direction == "loop" else "a ring-out tail"
                raise RequestError(f"the {self.name} model cannot make {what}; use the composer "
                                   "(--model composer) for it")
        if duration_s is not None and self.max_duration_s and duration_s > self.max_duration_s:
            raise RequestError(f"the segment is {duration_s:.1f} s long; the {self.name} model writes at "
                               f"most {self.max_duration_s:g} s: score it in parts")


class MusicModel(Protocol):
    """Implemented by the composer and by VMAS."""

    name: str

    def info(self) -> ModelInfo: ...

    def compose(
        self,
        segment: Segment,
        analysis: VideoAnalysis,
        options: ScoreOptions,
        progress: ProgressFn = no_progress,
        cancel: threading.Event | None = None,
    ) -> ModelOutput:
        """Write music for `segment`, exactly round(analysis.duration_s * sample_rate) frames.

        `analysis` is the segment's analysis (the pipeline makes it once); a model that needs the
        pictures themselves decodes them from `segment`'s clips.
        """
        ...


@dataclass
class FinishedScore:
    """A job's result after post-processing: what the server streams and the client writes."""

    sample_rate: int
    mix: np.ndarray  # (channels, frames) float32
    stems: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (channels, frames)
    plan: MusicalPlan | None = None
    loudness_lufs: float = float("nan")  # measured on the mix
    true_peak_dbtp: float = float("nan")
    model: str = "composer"
    seed: int = 0
    extra: dict = field(default_factory=dict)  # model-specific metadata for score.json
