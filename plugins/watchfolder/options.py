"""Per-folder (`DIR/scorecut.toml`) and per-file (`<video>.scorecut.toml`) scoring options.

A per-file file overrides the folder's, key by key. Unknown keys are refused with the list of
known ones, because a typo that silently does nothing is worse than an error.
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


def _read(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OptionsError(f"{path}: cannot read it as TOML ({exc}); fix or remove the file") from exc
    table = data.get("scorecut", data)  # a [scorecut] table or top-level keys
    unknown = sorted(set(table) - set(_KNOWN))
    if unknown:
        raise OptionsError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(_KNOWN)}")
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
    for source in (folder / FOLDER_OPTIONS, *own_options_files(video)):
        if source.is_file():
            merged.update(_coerce(_read(source), source))
    return FileOptions(**merged)
