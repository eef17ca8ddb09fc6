"""A file that appears whole or not at all: written to a temporary name beside it, then renamed.

The rename is atomic on one filesystem, so a reader (an NLE watching the take's folder, a second
run) never sees half a file; when the writing fails the temporary file is removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield the temporary name to write `path` under; on leaving the block it is renamed to
    `path`, or removed when the block raised (the exception goes on)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
