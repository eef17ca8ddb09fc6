"""What callers of the client library hand in and get back: clips, options, events, results, errors.

Pure Python (stdlib and the contract package only) so the Blender extension and the Resolve script
can carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scorecut.v1 import DEFAULT_PORT  # the contract's: the server listens there by default

DEFAULT_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
ENV_SERVER = "SCORECUT_SERVER"


def server_address(given: str | None = None) -> str:
    """The one address rule of every front end: the address given (an argument, a preference),
    else $SCORECUT_SERVER, else 127.0.0.1 on the default port."""
    import os

    return (given or "").strip() or os.environ.get(ENV_SERVER, "").strip() or DEFAULT_ADDRESS

START_HINT = "start one with `scorecut serve` (or run `scorecut score`, which starts a local one)"


@dataclass(frozen=True)
class ClipSpec:
    """One clip of the timeline segment, as the caller sees it."""

    path: str  # local media file
    source_in_s: float = 0.0  # seconds into the media
    source_out_s: float | None = None  # exclusive; None = end of media (the server resolves it)
    record_start_s: float | None = None  # None = right after the previous clip
    record_end_s: float | None = None  # None = record start + source length (normal speed)
    name: str = ""  # display name, for messages


@dataclass(frozen=True)
class JobOptions:
    """Mirrors scorecut.v1.ScoreOptions; empty / None = the server's default."""

    model: str = ""  # "composer" | "vmas"
    style: str = ""
    mood: str = ""
    seed: int | None = None
    stems: tuple[str, ...] = ()  # () = all the model gives
    sample_rate: int = 0  # Hz; 0 = 48000
    sample_format: str = ""  # "" = "s24le"; "s16le", "f32le"
    loudness_lufs: float | None = None  # integrated LUFS of the mix; None = -16
    duck_dialogue: bool = False
    duck_amount_lu: float = 0  # music this many LU under each line of dialogue; 0 = 10
    duck_fade_s: float = 0  # how long the music takes to come back after a line; 0 = 0.4 s
    meter: str = ""  # "" = 4/4; "3/4", "6/8"
    tempo_min_bpm: float = 0  # 0 = the style's range
    tempo_max_bpm: float = 0
    checkpoint: str = ""  # vmas: a checkpoint path on the server (loopback peers only)
    hits: tuple[tuple[float, str], ...] = ()  # (seconds from the segment start, "hit"|"stop"|"section")
    reroll: tuple[float, float] | None = None  # (start_s, end_s): new music inside, the same take outside
    reroll_seed: int = 0  # the seed of the music inside `reroll`
    loop: bool = False  # whole bars equal to the segment, seamless join
    tail_s: float = 0.0  # ring-out past the segment's end, seconds


DEFAULT_OPTIONS = JobOptions()  # every field the server's default


@dataclass(frozen=True)
class JobEvent:
    """What progress callbacks receive, one per server event."""

    job_id: str
    kind: str  # "accepted" | "progress" | "analysis" | "plan" | "chunk" | "manifest"
    stage: str = ""  # for progress: "queued", "decode", "analysis", ..., "stream"
    fraction: float = 0.0  # 0..1 over the whole job
    message: str = ""
    proto: object = None  # the raw scorecut.v1.ScoreEvent


@dataclass(frozen=True)
class JobResult:
    """A finished job, landed on disk as `folder`."""

    job_id: str
    folder: Path  # out_dir/name
    mix: Path  # folder/"mix.wav"
    stems: dict[str, Path]  # stem name -> wav path (the mix not included)
    score: dict  # parsed score.json
    cached: bool  # the server answered from its result cache
    replaced: bool = False  # an earlier take at that folder was replaced (see landing's policy)


class ScorecutClientError(Exception):
    """Base of the client's errors; str(error) is a message a person can act on."""


class JobFailed(ScorecutClientError):
    """The server refused or failed the job; `code` is the gRPC status name, e.g. "INVALID_ARGUMENT"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidRequest(JobFailed, ValueError):
    """The request cannot be sent as given (e.g. a seed out of range); refused before any server call.

    A JobFailed with code "INVALID_ARGUMENT", as the server's own refusals of bad values, and a
    ValueError for callers that check their input that way.
    """

    def __init__(self, message: str):
        super().__init__("INVALID_ARGUMENT", message)


class JobCancelled(ScorecutClientError):
    """The job was cancelled (by the caller's cancel event, or on the server)."""


class ServerUnavailable(ScorecutClientError):
    """No Scorecut server answers at the address, or (`during_job`) the server went away while it ran
    the job `job_id`: it stopped or crashed after accepting the job."""

    def __init__(self, message: str, *, during_job: bool = False, job_id: str = ""):
        super().__init__(message)
        self.during_job = during_job
        self.job_id = job_id
