"""Writing the server's own files (uploads, results): every byte written, a full disk said plainly.

A full disk is RESOURCE_EXHAUSTED naming the folder (space can be freed and the call sent again),
never INTERNAL ("a bug"). All the server's large writes go through `write_all`, so that one
place turns ENOSPC and EDQUOT into that status.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import grpc

from .errors import RpcFailure

_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(folder: Path) -> RpcFailure:
    return RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                      f"the disk holding {folder} is full; free space there (or start the server with "
                      "--cache-dir on a larger disk) and send it again")


def is_disk_full(error: OSError) -> bool:
    return error.errno in _FULL


def write_all(fd: int, data: bytes | memoryview, folder: Path) -> None:
    """Write all of `data` to `fd`; a full disk raises disk_full(folder)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as error:
        if is_disk_full(error):
            raise disk_full(folder) from None
        raise
