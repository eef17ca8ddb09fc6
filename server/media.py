"""Media references to local files: path references under policy, and the upload store.

A path reference is opened once, when the request is checked, and the job reads that open file
(through a link to its descriptor in a folder only the server writes), never the name again: a
folder swapped for a symlink while the job waits cannot make the server read outside the media
roots, and the content hash that keys the cache is of the bytes actually read.

Uploaded media are stored content-addressed (`uploads/<sha256>/media<.ext>`), written to a
temporary name and renamed, so a file under its id is always whole. File content hashes key the
result cache; they are computed once per (device, inode, size, mtime) and remembered.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc

from scorecut.v1 import sha256_stream

from .errors import RpcFailure, invalid, shown
from .files import disk_full, is_disk_full, write_all
from .policy import inside_roots, is_loopback_peer, under_roots
from .stat_cache import StatKeyedCache

log = logging.getLogger("scorecut.server")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FileHasher:
    """sha256 of files, remembered per (device, inode, size, mtime) so each is read once.

    The file is identified by what `os.stat` finds through `path` (a link to an open descriptor
    leads to the file that was opened), and hashed through `path` too: never by re-resolving a
    real path, which a swapped symlink could point elsewhere meanwhile."""

    def __init__(self):
        self._known: StatKeyedCache[str] = StatKeyedCache()

    def sha256(self, path: Path) -> str:
        with open(path, "rb") as f:
            return self._known.get(os.fstat(f.fileno()), lambda: sha256_stream(f))


class OpenedFiles:
    """The files one call opened, kept open until the call ends and readable by name through a
    link to each descriptor (`/proc/self/fd/N`) in a folder of the server's own.

    Decoders take a file name; the link's name is the file's own name (so messages name it), and
    opening the link opens the very file checked at admission, wherever its path now leads."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._links: dict[tuple[int, int], Path] = {}  # (device, inode) -> link: one per file
        self._fds: list[int] = []
        self._dir: Path | None = None

    @staticmethod
    def supported() -> bool:
        return os.path.isdir("/proc/self/fd")

    def link(self, fd: int, name: str) -> Path:
        """A name that opens `fd`'s file; the descriptor is now this object's to close."""
        st = os.fstat(fd)
        known = self._links.get((st.st_dev, st.st_ino))
        if known is not None:
            os.close(fd)  # the same file twice in one request: one descriptor is enough
            return known
        self._fds.append(fd)
        if self._dir is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="call-", dir=self.folder))  # mode 0700
        where = self._dir / str(len(self._links))
        where.mkdir()
        link = where / (name or "media")
        os.symlink(f"/proc/{os.getpid()}/fd/{fd}", link)
        self._links[(st.st_dev, st.st_ino)] = link
        return link

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        self._links.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> OpenedFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def sweep(folder: Path) -> None:
        """Remove the links a killed server left behind."""
        if Path(folder).is_dir():
            for entry in Path(folder).glob("call-*"):
                shutil.rmtree(entry, ignore_errors=True)


def _safe_suffix(filename: str) -> str:
    """The file's extension if it is short and plain (helps the demuxer), else none."""
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


class UploadStore:
    """Content-addressed uploaded media under one folder."""

    def __init__(self, root: Path, max_bytes: int, quota_bytes: int | None = None):
        self.root = Path(root)
        self.max_bytes = max_bytes  # one upload
        self.quota_bytes = max(quota_bytes or max_bytes, max_bytes)  # all kept; the least recently used go
        self._lock = threading.Lock()

    def find(self, media_id: str) -> Path | None:
        if not _SHA256.match(media_id or ""):
            return None
        folder = self.root / media_id
        try:
            files = [p for p in folder.iterdir() if p.name.startswith("media")]
            if files:
                os.utime(folder)  # recently used: eviction keeps it longest
        except OSError:
            return None
        return files[0] if files else None

    def clear_partial(self) -> None:
        """Remove uploads a killed server left half-written."""
        if self.root.is_dir():
            for entry in self.root.glob(".upload-*"):
                entry.unlink(missing_ok=True)

    def _evict(self, keep: str) -> None:
        """Drop the least recently used uploads until all fit the quota (never `keep`, just stored).
        A job that already opened a dropped file reads on (see OpenedFiles)."""
        with self._lock:
            entries = []
            for folder in self.root.iterdir():
                if folder.name.startswith(".") or not folder.is_dir():
                    continue
                try:
                    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
                    entries.append((folder.stat().st_mtime, size, folder))
                except OSError:
                    continue  # evicted by another thread meanwhile
            total = sum(e[1] for e in entries)
            for _, size, folder in sorted(entries):
                if total <= self.quota_bytes:
                    break
                if folder.name == keep:
                    continue
                shutil.rmtree(folder, ignore_errors=True)
                total -= size
                log.info("uploads: dropped %s (%.1f MB) to stay under %.0f MB", folder.name[:12], size / 1e6,
                         self.quota_bytes / 1e6)

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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        except OSError as error:
            if is_disk_full(error):
                raise disk_full(self.root) from None
            raise
        digest = hashlib.sha256()
        size = 0
        tmp = Path(tmp_name)
        try:
            try:
                for block in data:
                    size += len(block)
                    if size > self.max_bytes:
                        raise _too_big(size, self.max_bytes)
                    digest.update(block)
                    write_all(fd, block, self.root)
            finally:
                os.close(fd)
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
        finally:
            tmp.unlink(missing_ok=True)
        self._evict(keep=sha)
        return sha, size, False


def _too_big(size: int, limit: int) -> RpcFailure:
    # INVALID_ARGUMENT like the other per-request limits (duration, clips): resending the same
    # file can never succeed, unlike RESOURCE_EXHAUSTED's "try again later" for a full queue.
    return invalid(f"the upload is {size / 1e6:.1f} MB, over this server's limit of "
                   f"{limit / 1e6:.1f} MB; trim the media or start the server with a larger "
                   "--max-upload-mb")


MAX_PATH_BYTES = 4096  # PATH_MAX on Linux: a longer path names no file
MAX_NAME_BYTES = 255  # NAME_MAX: the longest folder or file name


def check_path_text(text: str) -> None:
    """A path no filesystem can hold is a bad argument, said without echoing all of it."""
    if "\0" in text:
        raise invalid(f"the path {shown(text)} contains a NUL byte, which no file name can; send the "
                      "file's path as it is on disk")
    raw = os.fsencode(text)
    if len(raw) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in raw.split(b"/")):
        raise invalid(f"the path {shown(text)} is too long for a file name ({len(raw)} bytes; at most "
                      f"{MAX_PATH_BYTES}, {MAX_NAME_BYTES} per name); send the file's real path")


def _open_checked(path: Path, roots: tuple[Path, ...], label: str) -> int:
    """Open `path` read-only and check what was opened: a regular file inside `roots`."""
    try:
        # O_NONBLOCK: a FIFO planted under the roots must not hang the call in open().
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise RpcFailure(grpc.StatusCode.NOT_FOUND,
                         f"no file at {shown(label)} on the server's machine; check the path") from None
    except PermissionError:
        raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                         f"the server may not read {shown(label)} (permission denied); check its permissions") from None
    except OSError as error:
        if error.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EINVAL):
            raise invalid(f"{shown(label)} cannot be opened ({os.strerror(error.errno)}); send the path "
                          "of a video file") from None
        if error.errno in (errno.EMFILE, errno.ENFILE):
            raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "the server has too many files open (other calls hold their media); try again "
                             "when one finishes") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise invalid(f"{shown(label)} is not a regular file; give a video file")
        # Where the open descriptor really is, from the kernel, not from the name (which may have
        # been swapped since the check by name).
        real = os.readlink(f"/proc/self/fd/{fd}") if OpenedFiles.supported() else os.path.realpath(path)
        if not inside_roots(real, roots):
            raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                             f"{shown(label)} leads outside the folders this server may read; move the "
                             "file there or start the server with --media-root for its folder")
    except BaseException:
        os.close(fd)
        raise
    return fd


def resolve_reference(clip, peer: str, roots: tuple[Path, ...], uploads: UploadStore,
                      held: OpenedFiles | None = None) -> Path:
    """The local file a proto Clip refers to, under policy. Raises RpcFailure.

    With `held`, a path reference is opened now and the returned name reads that open file for
    as long as `held` stays open (see OpenedFiles)."""
    label = clip.name or clip.path or clip.media_id
    which = clip.WhichOneof("media")
    if which == "media_id":
        found = uploads.find(clip.media_id.lower())
        fd = None
        if found is not None and held is not None and OpenedFiles.supported():
            try:  # held open like a path reference: evicting the upload cannot cut the job short
                fd = os.open(found, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                found = None
        if found is None:
            raise RpcFailure(grpc.StatusCode.NOT_FOUND,
                             f"no uploaded media with id {shown(clip.media_id)}: upload the file first "
                             "(UploadMedia), then refer to it by its sha256")
        return found if fd is None else held.link(fd, found.name)
    if which != "path" or not clip.path:
        raise invalid(f"clip {shown(label)} names no media: give a path or an uploaded media id")
    if not is_loopback_peer(peer):
        raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                         "path references are only accepted from this machine; upload the media "
                         "(UploadMedia) and refer to it by media id")
    check_path_text(clip.path)
    path = Path(clip.path)
    if not path.is_absolute():
        raise invalid(f"the path {shown(clip.path)} is relative; send an absolute path")
    if not under_roots(path, roots):
        where = ", ".join(str(r) for r in roots)
        raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                         f"{shown(clip.path)} is outside the folders this server may read ({where}); "
                         "move the file there or start the server with --media-root for its folder")
    if not path.exists():
        raise RpcFailure(grpc.StatusCode.NOT_FOUND,
                         f"no file at {shown(clip.path)} on the server's machine; check the path")
    if path.is_dir():
        raise invalid(f"{shown(clip.path)} is not a regular file; give a video file")
    fd = _open_checked(path, roots, clip.path)
    if held is None or not OpenedFiles.supported():
        real = os.readlink(f"/proc/self/fd/{fd}") if OpenedFiles.supported() else os.path.realpath(path)
        os.close(fd)
        return Path(real)
    return held.link(fd, path.name)
