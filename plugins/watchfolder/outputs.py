"""Files the watcher writes besides the client's result folders, each landing atomically."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from .options import FileOptions

log = logging.getLogger("scorecut.watch")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to a hidden temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clean_partial_results(scored: Path) -> int:
    """Remove hidden work folders/files an interrupted run left in scored/; returns how many."""
    removed = 0
    for entry in scored.iterdir() if scored.is_dir() else ():
        if entry.name.startswith("."):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    for folder in scored.iterdir() if scored.is_dir() else ():
        if folder.is_dir():  # an extra (preview, plot) interrupted inside a landed result
            for entry in folder.iterdir():
                if entry.name.startswith(".") and entry.is_file():
                    entry.unlink(missing_ok=True)
                    removed += 1
    return removed


def write_extras(video: Path, folder: Path, options: FileOptions) -> None:
    """preview.mp4 and alignment.png when the options ask for them; a failure here is logged,
    never fatal, because the stems the user came for are already in place."""
    if options.preview:
        try:
            from scorecut.plugins.client.preview import make_preview

            make_preview(video, folder / "mix.wav", folder / "preview.mp4",
                         in_s=options.in_s, out_s=options.out_s)
        except Exception as exc:  # noqa: BLE001 - reported, the result stands without it
            log.warning("%s: no preview.mp4 (%s)", video.name, exc)
    if options.plot:
        try:
            _plot(video, folder, options)
        except Exception as exc:  # noqa: BLE001 - reported, the result stands without it
            log.warning("%s: no alignment.png (%s)", video.name, exc)


def _plot(video: Path, folder: Path, options: FileOptions) -> None:
    import json

    from scorecut.models.analysis import analyze_file
    from scorecut.models.analysis.plot import plot_alignment
    from scorecut.models.interface import MusicalPlan, Section

    score = json.loads((folder / "score.json").read_text())
    plan = MusicalPlan(
        tempo_bpm=score["tempo_bpm"], meter=score["meter"], key=score["key"],
        beats_s=tuple(score["beats_s"]), downbeats_s=tuple(score["downbeats_s"]),
        sections=tuple(Section(s["start_s"], s["end_s"], s["intensity"], s.get("label", ""))
                       for s in score["sections"]),
        style=score.get("style", ""), mood=score.get("mood", ""),
    )
    analysis = analyze_file(video, in_s=options.in_s, out_s=options.out_s)
    plot_alignment(analysis, folder / "alignment.png", plan)
