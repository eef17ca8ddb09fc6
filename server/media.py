"""Media references to local files: path references under policy, and the upload store.

Uploaded media are stored content-addressed (`uploads/<sha256>/media<.ext>`), written to a
temporary name and renamed, so a file under its id is always whole. File content hashes key the
result cache; they are computed once per (path, size, mtime) and remembered.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import grpc

from .errors import RpcFailure, invalid
from .policy import is_loopback_peer, under_roots

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_READ_BYTES = 1 << 20  # 1 MiB reads when hashing


class FileHasher:
    """sha256 of files, remembered per (real path, size, mtime) so each is read once."""

    def __init__(self):
        self._known: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def sha256(self, path: Path) -> str:
        real = os.path.realpath(path)
        st = os.stat(real)
        key = (real, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._known:
                return self._known[key]
        digest = hashlib.sha256()
        with open(real, "rb") as f:
            while block := f.read(_READ_BYTES):
                digest.update(block)
        value = digest.hexdigest()
        with self._lock:
            self._known[key] = value
        return value


def _safe_suffix(filename: str) -> str:
    """The file's extension if it is short and plain (helps the demuxer), else none."""
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


class UploadStore:
    """Content-addressed uploaded media under one folder."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes

    def find(self, media_id: str) -> Path | None:
        if not _SHA256.match(media_id or ""):
            return None
        folder = self.root / media_id
        if not folder.is_dir():
            return None
        files = [p for p in folder.iterdir() if p.name.startswith("media")]
        return files[0] if files else None

    def receive(self, header, data: Iterator[bytes]) -> tuple[str, int, bool]:
        """Store an upload; returns (media_id, size, already_present). Raises RpcFailure."""
        sha = (header.sha256 or "").lower()
        if not _SHA256.match(sha):
            raise invalid("the upload header needs the file's sha256 as 64 hex digits")
        if header.size > self.max_bytes:
            raise _too_big(header.size, self.max_bytes)
        existing = self.find(sha)
        if existing is not None:
            return sha, existing.stat().st_size, True
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                for block in data:
                    size += len(block)
                    if size > self.max_bytes:
                        raise _too_big(size, self.max_bytes)
                    digest.update(block)
                    f.write(block)
            if header.size and size != header.size:
                raise invalid(f"the upload ended after {size} bytes but its header announced "
                              f"{header.size}; upload the file again")
            if digest.hexdigest() != sha:
                raise invalid("the uploaded bytes do not match the sha256 in the header "
                              "(the file changed or the transfer was damaged); upload it again")
            folder = self.root / sha
            folder.mkdir(exist_ok=True)
            final = folder / f"media{_safe_suffix(header.filename)}"
            os.replace(tmp, final)  # atomic: a stored file is always whole
            return sha, size, False
        finally:
            tmp.unlink(missing_ok=True)


def _too_big(size: int, limit: int) -> RpcFailure:
    # INVALID_ARGUMENT like the other per-request limits (duration, clips): resending the same
    # file can never succeed, unlike RESOURCE_EXHAUSTED's "try again later" for a full queue.
    return invalid(f"the upload is {size / 1e6:.1f} MB, over this server's limit of "
                   f"{limit / 1e6:.1f} MB; trim the media or start the server with a larger "
                   "--max-upload-mb")


def resolve_reference(clip, peer: str, roots: tuple[Path, ...], uploads: UploadStore) -> Path:
    """The local file a proto Clip refers to, under policy. Raises RpcFailure."""
    label = clip.name or clip.path or clip.media_id
    which = clip.WhichOneof("media")
    if which == "media_id":
        found = uploads.find(clip.media_id.lower())
        if found is None:
            raise RpcFailure(grpc.StatusCode.NOT_FOUND,
                             f"no uploaded media with id {clip.media_id!r}: upload the file first "
                             "(UploadMedia), then refer to it by its sha256")
        return found
    if which != "path" or not clip.path:
        raise invalid(f"clip {label!r} names no media: give a path or an uploaded media id")
    if not is_loopback_peer(peer):
        raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                         "path references are only accepted from this machine; upload the media "
                         "(UploadMedia) and refer to it by media id")
    path = Path(clip.path)
    if not path.is_absolute():
        raise invalid(f"the path {clip.path!r} is relative; send an absolute path")
    if not under_roots(path, roots):
        shown = ", ".join(str(r) for r in roots)
        raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                         f"{clip.path} is outside the folders this server may read ({shown}); "
                         "move the file there or start the server with --media-root for its folder")
    if not path.exists():
        raise RpcFailure(grpc.StatusCode.NOT_FOUND,
                         f"no file at {clip.path} on the server's machine; check the path")
    if not path.is_file():
        raise invalid(f"{clip.path} is not a regular file; give a video file")
    return Path(os.path.realpath(path))
