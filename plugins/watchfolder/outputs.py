"""Files the watcher writes besides the takes (error files), and the extras of a take."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from scorecut.plugins.client import ClipSpec

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


def extras_hook(clip: ClipSpec, options: FileOptions, name: str):
    """The before_land hook: preview.mp4 and alignment.png made inside the take's temporary folder
    from the streamed analysis and plan, so they land with the audio; a failure is logged, never
    fatal, because the stems the user came for are good."""
    if not (options.preview or options.plot or options.otio):
        return None
    from scorecut.plugins.client.extras import write_extras

    def make(draft) -> None:
        write_extras(draft, [clip], preview=options.preview, plot=options.plot, otio=options.otio,
                     name=Path(clip.path).stem, warn=lambda message: log.warning("%s: %s", name, message))

    return make
