"""Importing files into a media pool bin, and knowing which of them Resolve took."""

from __future__ import annotations

import os
from pathlib import Path


def path_key(path) -> str:
    """Paths compared as files: symlinked temp folders (macOS /var -> /private/var) compare equal."""
    return os.path.normcase(os.path.realpath(str(path)))


def import_into(media_pool, folder, paths: list[Path]) -> dict[str, object]:
    """Import `paths` into the bin `folder` (the current bin is put back); {path_key: MediaPoolItem}
    of the files Resolve made items for (ImportMedia returns only those: a file it cannot read is
    left out of the list)."""
    previous = media_pool.GetCurrentFolder()
    media_pool.SetCurrentFolder(folder)
    try:
        clips = media_pool.ImportMedia([str(p) for p in paths]) or []
    finally:
        if previous:
            media_pool.SetCurrentFolder(previous)
    return {path_key(c.GetClipProperty("File Path")): c for c in clips}
