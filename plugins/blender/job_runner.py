"""One scoring job on a worker thread, read by Blender's main thread through `snapshot()`.

Plain Python (no bpy). The network lives on the worker; the main thread only polls the state
(from a timer in the UI, or by `wait()` in background mode) and is the only one that touches
Blender data. Every failure ends as a state with a message a person can act on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .client_api import (
    ClipSpec,
    JobCancelled,
    JobEvent,
    JobOptions,
    JobResult,
    ScorecutClient,
    ScorecutClientError,
)

RUNNING, FINISHED, FAILED, CANCELLED = "running", "finished", "failed", "cancelled"


@dataclass(frozen=True)
class JobState:
    """What the main thread sees of the job at one moment."""

    state: str  # RUNNING | FINISHED | FAILED | CANCELLED
    fraction: float = 0.0  # 0..1 over the whole job
    stage: str = ""  # the server's stage name: "queued", "analysis", "compose", ...
    message: str = ""  # the error for FAILED / CANCELLED, in words
    result: JobResult | None = None  # set when FINISHED

    @property
    def done(self) -> bool:
        return self.state != RUNNING


@dataclass(frozen=True)
class JobRequest:
    """Everything the worker needs; built on the main thread from the timeline and the settings."""

    address: str  # host:port of the server
    clips: tuple[ClipSpec, ...]
    options: JobOptions
    duration_s: float  # the music's length: the segment, not the source
    out_dir: Path  # the take lands as out_dir/name/
    name: str
    token: str = ""  # for servers that are not on this machine


class JobRunner:
    """Runs `client.score` on a daemon thread; `cancel()` stops it on the server too."""

    def __init__(self, request: JobRequest):
        self.request = request
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._state = JobState(RUNNING, stage="connecting")
        self._thread = threading.Thread(target=self._work, name=f"scorecut-{request.name}", daemon=True)

    def start(self) -> JobRunner:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> JobState:
        self._thread.join(timeout)
        return self.snapshot()

    def snapshot(self) -> JobState:
        with self._lock:
            return self._state

    def _set(self, state: JobState) -> None:
        with self._lock:
            self._state = state

    def _on_event(self, event: JobEvent) -> None:
        with self._lock:
            if self._state.state != RUNNING:
                return
            fraction = max(self._state.fraction, event.fraction if event.kind == "progress" else 0.0)
            self._state = JobState(RUNNING, fraction, event.stage or self._state.stage)

    def _work(self) -> None:
        r = self.request
        try:
            with ScorecutClient(r.address, token=r.token or None) as client:
                result = client.score(r.clips, r.options, duration_s=r.duration_s, out_dir=r.out_dir,
                                      name=r.name, on_event=self._on_event, cancel=self._cancel)
        except JobCancelled as e:
            self._set(JobState(CANCELLED, message=str(e) or "the job was cancelled"))
        except ScorecutClientError as e:  # the server's refusal, or no server: its message says what to do
            self._set(JobState(FAILED, message=str(e)))
        except Exception as e:  # the user gets words, not a dead thread
            self._set(JobState(FAILED, message=f"scoring failed: {type(e).__name__}: {e}"))
        else:
            if self._cancel.is_set():
                # Cancelled after the last byte arrived: the files exist, but the user asked for nothing.
                self._set(JobState(CANCELLED, message="the job was cancelled", result=result))
            else:
                self._set(JobState(FINISHED, fraction=1.0, stage="done", result=result))
