"""The watch loop: notice complete videos in a folder and score each one, once, up to `jobs` at a time.

Layout of a watched folder DIR:
    DIR/<video>                 dropped by the user; never modified (moved to DIR/done/ on request)
    DIR/scored/<name>/          mix.wav, <stem>.wav, score.json (+ preview.mp4, alignment.png)
    DIR/failed/<name>.error.txt the server's message and what to do
    DIR/.scorecut/              journal.sqlite3, watch.log, watch.lock

What happens to one file (the journal, naming, landing, failures) is FolderScorer's (folder.py),
shared with `scorecut batch`; this loop decides when a file is complete, sends it to the server
with the client library, and retries a server that is down or restarting with backoff instead of
failing the file.

With `jobs` > 1 the files are scored on worker threads, each its own client call, while the loop
keeps scanning: each worker has its own journal connection (SQLite connections stay in their
thread), names are still chosen by land_take under its lock, and two files with the same content
never run at once (the second waits, then is a duplicate).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scorecut.plugins.client import JobEvent, JobResult, ScorecutClient, ServerUnavailable

from .candidates import VIDEO_SUFFIXES, StabilityTracker, is_candidate_name, is_hidden_or_temporary
from .folder import FolderScorer, Retry, Take
from .journal import Journal
from .options import FILE_OPTIONS_SUFFIX, FOLDER_OPTIONS, OptionsError, folder_jobs
from .outputs import extras_hook

log = logging.getLogger("scorecut.watch")


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
    # Files scored at once (1: one after another, in the loop's own thread); None: the folder's
    # scorecut.toml `jobs` when the watcher starts, else 1.
    jobs: int | None = None

    def __post_init__(self):
        if self.jobs is not None and (not isinstance(self.jobs, int) or isinstance(self.jobs, bool) or self.jobs < 1):
            raise OptionsError(f"--jobs must be a whole number of files at once, 1 or more (got {self.jobs!r}); "
                               "leave it out to score one file at a time")


class Watcher:
    def __init__(self, settings: WatchSettings, client: ScorecutClient | None = None, start_server=None):
        """`start_server()`: starts this user's local server when none answers (as `scorecut score`
        does); raises ServerUnavailable when it cannot. None: only wait for one."""
        self.settings = settings
        self._start_server = start_server
        self.files = FolderScorer(settings.folder, move_done=settings.move_done)  # what happens to each file
        self.folder = self.files.folder
        self.jobs = settings.jobs or 1  # files at once; the folder's scorecut.toml may set it when run() starts
        self._client = client or ScorecutClient(settings.server, token=settings.token)
        self._tracker = StabilityTracker(settings.stable_s)
        self._stop = threading.Event()  # set by signals: finish nothing new, cancel the running job
        self._wake = threading.Event()  # set by filesystem events: look now rather than at the next poll
        self._ignored: set[str] = set()  # names already logged as not videos
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._unreachable_since: float | None = None
        self._in_flight: dict[Path, Future] = {}  # jobs > 1: files on a worker thread now
        self._start_lock = threading.Lock()  # one attempt at a time to start a local server

    @property
    def jobs_run(self) -> int:
        """Jobs sent to the server by this run (for logs and tests)."""
        return self.files.jobs_run

    @property
    def counts(self) -> dict[str, int]:
        """Files by outcome in this run: scored, skipped, failed."""
        return self.files.counts

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Watch until stopped (or, with `once`, until everything present is handled)."""
        if not self.folder.is_dir():
            raise OptionsError(f"{self.folder} is not a folder; create it or pass the folder to watch")
        self.jobs = self.settings.jobs or folder_jobs(self.folder) or 1  # the flag, else the folder's file
        lock = self.files.claim()
        journal = self.files.journal()
        observer = None if self.settings.once else self._start_observer()
        log.info("watching %s (server %s%s%s)", self.folder, self.settings.server,
                 ", polling" if self.settings.polling else "", f", {self.jobs} files at once" if self.jobs > 1 else "")
        pool = None
        if self.jobs > 1:
            pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="scorecut-watch")
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
                        if len(self._in_flight) >= self.jobs:
                            break  # the rest stay ready: taken when a worker is free
                        self._in_flight[path] = pool.submit(self._handle_on_worker, path)
                        continue
                    try:
                        self._handle(path, journal)
                        self._server_back()
                    except Retry as why:
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
        journal = self.files.journal()
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
            elif isinstance(error, Retry):
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
        handled = self.files.handled.get(path)
        if handled is None:
            return False
        signature, left = handled
        return signature == self.files.signature(path) and (left is None or left.exists())

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

    def _handle(self, path: Path, journal: Journal) -> None:
        """Score one file on the server (FolderScorer decides, journals and names); raises Retry."""
        self.files.handle(path, journal, self._send)

    def _send(self, take: Take) -> JobResult:
        """One job on the server, its take landed in scored/ by the client."""
        try:
            return self._client.score(
                [take.clip],
                take.job_options,
                out_dir=self.files.scored,
                name=take.name,
                on_event=_ProgressLog(take.path.name),
                cancel=self._stop,
                before_land=extras_hook(take.clip, take.options, take.path.name),
            )
        except ServerUnavailable as exc:
            if self._start_server is not None and not exc.during_job:
                try:
                    with self._start_lock:  # workers that find no server start one, not one each
                        self._start_server()
                except ServerUnavailable as why:  # waited for, never a failed file
                    log.warning("could not start a local server: %s", str(why).splitlines()[0])
            raise Retry(str(exc).splitlines()[0]) from exc


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
