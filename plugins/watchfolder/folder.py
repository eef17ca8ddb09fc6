"""One file of a watched folder, from its content to its landed take: the seam every way of scoring a
folder shares.

`scorecut watch` (watcher.py) sends each file to a Scorecut server; `scorecut batch --ray` runs each
as a Ray task. Both go through FolderScorer, so a folder scored either way has the same layout, names
and journal, and survives the same crashes:
- `begin` decides from the journal whether a file is scored (finished content is skipped, a file
  whose options cannot be read fails at once) and marks it running before its job starts;
- the job's take lands through the client library (one naming policy, one rename): the client's
  own `score` for a server, `land_events` for the events of a job that ran elsewhere;
- `landed` marks the file done only after its take landed; `failed` writes failed/<name>.error.txt.
A run killed at any point (even SIGKILL) leaves files marked running: the next run scores them again.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from scorecut.plugins.client import (
    ClipSpec,
    JobCancelled,
    JobFailed,
    JobOptions,
    JobResult,
    JobWriter,
    sha256_file,
    sweep,
)
from scorecut.plugins.client.request import request_record

from .journal import Journal
from .options import FILE_OPTIONS_SUFFIX, FOLDER_OPTIONS, FileOptions, OptionsError, options_for, own_options_files
from .outputs import atomic_write_text, extras_hook

log = logging.getLogger("scorecut.watch")

JOURNAL_NAME = "journal.sqlite3"
LOCK_NAME = "watch.lock"  # a watcher and a batch share it: never two runs on one folder
# gRPC codes that say "the server could not do it now", not "this file is bad": retried.
# A refused credential is the server's setup, not the file's fault: waited for too.
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED", "UNKNOWN",
                             "UNAUTHENTICATED"})
MAX_ATTEMPTS = 5  # a job started this often without finishing is failed (it may crash the server)


class Retry(Exception):
    """The server or cluster could not take the job now; try again after a backoff."""


def is_retryable(code: str, message: str) -> bool:
    """Whether a job that ended with this status is tried again rather than failing its file."""
    return code in RETRYABLE_CODES or (code == "RESOURCE_EXHAUSTED" and "queue" in message.lower())


class FolderLock:
    """One watcher or batch per folder: an advisory lock the OS releases even after SIGKILL."""

    def __init__(self, path: Path):
        self._file = open(path, "a+")
        try:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: the scheduled task runs one instance; no lock needed
            pass
        except BlockingIOError:
            self._file.close()
            raise OptionsError(f"another watcher or batch is already running on {path.parent.parent}; "
                               "stop it first") from None

    def release(self) -> None:
        self._file.close()


def content_hash(path: Path, journal: Journal) -> str:
    """The file's sha256, read once per (path, size, mtime): the journal remembers it across runs."""
    st = path.stat()
    known = journal.known_hash(str(path), st.st_size, st.st_mtime_ns)
    if known:
        return known
    sha = sha256_file(path)
    journal.remember_hash(str(path), st.st_size, st.st_mtime_ns, sha)
    return sha


def job_options(options: FileOptions) -> JobOptions:
    """A file's options as the client sends them."""
    return JobOptions(model=options.model, style=options.style, mood=options.mood, seed=options.seed,
                      stems=options.stems, hits=options.hits, loop=options.loop, tail_s=options.tail_s,
                      duck_dialogue=options.duck_dialogue, duck_amount_lu=options.duck_amount,
                      duck_fade_s=options.duck_fade)


def fingerprint(options: FileOptions) -> str:
    """The options that were set (defaults left out, so a later field does not re-score files)."""
    return repr({f.name: getattr(options, f.name) for f in fields(options)
                 if getattr(options, f.name) != f.default})


@dataclass(frozen=True)
class Take:
    """A file marked running in the journal: what its job is sent with and what landing it needs."""

    path: Path
    sha256: str  # the content: the journal's key
    name: str  # the take's base name; land_take may land it as <name>-2, ...
    options: FileOptions
    signature: tuple | None  # the file and its options files when taken (see FolderScorer.signature)

    @property
    def clip(self) -> ClipSpec:
        return ClipSpec(str(self.path), self.options.in_s, self.options.out_s, name=self.path.name)

    @property
    def job_options(self) -> JobOptions:
        return job_options(self.options)

    @property
    def request(self) -> dict:
        """What score.json records as the request (the naming policy compares it)."""
        return request_record([self.clip], self.job_options)


class FolderScorer:
    """A watched folder's layout, journal decisions, naming and counts; thread-safe across files."""

    def __init__(self, folder: Path, move_done: bool = False):
        self.folder = Path(folder).resolve()
        self.scored = self.folder / "scored"
        self.failed_dir = self.folder / "failed"
        self.done = self.folder / "done"
        self.state_dir = self.folder / ".scorecut"
        self.move_done = move_done
        # path -> (signature when handled in this run, the result or error file it left): the
        # watcher looks at the file again when either changes (a deleted result asks for another try).
        self.handled: dict[Path, tuple[tuple | None, Path | None]] = {}
        self.jobs_run = 0  # jobs started by this run (for logs and tests)
        self.counts = {"scored": 0, "skipped": 0, "failed": 0}  # files by outcome in this run
        self._tally_lock = threading.Lock()  # guards jobs_run and counts (worker threads update them)
        self._contents = threading.Condition()  # guards _contents_running
        self._contents_running: set[str] = set()  # sha256 of files being handled now

    # -- the folder ----------------------------------------------------------------------------

    def claim(self) -> FolderLock:
        """Make the layout, take the folder's lock and remove partial takes a killed run left."""
        if not self.folder.is_dir():
            raise OptionsError(f"{self.folder} is not a folder; create it or pass the folder of videos")
        for d in (self.scored, self.failed_dir, self.state_dir):
            d.mkdir(exist_ok=True)
        lock = FolderLock(self.state_dir / LOCK_NAME)
        removed = sweep(self.scored)
        if removed:
            log.info("removed %d partial take(s) left by an interrupted run", removed)
        return lock

    def journal(self) -> Journal:
        """A connection to the folder's journal (one per thread: SQLite connections stay in theirs)."""
        return Journal(self.state_dir / JOURNAL_NAME)

    def signature(self, path: Path) -> tuple | None:
        """What must stay the same for a handled file to stay handled: it and its options files."""
        sig = []
        for p in (path, self.folder / FOLDER_OPTIONS, *own_options_files(path)):
            try:
                st = p.stat()
                sig.append((st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                sig.append(None)
        return tuple(sig)

    # -- one file, start to end, on a server -------------------------------------------------------

    def handle(self, path: Path, journal: Journal, send: Callable[[Take], JobResult]) -> None:
        """Score `path` with `send(take)` (a call that scores and lands it, e.g. ScorecutClient.score)
        and record the outcome. Raises Retry when the job could not be taken now."""
        signature = self.signature(path)
        try:
            sha = content_hash(path, journal)
        except FileNotFoundError:
            return
        with self._one_content_at_a_time(sha):
            take = self.begin(path, journal, sha, signature)
            if take is None:
                return
            started = time.monotonic()
            try:
                result = send(take)
            except JobCancelled:
                log.info("%s: stopped before it finished; it will be scored on the next start", path.name)
                return
            except JobFailed as exc:
                if is_retryable(exc.code, exc.message):
                    raise Retry(f"{exc.code}: {exc.message}") from exc
                self.failed(take, exc.code, exc.message, journal)
                return
            self.landed(take, result, journal, time.monotonic() - started)

    @contextlib.contextmanager
    def _one_content_at_a_time(self, sha: str):
        """A copy of a file being scored now waits for it, then is a duplicate."""
        with self._contents:
            while sha in self._contents_running:
                self._contents.wait()
            self._contents_running.add(sha)
        try:
            yield
        finally:
            with self._contents:
                self._contents_running.discard(sha)
                self._contents.notify_all()

    # -- the steps ------------------------------------------------------------------------------

    def begin(self, path: Path, journal: Journal, sha: str, signature: tuple | None = None) -> Take | None:
        """Mark `path` (content `sha`) running and return its Take, or None when it is not scored now
        (already done or failed with these options, or failed at once: its options are unreadable,
        or it was started MAX_ATTEMPTS times without finishing)."""
        signature = self.signature(path) if signature is None else signature
        entry = journal.get(sha)
        try:
            options = options_for(path, self.folder)
        except OptionsError as exc:
            self._write_failure(path.stem, path.name, "INVALID_ARGUMENT", str(exc))
            self._count("failed")
            log.error("%s: %s -> failed/%s.error.txt", path.name, exc, path.stem)
            self.handled[path] = (signature, None)  # tried again when an options file changes
            return None
        prints = fingerprint(options)
        if entry is not None and not self._try_again(entry, prints):
            where = f"scored/{entry.name}" if entry.state == "done" else f"failed/{entry.name}.error.txt"
            log.info("%s: same content as %s, already %s (%s); not scored again",
                     path.name, entry.source, entry.state, where)
            self._count("skipped")
            self.handled[path] = (signature, self.folder / where)
            return None
        name = path.stem or "video"
        take = Take(path, sha, name, options, signature)
        if entry is not None and entry.state == "running" and entry.attempts >= MAX_ATTEMPTS:
            self.failed(take, "ABORTED", f"scoring was started {entry.attempts} times and never finished (the "
                        "watcher or the server stopped each time); check the server log, then remove this "
                        "file's entry by changing or re-adding the file", journal)
            return None
        journal.start(sha, name, path.name, prints)
        with self._tally_lock:
            self.jobs_run += 1
        log.info("scoring %s -> scored/%s/", path.name, name)
        return take

    def land_events(self, take: Take, events: Iterable) -> JobResult:
        """Land the take of a job that ran elsewhere from its scorecut.v1 ScoreEvents (as a server
        streams them), exactly as the client lands a streamed job: same files, same bytes, same name."""
        clip = take.clip
        writer = JobWriter(self.scored, take.name, take.request, clips=[clip])  # as ScorecutClient.score's
        try:
            for event in events:
                writer.handle(event)
            return writer.land(writer.finish(), extras_hook(clip, take.options, take.path.name))
        except BaseException:
            writer.abort()  # nothing is left in scored/
            raise

    def landed(self, take: Take, result: JobResult, journal: Journal, seconds: float) -> None:
        """The take is in scored/: mark the file done (only now), then tidy up."""
        (self.failed_dir / f"{take.name}.error.txt").unlink(missing_ok=True)
        journal.finish(take.sha256, "done", name=result.folder.name)
        self._count("scored")
        self.handled[take.path] = (take.signature, result.folder)
        log.info("%s: scored in %.1f s -> scored/%s/%s", take.path.name, seconds, result.folder.name,
                 " (from the result cache)" if result.cached else "")
        if take.options.move_done or self.move_done:
            self._move_done(take.path)

    def failed(self, take: Take, code: str, message: str, journal: Journal) -> None:
        """The file cannot be scored as it is: failed/<name>.error.txt says why and what to do."""
        self._write_failure(take.name, take.path.name, code, message)
        self._count("failed")
        journal.finish(take.sha256, "failed", f"{code}: {message}")
        self.handled[take.path] = (take.signature, self.failed_dir / f"{take.name}.error.txt")
        log.error("%s: failed (%s): %s -> failed/%s.error.txt", take.path.name, code, message, take.name)

    # -- helpers ----------------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        with self._tally_lock:
            self.counts[outcome] += 1

    def _try_again(self, entry, prints: str) -> bool:
        """Whether content already handled is scored again: a job that never ended, a result or
        error file the user deleted (asking for another try), or a failure under other options."""
        if entry.state == "running":
            return True
        if entry.state == "done":  # changed options make a new take (landed beside the earlier one)
            return entry.options != prints or not (self.scored / entry.name).is_dir()
        return entry.options != prints or not (self.failed_dir / f"{entry.name}.error.txt").exists()

    def _write_failure(self, name: str, source: str, code: str, message: str) -> None:
        text = (f"{source} could not be scored.\n\n{message}\n\n(code {code}). Fix the file or its "
                f"options ({source}{FILE_OPTIONS_SUFFIX} or {FOLDER_OPTIONS}): a changed file, or changed "
                f"options, are tried again; or delete this file to try it again as it is.\n")
        atomic_write_text(self.failed_dir / f"{name}.error.txt", text)

    def _move_done(self, path: Path) -> None:
        self.done.mkdir(exist_ok=True)
        target = self.done / path.name
        if target.exists():
            target = self.done / f"{path.stem}-{int(time.time())}{path.suffix}"
        shutil.move(str(path), str(target))  # a rename on the same filesystem: bytes untouched
        log.info("%s: moved to done/", path.name)
