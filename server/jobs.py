"""The job queue: bounded, one model worker thread per device, cancellable at any point.

A Score call submits a Job and then relays what the worker puts on the job's event queue. The
worker runs the in-process pipeline with the job's cancel event; models check it between units of
work, so a cancelled job (CancelJob, or its client gone) frees the worker within about a second.
The library does not stop a handler's thread for us; the event is how cancellation travels.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from scorecut.models.interface import Cancelled, FinishedScore

from .errors import RpcFailure
from .request import ScoreJobSpec

log = logging.getLogger("scorecut.server")


@dataclass(frozen=True)
class Done:
    """The job's last event: its analysis and finished stems."""

    analysis: object  # models.analysis.VideoAnalysis
    finished: FinishedScore


@dataclass(frozen=True)
class Failed:
    """The job's last event when it failed or was cancelled; the call turns `error` into a status."""

    error: Exception


@dataclass
class Job:
    spec: ScoreJobSpec
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    cancel: threading.Event = field(default_factory=threading.Event)
    # From the worker: models.pipeline's Started, Progress, AnalysisReady, then Done or Failed.
    events: queue.Queue = field(default_factory=queue.Queue)
    state: str = "queued"  # queued | running | done | failed | cancelled


class JobQueue:
    """Jobs waiting for the one worker; `max_queue` of them may wait behind the running one."""

    def __init__(self, max_queue: int, device: str, model_dir: Path, decoder: str = "cpu"):
        self.max_queue = max_queue
        self.device = device
        self.decoder = decoder  # what decodes the pictures: "cpu" or "cuda" (server/picture_decoder.py)
        self.model_dir = model_dir
        self.jobs_run = 0  # jobs whose model actually ran (cache hits never get here)
        self._pending: collections.deque[Job] = collections.deque()
        self._jobs: dict[str, Job] = {}
        self._running: Job | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._models: dict[tuple[str, str], object] = {}
        self._analyses = None  # models.pipeline.AnalysisCache, made by the worker (a heavy import)
        self._thread = threading.Thread(target=self._work, name="scorecut-worker", daemon=True)

    def start(self, warm_model: str | None = "composer") -> None:
        self._warm = warm_model
        self._thread.start()

    def submit(self, spec: ScoreJobSpec) -> tuple[Job, int]:
        """Queue a job; returns it and how many jobs are ahead of it (0 = it runs now)."""
        with self._cond:
            if self._closed:
                raise RpcFailure(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; try again "
                                 "when it is back")
            if len(self._pending) >= self.max_queue:
                raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"the server is busy: {len(self._pending)} jobs are waiting (the limit "
                                 f"is {self.max_queue}); try again when one finishes, or start the server "
                                 "with a larger --max-queue")
            job = Job(spec)
            position = len(self._pending) + (1 if self._running is not None else 0)
            self._pending.append(job)
            self._jobs[job.id] = job
            self._cond.notify_all()
            return job, position

    def cancel(self, job_id: str) -> tuple[bool, str]:
        """Cancel a queued or running job; returns (found, its state)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return False, "unknown"
            job.cancel.set()
            if job in self._pending:
                self._pending.remove(job)
                self._finish(job, "cancelled", Failed(Cancelled("the job was cancelled")))
            return True, job.state

    def forget(self, job: Job) -> None:
        """The job's call ended; it may no longer be cancelled by id."""
        with self._cond:
            self._jobs.pop(job.id, None)
            if job in self._pending:  # its client went away while it waited
                job.cancel.set()
                self._pending.remove(job)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Refuse new jobs, cancel every job, and wait for the worker to let go."""
        with self._cond:
            self._closed = True
            for job in list(self._pending):
                job.cancel.set()
                self._finish(job, "cancelled", Failed(Cancelled("the server is shutting down")))
            self._pending.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._cond.notify_all()
        self._thread.join(timeout_s)

    @property
    def worker_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._pending)

    def _finish(self, job: Job, state: str, event: Done | Failed) -> None:
        job.state = state
        job.events.put(event)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            job = self._pending.popleft()
            job.state = "running"
            self._running = job
            return job

    def _model(self, name: str, checkpoint: str):
        from scorecut.models.registry import load_model

        key = (name, checkpoint)
        if key not in self._models:
            self._models[key] = load_model(name, device=self.device, checkpoint=checkpoint,
                                           model_dir=self.model_dir)
        return self._models[key]

    def _work(self) -> None:
        if self._warm:
            try:  # import the pipeline and build the default model now, so the first job does not wait
                from scorecut.models.pipeline import AnalysisCache  # heavy: off the server's start

                self._analyses = AnalysisCache()
                self._model(self._warm, "")
            except Exception:  # a job will report it properly
                log.exception("could not prepare the %s model", self._warm)
        while (job := self._next()) is not None:
            try:
                self._run(job)
            except BaseException as error:  # the worker must outlive any one job
                self._finish(job, "failed", Failed(error if isinstance(error, Exception) else
                                                   RuntimeError(f"the job stopped the model worker ({error!r})")))
            finally:
                with self._cond:
                    self._running = None

    def _run(self, job: Job) -> None:
        from scorecut.models.pipeline import AnalysisCache, score_segment

        if self._analyses is None:
            self._analyses = AnalysisCache()
        if job.cancel.is_set():
            self._finish(job, "cancelled", Failed(Cancelled("the job was cancelled")))
            return
        spec = job.spec
        started = time.monotonic()
        try:
            model = self._model(spec.options.model, spec.options.checkpoint)
            analysis, finished = score_segment(spec.segment, spec.options, model, on_event=job.events.put,
                                               cancel=job.cancel, analyses=self._analyses,
                                               analysis_key=spec.analysis_key, decoder=self.decoder)
        except Cancelled as error:
            log.info("job %s cancelled after %.2f s", job.id, time.monotonic() - started)
            self._finish(job, "cancelled", Failed(error))
            return
        except Exception as error:  # the call turns it into a status
            self._finish(job, "failed", Failed(error))
            return
        self.jobs_run += 1
        if getattr(analysis, "decoder_note", ""):  # asked for the GPU, and a file was decoded on the CPU
            log.warning("job %s: %s", job.id, analysis.decoder_note)
        log.info("job %s: model %s ran in %.2f s (jobs run: %d)", job.id, spec.options.model,
                 time.monotonic() - started, self.jobs_run)
        self._finish(job, "done", Done(analysis, finished))
