"""Which files in the folder are videos to score, and when each is complete.

A file is taken only when its size and mtime have stayed the same for a stability window
(several polls): writers that copy slowly, over a network share or in chunks, are left alone
until they finish. Filesystem events (inotify close-after-write where the platform has it) only
make the next check come sooner; they never shorten the window, because a writer that closes
and reopens the file between chunks also sends them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from scorecut.models.interface import VIDEO_SUFFIXES

# Names that download managers, editors and copy tools use while a file is still being written.
TEMPORARY_SUFFIXES = frozenset({".part", ".tmp", ".temp", ".crdownload", ".download", ".partial", ".filepart",
                                ".!qb", ".opdownload"})


def is_hidden_or_temporary(name: str) -> bool:
    """Dotfiles, Office lock files (~$...), and names of files still being written."""
    lower = name.lower()
    return name.startswith((".", "~$", "~")) or any(lower.endswith(s) for s in TEMPORARY_SUFFIXES)


def is_candidate_name(name: str) -> bool:
    """True for a video file name that is not hidden or temporary."""
    return not is_hidden_or_temporary(name) and os.path.splitext(name.lower())[1] in VIDEO_SUFFIXES


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    stable_since: float  # monotonic time the current size/mtime was first seen


class StabilityTracker:
    """Remembers each candidate's size and mtime and says when it has been still long enough."""

    def __init__(self, stable_s: float):
        self.stable_s = stable_s  # seconds a file must stay unchanged before it is taken
        self._seen: dict[Path, _Seen] = {}

    def observe(self, path: Path, now: float | None = None) -> bool:
        """Record the file's current state; True when it has been unchanged for the window."""
        now = time.monotonic() if now is None else now
        try:
            st = path.stat()
        except FileNotFoundError:
            self._seen.pop(path, None)
            return False
        seen = self._seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
            self._seen[path] = _Seen(st.st_size, st.st_mtime_ns, now)
            return False
        return st.st_size > 0 and now - seen.stable_since >= self.stable_s

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def pending(self) -> list[Path]:
        """Files seen but not yet stable."""
        return list(self._seen)

    def state(self, path: Path) -> tuple[int, int] | None:
        seen = self._seen.get(path)
        return None if seen is None else (seen.size, seen.mtime_ns)
