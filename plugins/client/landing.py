"""Landing a take: one naming policy, one rename, a replacement that survives a crash.

Every front end (the `scorecut` command, the watch folder, Blender, Resolve) scores through
`ScorecutClient.score`, whose finished take — audio, score.json, score.mid and the extras
(preview.mp4, alignment.png), all written in a hidden `.partial` folder beside the result — lands here.

The naming policy (the README's "Where takes land"):
- `<out_dir>/<name>/` when that is free;
- a folder holding the same request (score.json's "request": clips, ranges, options) is
  replaced by the new take: the music is the same;
- otherwise an earlier take is never lost: the new one goes to `<name>-2`, `<name>-3`, ... (the
  first that is free or holds the same request);
- `replace=True` (the user named the folder, e.g. `scorecut score --name`) replaces `<name>`
  whatever it holds.
Names are chosen under a lock across processes, so parallel runs never take one folder.

A new folder lands with one rename. A replacement is one atomic exchange on Linux
(renameat2 RENAME_EXCHANGE): the old take is then in the hidden folder and is removed; a crash in
between leaves the new take in place and a hidden folder that the next landing sweeps. Where
there is no exchange, a journal (`.<name>.<pid>.<token>.landing`) is written first and the next
landing in that folder completes it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .locks import file_lock

_HIDDEN_KINDS = ("partial", "old", "landing")  # what a killed run may leave behind
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


@dataclass(frozen=True)
class Landing:
    folder: Path  # out_dir/<chosen name>
    name: str  # the chosen name
    replaced: bool  # an earlier folder at that name was replaced


def check_name(name: str) -> str:
    """A take's name must be one path component: it becomes out_dir/name."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        raise ValueError(f"the result name {name!r} must be a plain folder name (no slashes, not hidden)")
    return name


def hidden_path(out_dir: Path, name: str, kind: str) -> Path:
    """A hidden work path beside the take, naming this process so a sweep knows whether it is alive."""
    return out_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}"


def make_partial_folder(out_dir: Path, name: str) -> Path:
    """A new hidden folder the take is written in; os.mkdir honours the umask (mkdtemp would not)."""
    while True:
        path = hidden_path(out_dir, name, "partial")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


# -- the lock and the naming policy ----------------------------------------------------------------
def _names_lock(out_dir: Path):
    """An exclusive lock, across processes, on choosing names in `out_dir` (kept outside it, so
    sweeping or copying out_dir never touches it)."""
    key = hashlib.sha256(os.path.realpath(out_dir).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return file_lock(Path(tempfile.gettempdir()) / "scorecut-locks" / f"takes-{key}.lock")


def recorded_request(folder: Path):
    """The "request" a take's score.json records, or None (no take, or one from before requests)."""
    try:
        with open(folder / "score.json", encoding="utf-8") as f:
            return json.load(f).get("request")
    except (OSError, ValueError, AttributeError):
        return None


def choose_name(out_dir: Path, name: str, request: dict | None, replace: bool = False) -> str:
    """The name a take of `request` lands under, by the policy above (call it under the lock)."""
    if replace:
        return name
    candidates = [name] + [f"{name}-{n}" for n in range(2, 10_000)]
    for candidate in candidates:
        folder = out_dir / candidate
        if not os.path.lexists(folder):
            return candidate
        if request is not None and folder.is_dir() and not folder.is_symlink() \
                and recorded_request(folder) == request:
            return candidate
    raise OSError(f"{out_dir} holds takes {name} to {candidates[-1]}; clear some out or choose another name")


# -- replacing --------------------------------------------------------------------------------------
def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not offered."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # an old C library
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this filesystem cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _replace(draft: Path, final: Path) -> bool:
    """Put `draft` at `final`; True when something was there (and is now gone)."""
    if not os.path.lexists(final):
        os.rename(draft, final)
        return False
    if _exchange(draft, final):
        _remove(draft)  # the old take, now under the hidden name
        return True
    journal = final.with_name(f"{draft.name.removesuffix('.partial')}.landing")
    old = final.with_name(f"{draft.name.removesuffix('.partial')}.old")
    _write_journal(journal, final, draft, old)
    os.rename(final, old)
    os.rename(draft, final)
    _remove(old)
    journal.unlink()
    return True


def _write_journal(journal: Path, final: Path, new: Path, old: Path) -> None:
    with open(journal, "w", encoding="utf-8") as f:
        json.dump({"final": final.name, "new": new.name, "old": old.name}, f)
        f.flush()
        os.fsync(f.fileno())


def _complete(journal: Path) -> None:
    """Finish a replacement a killed run began: the new take ends at its name, the old one goes."""
    try:
        entry = json.loads(journal.read_text(encoding="utf-8"))
        final, new, old = (journal.parent / entry[k] for k in ("final", "new", "old"))
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)
        return
    if not os.path.lexists(final):
        if new.is_dir():
            os.rename(new, final)
        elif old.is_dir():  # the new take was lost before it landed: keep the old one
            os.rename(old, final)
    if os.path.lexists(new):
        _remove(new)
    if os.path.lexists(old):
        _remove(old)
    journal.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot say: leave its files
    return True


def _owner(entry: str) -> int | None:
    """The pid in `.<name>.<pid>.<token>.<kind>`, or None for a name not of that form."""
    parts = entry.split(".")
    if len(parts) < 5 or parts[-1] not in _HIDDEN_KINDS or not parts[-3].isdigit():
        return None
    return int(parts[-3])


def sweep(out_dir: Path) -> int:
    """Complete journals and remove hidden work folders of runs that are gone; returns how many
    entries were handled. Folders of running jobs (their process is alive) are left alone."""
    out_dir = Path(out_dir)
    handled = 0
    try:
        entries = sorted(os.listdir(out_dir))
    except OSError:
        return 0
    for entry in entries:  # journals first: they may still need their folders
        pid = _owner(entry)
        if pid is not None and entry.endswith(".landing") and not _pid_alive(pid):
            _complete(out_dir / entry)
            handled += 1
    for entry in entries:
        pid = _owner(entry)
        if pid is not None and not entry.endswith(".landing") and os.path.lexists(out_dir / entry) \
                and not _pid_alive(pid):
            _remove(out_dir / entry)
            handled += 1
    return handled


def take_midi(folder: Path, score: dict) -> Path | None:
    """A landed take's score.mid (the music as MIDI, one track per stem), when its model wrote one:
    the file score.json's "midi" names, inside the take's own folder."""
    name = str((score.get("midi") or {}).get("file") or "")
    if not name or Path(name).name != name or name in (".", ".."):  # a file of the take's folder, never a path
        return None
    path = Path(folder) / name
    return path if path.is_file() else None


def land_take(draft: Path, out_dir: Path, name: str, *, request: dict | None = None,
              replace: bool = False) -> Landing:
    """Move the finished take in `draft` (a hidden folder in `out_dir`) to its folder, by the
    naming policy above; one rename, or one exchange when it replaces a take."""
    out_dir = Path(out_dir)
    check_name(name)
    with _names_lock(out_dir):
        sweep(out_dir)
        chosen = choose_name(out_dir, name, request, replace)
        final = out_dir / chosen
        replaced = _replace(Path(draft), final)
    return Landing(final, chosen, replaced)
