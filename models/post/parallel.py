"""Post-processing's independent pieces (a stem, a span of the mix) run side by side.

numpy's convolutions and scipy's filters release the GIL on large arrays, so a few threads keep
every core busy where post-processing would otherwise run on one while the others wait. Each
piece's arithmetic is unchanged: the result is byte-identical to doing them one after another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache
from typing import TypeVar

MAX_WORKERS = 4  # the four stems; post-processing has no more independent pieces worth a thread
_PREFIX = "scorecut-post"

T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """How many pieces run at once."""
    return max(1, min(MAX_WORKERS, _cores()))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers(), thread_name_prefix=_PREFIX)


def map_ordered(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(item) for item in items], side by side. Every piece has ended when this returns or
    raises (the first piece's error, e.g. Cancelled), so none still works on the caller's arrays;
    after a failure, pieces not yet started do not start, and those running stop at their own
    next cancel check. Called from one of its own workers, it runs the pieces there in turn."""
    items = list(items)
    if len(items) <= 1 or workers() == 1 or threading.current_thread().name.startswith(_PREFIX):
        return [fn(item) for item in items]
    failed = threading.Event()  # once a piece fails (a cancel), pieces not yet started are skipped

    def piece(item: T) -> R | None:
        if failed.is_set():
            return None
        try:
            return fn(item)
        except BaseException:
            failed.set()
            raise

    futures = [_pool().submit(piece, item) for item in items]
    wait(futures)
    return [f.result() for f in futures]  # raises the first failed piece's error (a skip implies one)
