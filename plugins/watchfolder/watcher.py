"""The watch loop: notice complete videos in a folder and score each one, once, up to `jobs` at a time.

Layout of a watched folder DIR:
    DIR/<video>                 dropped by the user; never modified (moved to DIR/done/ on request)
    DIR/scored/<name>/          mix.wav, <stem>.wav, score.json (+ preview.mp4, alignment.png)
    DIR/failed/<name>.error.txt the server's message and what to do
    DIR/.scorecut/              journal.sqlite3, watch.log, watch.lock

Correctness rests on three things: takes land through the client library's `land_take` (a hidden
folder, extras included, renamed into scored/ by the one naming policy: `<stem>`, or `<stem>-2`,
... when another request's take holds that name), the journal marks a job done only after it
landed, and a server that is down or restarting is retried with backoff instead of failing the
file.

With `jobs` > 1 the files are scored on worker threads, each its own client call, while the loop
keeps scanning: each worker has its own journal connection (SQLite connections stay in their
thread), the counts are kept under a lock, names are still chosen by land_take under its lock, and
two files with the same content never run at once (the second waits, then is a duplicate).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

from scorecut.plugins.client import (
    ClipSpec,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobOptions,
    ScorecutClient,
    ServerUnavailable,
    sha256_file,
    sweep,
)

from .candidates import VIDEO_SUFFIXES, StabilityTracker, is_candidate_name, is_hidden_or_temporary
from .journal import Journal
from .options import FILE_OPTIONS_SUFFIX, FOLDER_OPTIONS, FileOptions, OptionsError, options_for, own_options_files
from .outputs import atomic_write_text, extras_hook

log = logging.getLogger("scorecut.watch")

# gRPC codes that say "the server could not do it now", not "this file is bad": retried.
# A refused credential is the server's setup, not the file's fault: waited for too.
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED", "UNKNOWN",
                             "UNAUTHENTICATED"})
MAX_ATTEMPTS = 5  # a job started this often without finishing is failed (it may crash the server)


@dataclass(frozen=True)
class WatchSettings:
    folder: Path
    server: str  # host:port of the model server
    token: str | None = None
    polling: bool = False  # watchdog's PollingObserver, for network shares without inotify
    once: bool = False  # score what is there, then exit
    stable_s: float = 2.0  # seconds a file's size and mtime must stay unchanged before it is taken
    poll_s: float = 0.5  # how often pending files are looked at
    rescan_s: float = 5.0  # full rescan as a safety net for missed events
    max_backoff_s: float = 10.0  # longest wait between tries while the server is unreachable
    once_give_up_s: float = 300.0  # --once: exit 3 when the server stays unreachable this long
    move_done: bool = False  # move originals to DIR/done/ once scored (also per folder/file)
    jobs: int = 1  # files scored at once (1: one after another, in the loop's own thread)

    def __post_init__(self):
        if not isinstance(self.jobs, int) or isinstance(self.jobs, bool) or self.jobs < 1:
            raise OptionsError(f"--jobs must be a whole number of files at once, 1 or more (got {self.jobs!r}); "
                               "leave it out to score one file at a time")


class _Retry(Exception):
    """The server could not take the job now; try again after a backoff."""


class Watcher:
    def __init__(self, settings: WatchSettings, client: ScorecutClient | None = None, start_server=None):
        """`start_server()`: starts this user's local server when none answers (as `scorecut score`
        does); raises ServerUnavailable when it cannot. None: only wait for one."""
        self.settings = settings
        self._start_server = start_server
        self.folder = settings.folder.resolve()
        self.scored = self.folder / "scored"
        self.failed = self.folder / "failed"
        self.done = self.folder / "done"
        self.state_dir = self.folder / ".scorecut"
        self._client = client or ScorecutClient(settings.server, token=settings.token)
        self._tracker = StabilityTracker(settings.stable_s)
        self._stop = threading.Event()  # set by signals: finish nothing new, cancel the running job
        self._wake = threading.Event()  # set by filesystem events: look now rather than at the next poll
        # path -> (signature when handled in this run, the result or error file it left): the
        # file is looked at again when either changes (a deleted result asks for another try).
        self._handled: dict[Path, tuple[tuple | None, Path | None]] = {}
        self._ignored: set[str] = set()  # names already logged as not videos
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._unreachable_since: float | None = None
        self.jobs_run = 0  # jobs sent to the server by this run (for logs and tests)
        self.counts = {"scored": 0, "skipped": 0, "failed": 0}  # files by outcome in this run
        self._tally_lock = threading.Lock()  # guards jobs_run and counts (worker threads update them)
        self._in_flight: dict[Path, Future] = {}  # jobs > 1: files on a worker thread now
        self._contents = threading.Condition()  # guards _contents_running
        self._contents_running: set[str] = set()  # sha256 of files being handled now
        self._start_lock = threading.Lock()  # one attempt at a time to start a local server

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Watch until stopped (or, with `once`, until everything present is handled)."""
        if not self.folder.is_dir():
            raise OptionsError(f"{self.folder} is not a folder; create it or pass the folder to watch")
        for d in (self.scored, self.failed, self.state_dir):
            d.mkdir(exist_ok=True)
        lock = _FolderLock(self.state_dir / "watch.lock")
        journal = Journal(self.state_dir / "journal.sqlite3")
        observer = None if self.settings.once else self._start_observer()
        removed = sweep(self.scored)
        if removed:
            log.info("removed %d partial result(s) left by an interrupted run", removed)
        log.info("watching %s (server %s%s)", self.folder, self.settings.server,
                 ", polling" if self.settings.polling else "")
        pool = None
        if self.settings.jobs > 1:
            pool = ThreadPoolExecutor(self.settings.jobs, thread_name_prefix="scorecut-watch")
        try:
            code = self._loop(journal, pool)
            if pool is not None:
                pool.shutdown(wait=True)  # a stop cancels the running jobs; their journal rows stay 'running'
                self._collect()
            if self.settings.once:
                c = self.counts
                log.info("done: %d scored, %d skipped, %d failed", c["scored"], c["skipped"], c["failed"])
            return code
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            if pool is not None:
                pool.shutdown(wait=True)
            journal.close()
            lock.release()

    def _start_observer(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        wake = self._wake

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event):  # created, modified, closed, moved: look again soon
                wake.set()

        observer = PollingObserver(timeout=self.settings.poll_s) if self.settings.polling else Observer()
        observer.schedule(_Wake(), str(self.folder), recursive=False)
        observer.start()
        return observer

    # -- the loop --------------------------------------------------------------------------

    def _loop(self, journal: Journal, pool: ThreadPoolExecutor | None = None) -> int:
        last_full_scan = 0.0
        while not self._stop.is_set():
            self._collect()
            now = time.monotonic()
            woken = self._wake.is_set()
            self._wake.clear()
            if woken or self._tracker.pending() or now - last_full_scan >= self.settings.rescan_s:
                ready = self._scan(journal)
                last_full_scan = now
            else:
                ready = []
            if ready and now >= self._retry_at:
                for path in ready:
                    if self._stop.is_set():
                        break
                    if pool is not None:
                        if len(self._in_flight) >= self.settings.jobs:
                            break  # the rest stay ready: taken when a worker is free
                        self._in_flight[path] = pool.submit(self._handle_on_worker, path)
                        continue
                    try:
                        self._handle(path, journal)
                        self._server_back()
                    except _Retry as why:
                        self._server_down(str(why))
                        break
            if self.settings.once:
                if not ready and not self._tracker.pending() and not self._in_flight:
                    return 0
                if self._unreachable_since is not None and (
                        time.monotonic() - self._unreachable_since > self.settings.once_give_up_s):
                    log.error("the server at %s stayed unreachable; giving up", self.settings.server)
                    return 3
            wait = self.settings.poll_s if self._tracker.pending() or ready else self.settings.rescan_s
            if ready and self._retry_at > time.monotonic():
                wait = min(wait, self._retry_at - time.monotonic())
            self._wake.wait(max(0.05, wait))
        return 0

    def _handle_on_worker(self, path: Path) -> None:
        """`_handle` on a worker thread, with a journal connection of its own."""
        journal = Journal(self.state_dir / "journal.sqlite3")
        try:
            self._handle(path, journal)
        finally:
            journal.close()
            self._wake.set()  # the loop collects the outcome and may send the next file

    def _collect(self) -> None:
        """Take in the outcomes of finished workers: the server's state follows from them (one
        backoff step however many jobs found it away at once)."""
        retry, finished = None, False
        for path, future in list(self._in_flight.items()):
            if not future.done():
                continue
            del self._in_flight[path]
            error = future.exception()
            if error is None:
                finished = True
            elif isinstance(error, _Retry):
                retry = error
            else:  # a fault of the watcher's own: it stops, as it does with one job at a time
                self.stop()  # the other running jobs are cancelled; the journal keeps them for the next run
                raise error
        if retry is not None:
            self._server_down(str(retry))
        elif finished:
            self._server_back()

    def _scan(self, journal: Journal) -> list[Path]:
        """Candidates that are complete and not yet handled in their current state, oldest first."""
        ready = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            log.error("cannot list %s: %s", self.folder, exc)
            return []
        present = set()
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            if not is_candidate_name(entry.name):
                self._say_ignored(entry.name)
                continue
            path = Path(entry.path)
            present.add(path)
            if path in self._in_flight:  # being scored now: looked at again once it is done
                continue
            if self._still_handled(path):
                self._tracker.forget(path)
                continue
            if self._tracker.observe(path):
                ready.append(path)
        for gone in set(self._tracker.pending()) - present:
            self._tracker.forget(gone)
        return sorted(ready, key=lambda p: (self._tracker.state(p) or (0, 0))[1])

    def _say_ignored(self, name: str) -> None:
        """Log once why a visible file that is not ours is left alone (temporary names are not
        mentioned: they are files still on their way)."""
        if (name in self._ignored or is_hidden_or_temporary(name) or name == FOLDER_OPTIONS
                or name.endswith(FILE_OPTIONS_SUFFIX)):
            return
        self._ignored.add(name)
        log.info("%s: left alone: not a video file (give Scorecut videos: %s)", name, ", ".join(sorted(VIDEO_SUFFIXES)))

    def _still_handled(self, path: Path) -> bool:
        handled = self._handled.get(path)
        if handled is None:
            return False
        signature, left = handled
        return signature == self._signature(path) and (left is None or left.exists())

    def _signature(self, path: Path) -> tuple | None:
        """What must stay the same for a handled file to stay handled: it and its options files."""
        sig = []
        for p in (path, self.folder / FOLDER_OPTIONS, *own_options_files(path)):
            try:
                st = p.stat()
                sig.append((st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                sig.append(None)
        return tuple(sig)

    def _server_down(self, why: str) -> None:
        self._backoff_s = min(self.settings.max_backoff_s, max(0.5, self._backoff_s * 2))
        self._retry_at = time.monotonic() + self._backoff_s
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
        log.warning("server not available (%s); retrying in %.1f s", why, self._backoff_s)

    def _server_back(self) -> None:
        if self._unreachable_since is not None:
            log.info("server is back")
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._unreachable_since = None

    # -- one file ----------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        with self._tally_lock:
            self.counts[outcome] += 1

    def _handle(self, path: Path, journal: Journal) -> None:
        signature = self._signature(path)
        try:
            sha = self._content_hash(path, journal)
        except FileNotFoundError:
            return
        with self._contents:  # a copy of a file being scored now waits for it, then is a duplicate
            while sha in self._contents_running:
                self._contents.wait()
            self._contents_running.add(sha)
        try:
            self._handle_content(path, journal, signature, sha)
        finally:
            with self._contents:
                self._contents_running.discard(sha)
                self._contents.notify_all()

    def _handle_content(self, path: Path, journal: Journal, signature: tuple | None, sha: str) -> None:
        entry = journal.get(sha)
        try:
            options = options_for(path, self.folder)
        except OptionsError as exc:
            self._write_failure(path.stem, path.name, "INVALID_ARGUMENT", str(exc))
            self._count("failed")
            log.error("%s: %s -> failed/%s.error.txt", path.name, exc, path.stem)
            self._handled[path] = (signature, None)  # tried again when an options file changes
            return
        fingerprint = _fingerprint(options)
        if entry is not None and not self._try_again(entry, fingerprint):
            where = f"scored/{entry.name}" if entry.state == "done" else f"failed/{entry.name}.error.txt"
            log.info("%s: same content as %s, already %s (%s); not scored again",
                     path.name, entry.source, entry.state, where)
            self._count("skipped")
            self._handled[path] = (signature, self.folder / where)
            return
        name = path.stem or "video"  # the take's base name; land_take may land it as <name>-2, ...
        if entry is not None and entry.state == "running" and entry.attempts >= MAX_ATTEMPTS:
            msg = (f"scoring was started {entry.attempts} times and never finished (the watcher or the "
                   "server stopped each time); check the server log, then remove this file's entry by "
                   "changing or re-adding the file")
            self._write_failure(name, path.name, "ABORTED", msg)
            self._count("failed")
            journal.finish(sha, "failed", msg)
            self._handled[path] = (signature, self.failed / f"{name}.error.txt")
            return
        journal.start(sha, name, path.name, fingerprint)
        with self._tally_lock:
            self.jobs_run += 1
        log.info("scoring %s -> scored/%s/", path.name, name)
        started = time.monotonic()
        clip = ClipSpec(str(path), options.in_s, options.out_s, name=path.name)
        try:
            result = self._client.score(
                [clip],
                _job_options(options),
                out_dir=self.scored,
                name=name,
                on_event=_ProgressLog(path.name),
                cancel=self._stop,
                before_land=extras_hook(clip, options, path.name),
            )
        except ServerUnavailable as exc:
            if self._start_server is not None and not exc.during_job:
                try:
                    with self._start_lock:  # workers that find no server start one, not one each
                        self._start_server()
                except ServerUnavailable as why:  # waited for, never a failed file
                    log.warning("could not start a local server: %s", str(why).splitlines()[0])
            raise _Retry(str(exc).splitlines()[0]) from exc
        except JobCancelled:
            log.info("%s: stopped before it finished; it will be scored on the next start", path.name)
            return
        except JobFailed as exc:
            if exc.code in RETRYABLE_CODES or (exc.code == "RESOURCE_EXHAUSTED" and "queue" in exc.message.lower()):
                raise _Retry(f"{exc.code}: {exc.message}") from exc
            self._write_failure(name, path.name, exc.code, exc.message)
            self._count("failed")
            journal.finish(sha, "failed", f"{exc.code}: {exc.message}")
            self._handled[path] = (signature, self.failed / f"{name}.error.txt")
            log.error("%s: failed (%s): %s -> failed/%s.error.txt", path.name, exc.code, exc.message, name)
            return
        stale_error = self.failed / f"{name}.error.txt"
        stale_error.unlink(missing_ok=True)
        journal.finish(sha, "done", name=result.folder.name)
        self._count("scored")
        self._handled[path] = (signature, result.folder)
        log.info("%s: scored in %.1f s -> scored/%s/%s", path.name, time.monotonic() - started, result.folder.name,
                 " (from the server's cache)" if result.cached else "")
        if options.move_done or self.settings.move_done:
            self._move_done(path)

    def _content_hash(self, path: Path, journal: Journal) -> str:
        st = path.stat()
        known = journal.known_hash(str(path), st.st_size, st.st_mtime_ns)
        if known:
            return known
        sha = sha256_file(path)
        journal.remember_hash(str(path), st.st_size, st.st_mtime_ns, sha)
        return sha

    def _try_again(self, entry, fingerprint: str) -> bool:
        """Whether content already handled is scored again: a job that never ended, a result or
        error file the user deleted (asking for another try), or a failure under other options."""
        if entry.state == "running":
            return True
        if entry.state == "done":  # changed options make a new take (landed beside the earlier one)
            return entry.options != fingerprint or not (self.scored / entry.name).is_dir()
        return entry.options != fingerprint or not (self.failed / f"{entry.name}.error.txt").exists()

    def _write_failure(self, name: str, source: str, code: str, message: str) -> None:
        text = (f"{source} could not be scored.\n\n{message}\n\n(code {code}). Fix the file or its "
                f"options ({source}{FILE_OPTIONS_SUFFIX} or {FOLDER_OPTIONS}): a changed file, or changed "
                f"options, are tried again; or delete this file to try it again as it is.\n")
        atomic_write_text(self.failed / f"{name}.error.txt", text)

    def _move_done(self, path: Path) -> None:
        self.done.mkdir(exist_ok=True)
        target = self.done / path.name
        if target.exists():
            target = self.done / f"{path.stem}-{int(time.time())}{path.suffix}"
        shutil.move(str(path), str(target))  # a rename on the same filesystem: bytes untouched
        log.info("%s: moved to done/", path.name)


def _fingerprint(options: FileOptions) -> str:
    """The options that were set (defaults left out, so a later field does not re-score files)."""
    return repr({f.name: getattr(options, f.name) for f in fields(options)
                 if getattr(options, f.name) != f.default})


def _job_options(options: FileOptions) -> JobOptions:
    return JobOptions(model=options.model, style=options.style, mood=options.mood, seed=options.seed,
                      stems=options.stems, hits=options.hits, loop=options.loop, tail_s=options.tail_s,
                      duck_dialogue=options.duck_dialogue, duck_amount_lu=options.duck_amount,
                      duck_fade_s=options.duck_fade)


class _ProgressLog:
    """Logs a job's progress at most every few seconds, so the log stays readable."""

    def __init__(self, label: str, every_s: float = 3.0):
        self.label, self.every_s, self._last = label, every_s, 0.0

    def __call__(self, event: JobEvent) -> None:
        if event.kind != "progress":
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            log.info("%s: %3.0f%% %s", self.label, 100 * event.fraction, event.stage)


class _FolderLock:
    """One watcher per folder: an advisory lock the OS releases even after SIGKILL."""

    def __init__(self, path: Path):
        self._file = open(path, "a+")
        try:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: the scheduled task runs one instance; no lock needed
            pass
        except BlockingIOError:
            self._file.close()
            raise OptionsError(f"another watcher is already running on {path.parent.parent}; stop it first") from None

    def release(self) -> None:
        self._file.close()
