"""Scorecut batches on a Ray cluster: each file one Ray task, run by the single-node model worker.

`scorecut batch DIR --ray ADDRESS` (cli/batch_cmd.py) is the driver. Before a file costs the
cluster anything, BatchFront checks its request exactly as a server's Score call does
(build_job_spec: models, limits, media, the result's key) and looks in the result cache. A job
that must run goes to `score_job` as a Ray task (Dispatch: the checked spec and the clips' real
paths, as Serve replicas get it in ray_serve.py). The task runs it on the worker a single-node
server runs (server.jobs.JobQueue, kept warm in each Ray worker process), stores the result in
the result cache (server.results.ResultCache: a hidden folder renamed into place, so tasks on
several nodes sharing one --cache-dir never corrupt it) and returns its key; the driver streams the
entry as a server would, so a take scored on Ray is byte for byte the one a server would send. A
task on a node whose cache the driver cannot read (no shared --cache-dir) returns the events too.

Ray runs a task again (TASK_RETRIES) when its worker process or node dies; a file the model cannot
score is not an exception but a result (RemoteFailure), so it is never retried.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from scorecut.v1 import scorecut_pb2 as pb

from .config import ServerConfig
from .errors import status_of
from .jobs import Done, Failed, JobQueue
from .media import FileHasher, UploadStore
from .ray_serve import Dispatch, RemoteFailure
from .request import MediaProber, ScoreJobSpec, build_job_spec
from .results import ResultCache, WireResult, encode_result, stream_events

log = logging.getLogger("scorecut.server")
TASK_RETRIES = 3  # runs of a task whose Ray worker or node died (out of memory, a machine gone)
EVENT_WAIT_S = 0.2  # a task waits for its job's next event this long at a time (a cancel gets in between)
# The driver is the user's own process on the machine that holds the folder: its path references
# are a local caller's (a unix-socket peer is one, for the server's policy).
THIS_MACHINE = "unix:"


@dataclass(frozen=True)
class TaskSettings:
    """What every task of a batch shares."""

    device: str  # "cuda" when Ray gave the task a GPU, else "auto" or "cpu"
    model_dir: str  # installed models, on every node (or shared)
    results: str  # the result cache's folder (--cache-dir/results)
    cache_max_bytes: int
    shared_cache: bool  # every node sees `results` at this path (--cache-dir on shared storage)


@dataclass(frozen=True)
class TaskResult:
    """What a task sends back: small, unless the driver cannot read its node's cache."""

    key: str  # the result's key in the cache
    worker: str  # host:pid of the Ray worker that ran the task
    ran: bool  # the model ran (False: the cache already had the result)
    failure: RemoteFailure | None = None  # the job's status when it failed (a bad file, a model error)
    events: tuple[bytes, ...] = ()  # the job's serialized ScoreEvents, when not read from a shared cache


@functools.cache
def _worker(device: str, model_dir: str) -> JobQueue:
    """This Ray worker process's model worker, started once: later tasks find the model loaded."""
    from .app import resolve_device

    jobs = JobQueue(max_queue=1, device=resolve_device(device), model_dir=Path(model_dir))
    jobs.start()
    return jobs


def score_job(dispatch: Dispatch, settings: TaskSettings) -> TaskResult:
    """The body of one Ray task: the job's result in the cache (run now unless it is there)."""
    spec = dispatch.local_spec()
    cache = ResultCache(Path(settings.results), settings.cache_max_bytes)
    where = f"{socket.gethostname()}:{os.getpid()}"
    result = cache.get(spec.result_key)
    ran = result is None
    if result is None:
        outcome = _run(spec, _worker(settings.device, settings.model_dir))
        if isinstance(outcome, RemoteFailure):
            return TaskResult(spec.result_key, where, True, failure=outcome)
        result = encode_result(outcome.analysis, outcome.finished, spec.options.stems, spec.sample_format,
                               spec.segment.duration_s, cache.staging())
        cache.put(spec.result_key, result)  # whole or not at all under its key; the stems stay open here
    with closing(result):
        inline = not settings.shared_cache and socket.gethostname() != dispatch.host
        events = tuple(_wire(stream_events(uuid.uuid4().hex, result))) if inline else ()
    return TaskResult(spec.result_key, where, ran, events=events)


def _run(spec: ScoreJobSpec, jobs: JobQueue) -> Done | RemoteFailure:
    job, _ = jobs.submit(spec)
    try:
        while True:
            try:
                event = job.events.get(timeout=EVENT_WAIT_S)
            except queue.Empty:
                continue
            if isinstance(event, Failed):
                code, message = status_of(event.error)
                return RemoteFailure(code.name, message)
            if isinstance(event, Done):
                return event
    finally:  # a cancelled task (ray.cancel, the driver gone) stops the model at its next check
        job.cancel.set()
        jobs.forget(job)


def _wire(events) -> Iterator[bytes]:
    for event in events:
        yield event if isinstance(event, bytes) else event.SerializeToString()


class BatchFront:
    """What a server does for a Score call before and after its worker runs, for a batch driver:
    the request checked and keyed (the server's own build_job_spec), the result cache looked in,
    and a finished result streamed as ScoreEvents."""

    def __init__(self, config: ServerConfig, device: str):
        from scorecut.models.registry import model_infos

        self.config = config
        self.cache = ResultCache(config.results, config.cache_max_bytes)
        self.catalog = {info.name: info for info in model_infos(device=device, model_dir=config.model_dir)}
        self._uploads = UploadStore(config.uploads, config.max_upload_bytes, config.upload_quota_bytes)
        self._prober = MediaProber()
        self._hasher = FileHasher()

    def check(self, request: pb.ScoreRequest) -> ScoreJobSpec:
        """The checked job; raises RpcFailure with the status a server would answer."""
        return build_job_spec(request, THIS_MACHINE, self.config, self.catalog, self._uploads, self._prober,
                              self._hasher)

    def cached(self, key: str) -> WireResult | None:
        return self.cache.get(key)

    def events(self, result: WireResult, cached: bool) -> Iterator[pb.ScoreEvent]:
        """A result as a server streams it (analysis, plan, stem chunks, manifest); closes it."""
        result.manifest.cached = cached
        with closing(result):
            for event in stream_events(uuid.uuid4().hex, result):
                yield pb.ScoreEvent.FromString(event) if isinstance(event, bytes) else event


def parse_events(events: tuple[bytes, ...]) -> Iterator[pb.ScoreEvent]:
    """A task's inline events, parsed one at a time."""
    for event in events:
        yield pb.ScoreEvent.FromString(event)
