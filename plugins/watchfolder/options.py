"""Per-folder (`DIR/scorecut.toml`) and per-file (`<video>.scorecut.toml`) scoring options.

A per-file file overrides the folder's, key by key. Unknown keys are refused with the list of
known ones, because a typo that silently does nothing is worse than an error. The folder's file
also holds settings of the folder itself (`jobs`: files scored at once), which a file's own
options cannot set.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

FOLDER_OPTIONS = "scorecut.toml"
FILE_OPTIONS_SUFFIX = ".scorecut.toml"


class OptionsError(ValueError):
    """An options file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class FileOptions:
    style: str = ""  # "" = the server's default
    mood: str = ""
    seed: int | None = None
    stems: tuple[str, ...] = ()  # () = every stem the model gives
    model: str = ""
    in_s: float = 0.0  # source in point, seconds (toml key "in")
    out_s: float | None = None  # source out point, seconds (toml key "out"); None = the end
    preview: bool = False  # also write preview.mp4 (the video with the mix)
    plot: bool = False  # also write alignment.png
    otio: bool = False  # also write <name>.otio (the take as an OpenTimelineIO timeline)
    move_done: bool = False  # move the original to DIR/done/ once scored
    hits: tuple[tuple[float, str], ...] = ()  # hits = [3.5, "5:stop", "7:section"]: (seconds, kind)
    loop: bool = False  # a seamless loop: whole bars, no intro or ending
    tail_s: float = 0.0  # ring-out past the end, seconds (toml key "tail")
    duck_dialogue: bool = False  # duck the music under speech in the clip's own sound
    duck_amount: float = 0.0  # LU the music sits under each line (0 = 10)
    duck_fade: float = 0.0  # seconds the music takes to come back after a line (0 = 0.4)


_TOML_KEYS = {"in": "in_s", "out": "out_s", "tail": "tail_s"}
_KNOWN = sorted({*(f.name for f in fields(FileOptions)), *_TOML_KEYS} - set(_TOML_KEYS.values()))
FOLDER_SETTINGS = ("jobs",)  # DIR/scorecut.toml only: how the folder is scored, not how a file sounds


def _read(path: Path, folder_file: bool = False) -> dict:
    """The file's keys (TOML names mapped to FileOptions fields), folder settings included for the
    folder's own file and refused in a video's."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OptionsError(f"{path}: cannot read it as TOML ({exc}); fix or remove the file") from exc
    table = data.get("scorecut", data)  # a [scorecut] table or top-level keys
    if not folder_file:
        misplaced = sorted(set(table) & set(FOLDER_SETTINGS))
        if misplaced:
            raise OptionsError(f"{path}: {', '.join(misplaced)} is a setting of the whole folder; put it in "
                               f"{path.parent / FOLDER_OPTIONS} or remove it here")
    known = [*_KNOWN, *FOLDER_SETTINGS] if folder_file else _KNOWN
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise OptionsError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return {_TOML_KEYS.get(k, k): v for k, v in table.items()}


def _coerce(values: dict, source: Path) -> dict:
    out = dict(values)
    try:
        if "stems" in out:
            stems = out["stems"]
            names = stems.split(",") if isinstance(stems, str) else stems
            out["stems"] = tuple(s.strip() for s in names if s.strip())
        if out.get("seed") is not None:
            out["seed"] = int(out["seed"])
        if "hits" in out:
            from scorecut.plugins.client.hits import parse_hit

            if not isinstance(out["hits"], list):
                raise TypeError('hits must be a list, e.g. hits = [3.5, "5:stop", "7:section"]')
            out["hits"] = tuple(parse_hit(str(h)) for h in out["hits"])
        for key in ("in_s", "out_s", "tail_s", "duck_amount", "duck_fade"):
            if out.get(key) is not None:
                out[key] = float(out[key])
        for key in ("preview", "plot", "otio", "move_done", "loop", "duck_dialogue"):
            if key in out and not isinstance(out[key], bool):
                raise TypeError(f"{key} must be true or false")
        for key in ("style", "mood", "model"):
            if key in out:
                out[key] = str(out[key])
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"{source}: {exc}") from exc
    return out


def own_options_files(video: Path) -> tuple[Path, Path]:
    """A video's own options files, weakest first: `ball.scorecut.toml`, then `ball.mp4.scorecut.toml`."""
    return video.with_name(video.stem + FILE_OPTIONS_SUFFIX), video.with_name(video.name + FILE_OPTIONS_SUFFIX)


def options_for(video: Path, folder: Path) -> FileOptions:
    """The options for `video`: defaults, then the folder's file, then the video's own files."""
    merged: dict = {}
    sources = [(folder / FOLDER_OPTIONS, True), *((own, False) for own in own_options_files(video))]
    for source, folder_file in sources:
        if source.is_file():
            values = _read(source, folder_file)
            for key in FOLDER_SETTINGS:
                values.pop(key, None)
            merged.update(_coerce(values, source))
    return FileOptions(**merged)


def folder_jobs(folder: Path) -> int | None:
    """`jobs` in the folder's scorecut.toml (files scored at once), or None when it is not set."""
    source = folder / FOLDER_OPTIONS
    if not source.is_file():
        return None
    jobs = _read(source, folder_file=True).get("jobs")
    if jobs is None:
        return None
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise OptionsError(f"{source}: jobs = {jobs!r} is not a number of files at once; give a whole number, "
                           "1 or more (e.g. jobs = 2)")
    return jobs
