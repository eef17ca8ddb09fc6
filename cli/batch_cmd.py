"""`scorecut batch DIR --ray local|ADDRESS`: score every video in a folder on a Ray cluster, once each.

The folder works as a watch folder does (plugins/watchfolder): takes land in DIR/scored/<name>/
through the client library's land_take and its one naming policy, failures in DIR/failed/, and
the journal DIR/.scorecut/journal.sqlite3 marks a file running before its job and done only after
its take landed. So a driver killed at any point resumes on the next run, finished files are not
scored again, and a copy of a file already scored is recognised by its content.

The jobs run on Ray Serve replicas (server/ray_serve.py) behind a Scorecut server of this
driver's own on a loopback port: up to --replicas files at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RETRY_WAIT_S = 2.0  # between tries of a job the cluster could not take now
MAX_TRIES = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="the folder of videos to score")
    parser.add_argument("--ray", metavar="ADDRESS", required=True,
                        help="local (a Ray head on this machine), auto, or the cluster's address")
    parser.add_argument("--replicas", type=int, default=1, metavar="N", help="model workers, files at once (default 1)")
    parser.add_argument("--gpus-per-replica", type=float, default=0.0, metavar="G",
                        help="GPUs Ray gives each replica (default 0: CPU)")
    parser.add_argument("--cache-dir", type=Path, help="results (default: the user cache folder)")
    parser.add_argument("--model-dir", type=Path, help="installed model checkpoints (default: the user data folder)")


def run(args) -> int:
    folder = args.folder.expanduser().resolve()
    if not folder.is_dir():
        print(f"scorecut batch: {folder} is not a folder; pass the folder of videos to score", file=sys.stderr)
        return 2
    try:
        from ray import serve  # noqa: F401
    except ImportError:
        print("scorecut batch: --ray needs Ray Serve: pip install 'scorecut[ray]'", file=sys.stderr)
        return 2
    from scorecut.server.app import ScorecutServer, resolve_device
    from scorecut.server.config import ServerConfig, default_cache_dir, default_model_dir
    from scorecut.server.ray_serve import RayJobQueue, RayOptions, deploy, start_ray, stop_ray

    options = RayOptions(args.ray, args.replicas, args.gpus_per_replica)
    problems = options.problems()
    if problems:
        print("\n".join(f"scorecut batch: {p}" for p in problems), file=sys.stderr)
        return 2
    _log_to_stderr()
    config = ServerConfig(host="127.0.0.1", port=0, device="auto", media_roots=(folder,),
                          cache_dir=(args.cache_dir or default_cache_dir()).expanduser(),
                          model_dir=(args.model_dir or default_model_dir()).expanduser(),
                          max_queue=max(8, 2 * args.replicas))
    start_ray(options)
    try:
        handle = deploy(options, config.device, config.model_dir)
        server = ScorecutServer(config, resolve_device(config.device),
                                RayJobQueue(handle, options.replicas, config.max_queue))
        server.start()
        try:
            return score_folder(folder, f"127.0.0.1:{server.port}", options.replicas)
        finally:
            server.stop()
    finally:
        stop_ray(options)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("scorecut")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def score_folder(folder: Path, server: str, at_once: int) -> int:
    """Score every video in `folder` through the Scorecut server at `server`, `at_once` at a time,
    with the watch folder's journal, naming and crash-safety. Returns the exit status."""
    from scorecut.plugins.client import sweep
    from scorecut.plugins.watchfolder.candidates import is_candidate_name
    from scorecut.plugins.watchfolder.journal import Journal
    from scorecut.plugins.watchfolder.watcher import Watcher, WatchSettings, _FolderLock, _Retry

    log = logging.getLogger("scorecut.batch")
    watcher = Watcher(WatchSettings(folder=folder, server=server, once=True))
    for d in (watcher.scored, watcher.failed, watcher.state_dir):
        d.mkdir(exist_ok=True)
    lock = _FolderLock(watcher.state_dir / "watch.lock")  # a batch and a watcher never share a folder
    journal_path = watcher.state_dir / "journal.sqlite3"
    journal = Journal(journal_path)
    stopping = threading.Event()

    def stop(*_):
        stopping.set()
        watcher.stop()  # the running jobs are cancelled; the journal keeps them for the next run

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    try:
        removed = sweep(watcher.scored)
        if removed:
            log.info("removed %d partial take(s) left by an interrupted run", removed)
        videos = sorted(p for p in folder.iterdir() if p.is_file() and is_candidate_name(p.name))
        first_of: dict[str, Path] = {}  # content -> the file scored for it; copies are handled after
        copies = []
        for path in videos:
            sha = watcher._content_hash(path, journal)
            (copies.append(path) if sha in first_of else first_of.setdefault(sha, path))
        log.info("%d video(s) in %s, %d at once", len(videos), folder, at_once)

        def one(path: Path) -> None:
            own = Journal(journal_path)  # one SQLite connection per thread
            try:
                for _ in range(MAX_TRIES):
                    if stopping.is_set():
                        return
                    try:
                        watcher._handle(path, own)
                        return
                    except _Retry as why:
                        log.warning("%s: %s; trying again in %.0f s", path.name, why, RETRY_WAIT_S)
                        stopping.wait(RETRY_WAIT_S)
                log.error("%s: the cluster could not take it after %d tries; run the batch again", path.name, MAX_TRIES)
            finally:
                own.close()

        began = time.monotonic()
        with ThreadPoolExecutor(at_once, thread_name_prefix="scorecut-batch") as pool:
            for done in [pool.submit(one, p) for p in first_of.values()]:
                done.result()
        for path in copies:
            if not stopping.is_set():
                watcher._handle(path, journal)
        states = [e.state for e in journal.entries() if e.sha256 in first_of]  # the videos there now
        log.info("batch done in %.1f s: %d scored by this run, %d done, %d failed, %d unfinished",
                 time.monotonic() - began, watcher.jobs_run, states.count("done"), states.count("failed"),
                 states.count("running"))
        return 130 if stopping.is_set() else (1 if "running" in states else 0)
    finally:
        journal.close()
        lock.release()
