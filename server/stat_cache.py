"""One cache for what the server learns from a file (its sha256, its probe), per file version.

A file is known by (device, inode, size, modification time) as `os.stat`/`os.fstat` report them:
requests often repeat the same media, and a changed or replaced file is a new key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StatKeyedCache(Generic[T]):
    """Values computed from a file, remembered per file version; safe across the server's threads."""

    def __init__(self):
        self._known: dict[tuple[int, int, int, int], T] = {}
        self._lock = threading.Lock()

    def get(self, st: os.stat_result, compute: Callable[[], T]) -> T:
        """The value for the file `st` describes, from `compute()` the first time (outside the lock)."""
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._known:
                return self._known[key]
        value = compute()
        with self._lock:
            self._known[key] = value
        return value
