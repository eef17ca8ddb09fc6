"""What keeps the server answering under load: a cap on the long calls, and idle streams ended.

Score and UploadMedia hold an RPC thread for as long as they run, and a client can make either
wait on it forever (an upload that stops sending, a reader that stops reading). So at most
`max_streams` of them run at once, a call beyond that is refused at once with RESOURCE_EXHAUSTED
(never queued behind the others), and the thread pool keeps LIGHT_THREADS more, so Health,
GetInfo, HasMedia and CancelJob always find a thread. A stream that waits on its client for
longer than `idle_s` (no upload data, or a sent event not taken) is cancelled by a watchdog.

gRPC's sync server has one thread pool for all methods and no per-method executor, and grpc.aio
would mean rewriting every handler; a semaphore in front of the heavy methods gives the light
ones their own capacity with the server as it is.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time

import grpc

from .errors import RpcFailure

log = logging.getLogger("scorecut.server")
LIGHT_THREADS = 8  # RPC threads no long call may take: health, info, HasMedia, CancelJob
STREAM_METHODS = ("/scorecut.v1.Scorecut/Score", "/scorecut.v1.Scorecut/UploadMedia")


def stream_limit(max_streams: int, max_queue: int) -> int:
    """Long calls at once: never fewer than every queued job's call, the running one's and a cached one."""
    return max(max_streams, max_queue + 2)


def rpc_threads(max_streams: int, max_queue: int) -> int:
    return stream_limit(max_streams, max_queue) + LIGHT_THREADS


class IdleStream(RpcFailure):
    """The watchdog ended this stream: its client neither sent nor read for too long. The call is
    already cancelled, so the client sees CANCELLED; this only unwinds the handler (and the log
    says why)."""

    def __init__(self, idle_s: float):
        super().__init__(grpc.StatusCode.DEADLINE_EXCEEDED,
                         f"the client neither sent nor read for {idle_s:.0f} s, so the server ended the call; "
                         "send it again")


class _Watched:
    """One long call: since when it waits on its client (None while the server works)."""

    def __init__(self, context, method: str, idle_s: float):
        self.idle_s = idle_s
        self.context = context
        self.method = method
        self.waiting_since: float | None = None
        self.ended_idle = False

    def wait(self) -> None:
        self.waiting_since = time.monotonic()

    def go(self) -> None:
        self.waiting_since = None
        if self.ended_idle:
            raise IdleStream(self.idle_s)


class StreamLimits(grpc.ServerInterceptor):
    """Caps concurrent Score/UploadMedia calls and ends streams idle for `idle_s` (0 = never)."""

    def __init__(self, max_streams: int, idle_s: float):
        self.max_streams = max_streams
        self.idle_s = idle_s
        self._slots = threading.BoundedSemaphore(max_streams)
        self._watched: dict[int, _Watched] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watchdog, name="scorecut-idle", daemon=True)
        if idle_s > 0:
            self._thread.start()

    def close(self) -> None:
        self._stop.set()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._watched)

    def _watchdog(self) -> None:
        period = min(1.0, self.idle_s / 4)
        while not self._stop.wait(period):
            now = time.monotonic()
            with self._lock:
                stale = [w for w in self._watched.values()
                         if w.waiting_since is not None and now - w.waiting_since > self.idle_s and not w.ended_idle]
            for w in stale:
                w.ended_idle = True
                log.warning("%s: the client neither sent nor read for %.0f s; ending the call", w.method,
                            self.idle_s)
                w.context.cancel()  # wakes the thread blocked on the client

    def _enter(self, context, method: str) -> tuple[int, _Watched]:
        if not self._slots.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"the server is busy: {self.max_streams} scores and uploads are running (its limit); "
                          "try again when one finishes")
        watched = _Watched(context, method, self.idle_s)
        with self._lock:
            key = next(self._ids)
            self._watched[key] = watched
        return key, watched

    def _leave(self, key: int) -> None:
        with self._lock:
            self._watched.pop(key, None)
        self._slots.release()

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or method not in STREAM_METHODS:
            return handler
        if handler.response_streaming and not handler.request_streaming:
            return grpc.unary_stream_rpc_method_handler(self._sending(handler.unary_stream, method),
                                                        handler.request_deserializer, handler.response_serializer)
        if handler.request_streaming and not handler.response_streaming:
            return grpc.stream_unary_rpc_method_handler(self._receiving(handler.stream_unary, method),
                                                        handler.request_deserializer, handler.response_serializer)
        return handler

    def _sending(self, behaviour, method: str):
        def send(request, context):
            key, watched = self._enter(context, method)
            events = behaviour(request, context)
            try:
                for event in events:
                    watched.wait()  # from here until gRPC asks for the next one, the client has it to take
                    yield event
                    watched.go()
            except IdleStream:
                return
            finally:
                events.close()  # the handler's own clean-up (job forgotten, files closed) runs now
                self._leave(key)

        return send

    def _receiving(self, behaviour, method: str):
        def receive(request_iterator, context):
            key, watched = self._enter(context, method)

            def watched_requests():
                while True:
                    watched.wait()
                    try:
                        request = next(request_iterator)
                    except StopIteration:
                        watched.go()  # a stream cut by the watchdog must not read as a whole upload
                        return
                    except grpc.RpcError:
                        watched.go()  # raises IdleStream when the watchdog cut it
                        raise
                    watched.go()
                    yield request

            try:
                return behaviour(watched_requests(), context)
            finally:
                self._leave(key)

        return receive
