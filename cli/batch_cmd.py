"""`scorecut batch DIR --ray local|ADDRESS`: score every video in a folder as Ray tasks, once each.

The folder works as a watch folder does: FolderScorer (plugins/watchfolder/folder.py) decides,
journals, names and lands each file. Takes land in DIR/scored/<name>/ by the client library's one
naming policy, failures in DIR/failed/, and the journal DIR/.scorecut/journal.sqlite3 marks a file
running before its task and done only after its take landed. So a driver killed at any point
(SIGKILL too) resumes on the next run: finished files are not scored again, and a file whose task
finished but whose take had not landed comes from the result cache without running again.

Each file is one Ray task (server/ray_tasks.py), named after it in Ray's dashboard and run by the
single-node model worker. At most --jobs tasks are in flight; each take lands as its task finishes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from pathlib import Path

from scorecut.plugins.watchfolder import FolderScorer, Take, content_hash
from scorecut.plugins.watchfolder.folder import is_retryable

log = logging.getLogger("scorecut.batch")
WAIT_S = 0.5  # how long the driver waits for a task to finish before looking at signals again


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="the folder of videos to score")
    parser.add_argument("--ray", metavar="ADDRESS", required=True,
                        help="local (a Ray head on this machine), auto, or the cluster's address")
    parser.add_argument("--jobs", "--replicas", dest="jobs", type=int, default=None, metavar="N",
                        help="files scored at once, each a Ray task (default: jobs in DIR/scorecut.toml, else "
                             "as many as the cluster has room for)")
    parser.add_argument("--gpus-per-job", "--gpus-per-replica", dest="gpus", type=float, default=0.0, metavar="G",
                        help="GPUs Ray gives each task (default 0: CPU)")
    parser.add_argument("--cpus-per-job", dest="cpus", type=float, default=1.0, metavar="C",
                        help="CPUs Ray gives each task (default 1)")
    parser.add_argument("--cache-dir", type=Path,
                        help="results, on storage every node mounts at the same path (default: the user cache folder)")
    parser.add_argument("--model-dir", type=Path, help="installed model checkpoints (default: the user data folder)")


def _problems(args) -> list[str]:
    out = []
    if args.jobs is not None and args.jobs < 1:
        out.append("--jobs must be at least 1 (files scored at once)")
    if args.gpus < 0:
        out.append("--gpus-per-job must be 0 (CPU) or more")
    if args.cpus <= 0:
        out.append("--cpus-per-job must be more than 0")
    if not args.ray:
        out.append("--ray needs an address: local, auto, or the cluster's (e.g. ray://head:10001)")
    return out


def run(args) -> int:
    from scorecut.plugins.watchfolder.options import OptionsError, folder_jobs

    folder = args.folder.expanduser().resolve()
    if not folder.is_dir():
        print(f"scorecut batch: {folder} is not a folder; pass the folder of videos to score", file=sys.stderr)
        return 2
    problems = _problems(args)
    try:
        jobs = args.jobs or folder_jobs(folder)  # the flag, else the folder's scorecut.toml
    except OptionsError as exc:
        problems.append(str(exc))
    if problems:
        print("\n".join(f"scorecut batch: {p}" for p in problems), file=sys.stderr)
        return 2
    try:
        import ray
    except ImportError:
        print("scorecut batch: --ray needs Ray: pip install 'scorecut[ray]'", file=sys.stderr)
        return 2
    from scorecut.server.app import resolve_device
    from scorecut.server.config import ServerConfig, default_cache_dir, default_model_dir
    from scorecut.server.ray_serve import connect_ray
    from scorecut.server.ray_tasks import BatchFront, TaskSettings

    _log_to_stderr()
    config = ServerConfig(host="127.0.0.1", port=0, device="auto", media_roots=(folder,),
                          cache_dir=(args.cache_dir or default_cache_dir()).expanduser().resolve(),
                          model_dir=(args.model_dir or default_model_dir()).expanduser().resolve())
    settings = TaskSettings(device="cuda" if args.gpus > 0 else "auto", model_dir=str(config.model_dir),
                            results=str(config.results), cache_max_bytes=config.cache_max_bytes,
                            shared_cache=args.cache_dir is not None or args.ray == "local")
    connect_ray(args.ray)  # "local": a cluster of its own, gone when the batch ends
    try:
        jobs = jobs or _room(ray, args.cpus, args.gpus)
        front = BatchFront(config, "cuda" if args.gpus > 0 else resolve_device(config.device))
        batch = Batch(folder, front, settings, jobs, args.cpus, args.gpus)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: batch.stopping.set())
        return batch.run()
    except OptionsError as exc:  # another watcher or batch holds the folder
        print(f"scorecut batch: {exc}", file=sys.stderr)
        return 2
    finally:
        ray.shutdown()


def _room(ray, cpus: float, gpus: float) -> int:
    """How many tasks the cluster can run at once now (at least 1)."""
    have = ray.cluster_resources()
    room = have.get("GPU", 0.0) / gpus if gpus > 0 else have.get("CPU", 0.0) / cpus
    return max(1, int(room))


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("scorecut")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


class Batch:
    """One run of the driver over a folder: up to `jobs` Ray tasks in flight, each take landed as its
    task finishes."""

    def __init__(self, folder: Path, front, settings, jobs: int, cpus: float, gpus: float):
        import ray

        from scorecut.server.ray_tasks import TASK_RETRIES, score_job

        self.files = FolderScorer(folder)
        self.front = front
        self.settings = settings
        self.jobs = jobs
        self.stopping = threading.Event()
        self.tasks_run = 0  # Ray tasks this run started
        # Ray runs a task again only when its worker or node died; a bad file is a result, never retried.
        self._task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=TASK_RETRIES,
                                retry_exceptions=False)(score_job)
        self._journal = None
        self._running: dict = {}  # ObjectRef -> (Take, monotonic start)

    def run(self) -> int:
        import ray

        lock = self.files.claim()  # the watch folder's lock: never a watcher and a batch on one folder
        self._journal = journal = self.files.journal()
        began = time.monotonic()
        try:
            videos = self._videos()
            first_of: dict[str, Path] = {}  # content -> the file scored for it; copies are looked at after
            copies = []
            for path in videos:
                sha = content_hash(path, journal)
                (copies.append((sha, path)) if sha in first_of else first_of.setdefault(sha, path))
            log.info("%d video(s) in %s, up to %d at once as Ray tasks", len(videos), self.files.folder, self.jobs)
            waiting = deque(first_of.items())
            while (waiting or self._running) and not self.stopping.is_set():
                while waiting and len(self._running) < self.jobs and not self.stopping.is_set():
                    self._start(*waiting.popleft())
                if self._running:
                    ready, _ = ray.wait(list(self._running), num_returns=1, timeout=WAIT_S)
                    for ref in ready:
                        self._finish(ref)
            if self.stopping.is_set():  # the running tasks are cancelled; the journal keeps them for the next run
                for ref in self._running:
                    ray.cancel(ref)
                return 130
            for sha, path in copies:  # each a duplicate of finished content now, told as the watcher tells it
                entry = journal.get(sha)
                if entry is not None and entry.state != "running":
                    self.files.begin(path, journal, sha)
            states = [e.state for e in journal.entries() if e.sha256 in first_of]  # the videos there now
            c = self.files.counts
            log.info("batch done in %.1f s: %d scored, %d skipped, %d failed, %d unfinished; %d Ray task(s)",
                     time.monotonic() - began, c["scored"], c["skipped"], c["failed"], states.count("running"),
                     self.tasks_run)
            return 1 if "running" in states else 0
        finally:
            journal.close()
            lock.release()

    def _videos(self) -> list[Path]:
        from scorecut.plugins.watchfolder.candidates import is_candidate_name

        folder = self.files.folder
        return sorted(p for p in folder.iterdir() if p.is_file() and is_candidate_name(p.name))

    def _start(self, sha: str, path: Path) -> None:
        """Begin the file; its take lands at once when the cache has it or its request is refused,
        else it becomes a Ray task."""
        from scorecut.plugins.client import build_request
        from scorecut.server.errors import RpcFailure
        from scorecut.server.ray_serve import Dispatch

        take = self.files.begin(path, self._journal, sha)
        if take is None:
            return
        started = time.monotonic()
        try:
            spec = self.front.check(build_request([take.clip], take.job_options))
        except RpcFailure as refused:  # a bad file or options: failed as a server's answer fails it
            self.files.failed(take, refused.code.name, refused.message, self._journal)
            return
        cached = self.front.cached(spec.result_key)
        if cached is not None:
            self._land(take, self.front.events(cached, cached=True), started)
            return
        dispatch = Dispatch(spec, socket.gethostname(), tuple(os.path.realpath(c.path) for c in spec.segment.clips))
        ref = self._task.options(name=f"scorecut: {path.name}").remote(dispatch, self.settings)
        self.tasks_run += 1
        self._running[ref] = (take, started)

    def _finish(self, ref) -> None:
        import ray
        from ray.exceptions import RayError

        from scorecut.server.ray_tasks import parse_events

        take, started = self._running.pop(ref)
        try:
            done = ray.get(ref)
        except RayError as error:  # its worker or node died every time Ray tried, or the task broke
            why = (str(error).strip().splitlines() or [type(error).__name__])[0]
            log.error("%s: its Ray task did not finish (%s); it stays unfinished: run the batch again",
                      take.path.name, why)
            return
        if done.failure is not None:
            code, message = done.failure.code, done.failure.message
            if is_retryable(code, message):
                log.error("%s: %s: %s; it stays unfinished: run the batch again", take.path.name, code, message)
            else:
                self.files.failed(take, code, message, self._journal)
            return
        log.info("%s: Ray task 'scorecut: %s' %s on %s", take.path.name, take.path.name,
                 "ran the model" if done.ran else "found the result in the cache", done.worker)
        if done.events:
            events = parse_events(done.events)
        else:
            cached = self.front.cached(done.key)
            if cached is None:
                log.error("%s: its result is not in %s as this machine sees it; give every node one --cache-dir "
                          "on shared storage (the same path everywhere) and run the batch again",
                          take.path.name, self.front.config.results)
                return
            events = self.front.events(cached, cached=not done.ran)
        self._land(take, events, started)

    def _land(self, take: Take, events, started: float) -> None:
        from scorecut.plugins.client import JobFailed

        try:
            result = self.files.land_events(take, events)
        except JobFailed as exc:  # the result does not match its manifest (DATA_LOSS)
            self.files.failed(take, exc.code, exc.message, self._journal)
            return
        self.files.landed(take, result, self._journal, time.monotonic() - started)
