"""The one file hash of Scorecut's front ends: sha256, read in 1 MiB blocks (stdlib only)."""

from __future__ import annotations

import hashlib
import os

BLOCK_BYTES = 1 << 20  # 1 MiB: large enough that hashing, not the reads, sets the pace


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()
