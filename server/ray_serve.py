"""Scorecut on a Ray cluster: the single-node server's front, its model workers as Ray Serve replicas.

Why a front of our own rather than Ray Serve's gRPC proxy: the proxy routes each call by an
`application` metadata key and hands it to any replica. The scorecut.v1 contract needs more than
that: CancelJob must reach the replica running that job, HasMedia must find an upload sent by an
earlier call, the bearer token, the loopback-peer rule for path references, the stream caps and
the result cache are per server, and clients must not add routing metadata. So `scorecut serve
--ray` runs the very ScorecutServer of a single machine (policy, limits, uploads, result cache,
streaming) on the head node, and only its job queue changes: each job goes to a Ray Serve
replica through a DeploymentHandle, and the replica's events stream back. A replica is the
single-node model worker itself (server.jobs.JobQueue, one job at a time), placed by Ray.

Media reach a replica by name: on the front's machine through the call's open-file links, on
another machine through the same path on shared storage (the README's cluster section).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import queue
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from scorecut.models.events import Started
from scorecut.models.interface import Cancelled

from .errors import RpcFailure, status_of
from .jobs import Done, Failed, Job, JobQueue
from .request import ScoreJobSpec

log = logging.getLogger("scorecut.server")
APP_NAME = "scorecut"  # the Serve application users see in Ray's dashboard
DEPLOYMENT_NAME = "ScorecutWorker"
EVENT_POLL_S = 0.2  # how often a replica's stream looks for its job's next event
# A job makes up to a hundred progress events; each crossing to the front costs both processes CPU
# the model could use. Events made within this long of each other cross together; the result (Done)
# never waits.
EVENT_GATHER_S = 0.05
LOCAL_CONTROL_LOOP_S = 1.0  # Serve's controller loop on a `--ray local` head (start_ray says why)
DEVICE_ASK_S = 60.0  # a just-deployed replica answers at once; a loaded cluster may take a while


@dataclass(frozen=True)
class RayOptions:
    address: str  # "local": start a Ray head on this machine; else a running cluster ("ray://h:10001", "auto")
    replicas: int = 1  # model workers; Ray places them
    gpus_per_replica: float = 0.0  # > 0: each replica is placed on (a share of) a GPU and runs there
    cpus_per_replica: float = 1.0
    local_cpus: int | None = None  # CPUs of a `local` head (None: the machine's)
    dashboard: bool = True  # Ray's dashboard on the head (local only)

    def problems(self) -> list[str]:
        out = []
        if self.replicas < 1:
            out.append("--replicas must be at least 1")
        if self.gpus_per_replica < 0:
            out.append("--gpus-per-replica must be 0 (CPU) or more")
        if not self.address:
            out.append("--ray needs an address: local, auto, or the cluster's (e.g. ray://head:10001)")
        return out


@dataclass(frozen=True)
class RemoteFailure:
    """A replica's job failure as it crosses processes: a status, not an exception object (our
    exceptions do not all survive pickling, and the client sees only the status anyway)."""

    code: str  # grpc.StatusCode name
    message: str

    def error(self) -> Exception:
        if self.code == "CANCELLED":
            return Cancelled(self.message)
        return RpcFailure(grpc.StatusCode[self.code], self.message)


@dataclass(frozen=True)
class OnReplica:
    """A replica's first word on a job: which replica (host:pid) runs it."""

    name: str


@dataclass(frozen=True)
class Dispatch:
    """A job as sent to a replica: the spec and where its media are if the replica runs elsewhere."""

    spec: ScoreJobSpec
    host: str  # the front's machine: there the call's open-file links are readable
    real_paths: tuple[str, ...]  # each clip's file by its real path (shared storage)

    def local_spec(self) -> ScoreJobSpec:
        if socket.gethostname() == self.host:
            return self.spec
        clips = tuple(replace(c, path=p) for c, p in zip(self.spec.segment.clips, self.real_paths, strict=True))
        return replace(self.spec, segment=replace(self.spec.segment, clips=clips))


class ScorecutWorker:
    """One Ray Serve replica: the single-node model worker, one job at a time."""

    def __init__(self, device: str, model_dir: str):
        from .app import resolve_device

        _log_to_stderr()  # Ray keeps a replica's stderr: its log file, shown in Ray's dashboard
        # Ray sets CUDA_VISIBLE_DEVICES to this replica's GPU(s); without one it runs on its CPUs.
        self.device = resolve_device(device)
        self.jobs = JobQueue(max_queue=1, device=self.device, model_dir=Path(model_dir))
        self.jobs.start()
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        log.info("Scorecut replica %s ready on %s", self.replica, self.device)

    def device_name(self) -> str:
        """Where this replica's models run ("cpu", "cuda:0"): GetInfo's device on the front."""
        return self.device

    async def score(self, dispatch: Dispatch):
        """Run one job, yielding its events in batches (tuples): each item crosses to the front as
        one Ray object, so the events the worker made meanwhile travel together (a job makes up to
        a hundred progress events). The first batch starts with OnReplica. A cancelled call (the
        front cancels the response) cancels this task; the finally block stops the model within
        its next check."""
        job, _ = self.jobs.submit(dispatch.local_spec())
        try:
            pending: list = [OnReplica(self.replica)]  # the front logs where the job runs before it starts
            while True:
                batch = await asyncio.to_thread(_take_events, job.events, EVENT_POLL_S)
                for event in batch:
                    if isinstance(event, Failed):
                        code, message = status_of(event.error)
                        yield (*pending, RemoteFailure(code.name, message))
                        return
                    pending.append(event)
                    if isinstance(event, Done):
                        yield tuple(pending)
                        return
                if pending:
                    yield tuple(pending)
                    pending = []
        finally:
            job.cancel.set()
            self.jobs.forget(job)


def _log_to_stderr() -> None:
    root = logging.getLogger("scorecut")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def _take_events(events: queue.Queue, wait_s: float, gather_s: float = EVENT_GATHER_S) -> list:
    """The next event (waiting up to `wait_s`; [] if none came) and those that follow it within
    `gather_s`, ending early at the job's last event: one Ray object instead of one per event."""
    try:
        taken = [events.get(True, wait_s)]
    except queue.Empty:
        return []
    until = time.monotonic() + gather_s
    while not isinstance(taken[-1], (Done, Failed)):
        left = until - time.monotonic()
        try:
            taken.append(events.get(True, left) if left > 0 else events.get_nowait())
        except queue.Empty:
            break
    return taken


def _real_paths(spec: ScoreJobSpec) -> tuple[str, ...]:
    return tuple(os.path.realpath(c.path) for c in spec.segment.clips)


class RayJobQueue:
    """The single-node JobQueue's interface, with the work done by Ray Serve replicas.

    Up to `replicas` jobs run at once (one per replica); `max_queue` more may wait, in Serve's
    router, for a free replica. Each job is relayed by a thread of its own."""

    def __init__(self, handle, replicas: int, max_queue: int):
        self.handle = handle.options(stream=True)
        self.replicas = replicas
        self.max_queue = max_queue
        self.jobs_run = 0
        self._jobs: dict[str, Job] = {}
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._relays_done = threading.Condition(self._lock)
        self._closed = False

    def start(self, warm_model: str | None = "composer") -> None:
        pass  # replicas warm their own model when Serve starts them

    def submit(self, spec: ScoreJobSpec) -> tuple[Job, int]:
        with self._lock:
            if self._closed:
                raise RpcFailure(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; try again when it is back")
            waiting = max(0, len(self._active) - self.replicas)
            if waiting >= self.max_queue:
                raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"the server is busy: {waiting} jobs are waiting for a Ray replica (the limit is "
                                 f"{self.max_queue}); try again when one finishes, or start the server with more "
                                 "--replicas or a larger --max-queue")
            job = Job(spec, id=uuid.uuid4().hex)
            position = waiting + (1 if len(self._active) >= self.replicas else 0)
            self._jobs[job.id] = job
            self._active.add(job.id)
        threading.Thread(target=self._relay, args=(job,), name=f"scorecut-ray-{job.id[:8]}", daemon=True).start()
        return job, position

    def _relay(self, job: Job) -> None:
        ended = threading.Event()
        began = time.monotonic()
        replica = "?"
        try:
            response = self.handle.score.remote(Dispatch(job.spec, socket.gethostname(), _real_paths(job.spec)))

            def cancel_when_asked() -> None:  # CancelJob or a gone client: cancel the replica's task
                while not ended.is_set():
                    if job.cancel.wait(0.05):
                        response.cancel()
                        return

            threading.Thread(target=cancel_when_asked, daemon=True).start()
            final = None
            for event in (e for batch in response for e in batch):
                if isinstance(event, OnReplica):
                    replica = event.name
                    log.info("job %s running on Ray replica %s", job.id, replica)
                    continue
                if isinstance(event, Started):
                    job.state = "running"
                    began = time.monotonic()
                if isinstance(event, RemoteFailure):
                    final = Failed(event.error())
                    break
                if isinstance(event, Done):
                    self.jobs_run += 1
                    final = event
                    log.info("job %s: model %s ran in %.2f s on Ray replica %s (jobs run: %d)", job.id,
                             job.spec.options.model, time.monotonic() - began, replica, self.jobs_run)
                    break
                job.events.put(event)
            if final is None:
                final = Failed(RpcFailure(grpc.StatusCode.UNAVAILABLE, "the Ray replica ended the job without a "
                                          "result; send the job again"))
        except BaseException as error:  # noqa: BLE001 — every way a relay ends becomes the job's status
            final = Failed(self._relay_error(job, error))
        finally:
            ended.set()
        job.state = "done" if isinstance(final, Done) else (
            "cancelled" if isinstance(final.error, Cancelled) else "failed")
        if job.state == "cancelled":
            log.info("job %s cancelled after %.2f s", job.id, time.monotonic() - began)
        job.events.put(final)
        with self._lock:
            self._active.discard(job.id)
            self._relays_done.notify_all()

    @staticmethod
    def _relay_error(job: Job, error: BaseException) -> Exception:
        from ray.exceptions import ActorUnavailableError, RayActorError, TaskCancelledError
        from ray.serve.exceptions import DeploymentUnavailableError, ReplicaUnavailableError, RequestCancelledError

        if job.cancel.is_set() or isinstance(error, (RequestCancelledError, TaskCancelledError)):
            return Cancelled("the job was cancelled")
        if isinstance(error, (RayActorError, ActorUnavailableError, ReplicaUnavailableError,
                              DeploymentUnavailableError)):
            log.warning("job %s: its Ray replica stopped (%s)", job.id, type(error).__name__)
            return RpcFailure(grpc.StatusCode.UNAVAILABLE,
                              "the Ray replica running this job stopped before it finished (Ray starts a new one); "
                              "send the job again")
        log.error("job %s: relaying from Ray failed", job.id, exc_info=(type(error), error, error.__traceback__))
        code, message = status_of(error if isinstance(error, Exception) else RuntimeError(repr(error)))
        return RpcFailure(code, message)

    def cancel(self, job_id: str) -> tuple[bool, str]:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return False, "unknown"
        job.cancel.set()
        return True, job.state

    def forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
        if job.id in self._active:  # its call ended first (client gone): stop the replica's work
            job.cancel.set()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Refuse new jobs, cancel every job, and wait up to `timeout_s` for their relays to end
        (as the single-node queue waits for its worker), so each call gets its status."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        with self._lock:
            self._relays_done.wait_for(lambda: not self._active, timeout_s)

    @functools.cached_property
    def device(self) -> str:
        """Where the replicas run models, as one of them says ("cpu", "cuda:0"): what GetInfo
        reports, and what the model list is judged for, rather than the front's own machine."""
        return self.handle.options(stream=False).device_name.remote().result(timeout_s=DEVICE_ASK_S)

    @property
    def worker_alive(self) -> bool:
        return not self._closed

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._active)


def connect_ray(address: str, *, local_cpus: int | None = None, dashboard: bool | None = None) -> None:
    """Connect to the Ray cluster at `address`, or start one of this process's own ("local"; its
    dashboard as Ray decides when `dashboard` is None)."""
    import ray

    if address == "local":
        # A cluster of its own (never one already running here), addressed on loopback. Ray's own
        # processes (GCS, raylet, workers) still listen on every interface (Ray 2.60 has no bind
        # address for them; its token authentication, on by default, guards them).
        ray.init(address="local", num_cpus=local_cpus, include_dashboard=dashboard,
                 dashboard_host="127.0.0.1", _node_ip_address="127.0.0.1", log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def start_ray(options: RayOptions) -> None:
    """Connect to the cluster (or start a head on this machine) and start Serve without its own
    HTTP/gRPC proxies: clients reach Scorecut's front."""
    from ray import serve

    if options.address == "local":
        # Serve's controller checks its deployments ten times a second by default: 2% of a core for
        # as long as the server runs, taken from the jobs on the same machine. A head of our own
        # (its processes inherit this environment) checks once a second: a replica that dies is
        # replaced a second later at most. A value the user set wins.
        os.environ.setdefault("RAY_SERVE_CONTROL_LOOP_INTERVAL_S", str(LOCAL_CONTROL_LOOP_S))
    connect_ray(options.address, local_cpus=options.local_cpus, dashboard=options.dashboard)
    serve.start(proxy_location="Disabled")


def application_name(options: RayOptions, port: int) -> str:
    """The Serve application of one front: `scorecut` on a head of its own; on a shared cluster the
    front's port is added, so two fronts (or a front and a batch) never replace each other's
    replicas, and a front restarted on its port replaces its own."""
    return APP_NAME if options.address == "local" else f"{APP_NAME}-{port}"


def deploy(options: RayOptions, device: str, model_dir: Path, name: str = APP_NAME):
    """Deploy the replicas as application `name`; returns the deployment's handle once they are up."""
    from ray import serve

    deployment = serve.deployment(
        ScorecutWorker, name=DEPLOYMENT_NAME, num_replicas=options.replicas,
        max_ongoing_requests=1,  # one job per replica: the model worker runs one at a time
        max_queued_requests=-1,  # the front bounds the queue (--max-queue)
        graceful_shutdown_timeout_s=2.0,  # a replica being replaced has its job cancelled, not finished
        ray_actor_options={"num_cpus": options.cpus_per_replica, "num_gpus": options.gpus_per_replica})
    worker_device = "cuda" if options.gpus_per_replica > 0 else ("cpu" if device == "cpu" else "auto")
    return serve.run(deployment.bind(worker_device, str(model_dir)), name=name, route_prefix=None)


def stop_ray(options: RayOptions, name: str = APP_NAME) -> None:
    """A local head goes with its replicas; on a cluster the application is removed, the cluster stays."""
    import ray
    from ray import serve

    try:
        if options.address != "local":
            serve.delete(name, _blocking=False)
    finally:
        ray.shutdown()


def serve_on_ray(config, options: RayOptions, log_level: str = "INFO") -> int:
    """`scorecut serve --ray`: the single-node server's front, its jobs run by Ray Serve replicas."""
    import sys

    from .app import serve

    problems = options.problems() + config.problems()
    if problems:
        for p in problems:
            print(f"scorecut serve: {p}", file=sys.stderr)
        return 2
    try:
        import ray  # noqa: F401
        from ray import serve as _  # noqa: F401
    except ImportError:
        print("scorecut serve: --ray needs Ray Serve: pip install 'scorecut[ray]'", file=sys.stderr)
        return 2
    name = application_name(options, config.port)
    start_ray(options)
    try:
        handle = deploy(options, config.device, config.model_dir, name)
        jobs = RayJobQueue(handle, options.replicas, config.max_queue)
        gpus = f"{options.gpus_per_replica:g} GPU each" if options.gpus_per_replica else "CPU"
        print(f"scorecut: {options.replicas} model worker(s) on Ray ({options.address}, {gpus}, models on "
              f"{jobs.device}); Serve application {name!r}, deployment {DEPLOYMENT_NAME!r} in Ray's dashboard",
              flush=True)
        return serve(config, log_level=log_level, jobs=jobs)
    finally:
        stop_ray(options, name)
