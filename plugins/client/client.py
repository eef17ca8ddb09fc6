"""ScorecutClient: one connection to a Scorecut server, and the whole job from request to files.

Pure grpcio + protobuf + stdlib. The token travels as `authorization: Bearer` call metadata; TLS
is used when root certificates are given (or `tls=True`, with the system's roots).
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc

from scorecut.v1 import scorecut_pb2 as pb
from scorecut.v1 import scorecut_pb2_grpc as pb_grpc
from scorecut.v1 import sha256_file

from .local_secret import other_users_server, read_secret
from .output import BeforeLand, JobWriter
from .request import build_request, request_record
from .types import (
    DEFAULT_ADDRESS,
    DEFAULT_OPTIONS,
    START_HINT,
    ClipSpec,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobOptions,
    JobResult,
    ServerUnavailable,
)

UPLOAD_CHUNK_BYTES = 1 << 20  # 1 MiB per UploadMedia message
_MAX_MESSAGE_BYTES = 64 << 20
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_HEALTH_SERVING = b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING} on the wire


def split_address(address: str) -> tuple[str, int | None]:
    """(host, port) of "host:port", "[v6]:port" or "host"."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, int(port)
    return address, None


def is_loopback(address: str) -> bool:
    """Whether `address` is this machine (loopback IP, localhost, or a unix socket)."""
    if address.startswith("unix:"):
        return True
    host, _ = split_address(address.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:"))
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ScorecutClient:
    """A connection to a Scorecut server. A context manager; one job at a time per `score` call."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        token: str | None = None,
        root_certificates: bytes | None = None,
        remote: bool | None = None,
        tls: bool | None = None,
    ):
        self.address = address
        # remote=None: a non-loopback address cannot read our paths, so media are uploaded.
        self.remote = (not is_loopback(address)) if remote is None else bool(remote)
        self.uploads = 0  # UploadMedia calls made (HasMedia hits are not counted)
        self._token_given = bool(token)  # a token the user gave: they chose this server on purpose
        self._token = token
        self._local = is_loopback(address)
        self._sha_cache: dict[tuple, str] = {}
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                   # A server started after our first try must be found within a moment, not after
                   # gRPC's default reconnect backoff (which grows to two minutes).
                   ("grpc.initial_reconnect_backoff_ms", 200),
                   ("grpc.min_reconnect_backoff_ms", 200),
                   ("grpc.max_reconnect_backoff_ms", 2000)]
        if is_loopback(address):
            options.append(("grpc.enable_http_proxy", 0))  # a proxy never fronts our own machine
        use_tls = (root_certificates is not None) if tls is None else tls
        if use_tls:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.ScorecutStub(self._channel)
        self._health = self._channel.unary_unary(_HEALTH_CHECK)  # bytes in, bytes out

    @property
    def _metadata(self) -> tuple:
        """The call's credentials: the token given, or for a loopback address this user's secret
        (read at each call: the server this client waited for may have created it meanwhile)."""
        token = self._token or (read_secret() if self._local else None)
        return (("authorization", f"Bearer {token}"),) if token else ()

    # -- connection ---------------------------------------------------------------------------
    def __enter__(self) -> ScorecutClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def ping(self, timeout: float = 2.0, *, wait_for_ready: bool = False) -> bool:
        """Whether the server's health service answers SERVING within `timeout` seconds."""
        try:
            reply = self._health(b"", timeout=timeout, metadata=self._metadata, wait_for_ready=wait_for_ready)
        except grpc.RpcError:
            return False
        return reply == _HEALTH_SERVING

    def _error(self, error: grpc.RpcError, job_id: str = "") -> Exception:
        """The client error for a failed call; `job_id` once the server had accepted the job."""
        code = error.code() if hasattr(error, "code") else None
        details = (error.details() if hasattr(error, "details") else "") or ""
        if code == grpc.StatusCode.UNAVAILABLE:
            if job_id:  # it answered, took the job, then went away: it stopped or crashed
                return ServerUnavailable(f"the Scorecut server at {self.address} stopped during the job "
                                         f"(job {job_id}); score again once it runs ({START_HINT})",
                                         during_job=True, job_id=job_id)
            return ServerUnavailable(f"no Scorecut server answers at {self.address}: {START_HINT}")
        if code == grpc.StatusCode.CANCELLED:
            return JobCancelled(details or "the job was cancelled")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return JobFailed("DEADLINE_EXCEEDED", details or "the server did not finish in time; "
                             "try again with a longer timeout or a shorter segment")
        name = code.name if code is not None else "UNKNOWN"
        return JobFailed(name, details or f"the server answered {name}")

    def info(self, timeout: float = 5.0) -> pb.ServerInfo:
        """Version, device, models, limits; raises ServerUnavailable when nothing answers."""
        try:
            return self._stub.GetInfo(pb.GetInfoRequest(), timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def models(self, timeout: float = 5.0) -> dict[str, pb.ModelInfo]:
        """The server's models by name, from GetInfo: availability, the stems each gives, its styles,
        moods, meters, tempo range and sample rates. Front ends offer these, never lists of their own."""
        return {m.name: m for m in self.info(timeout).models}

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; True when the server knew it."""
        try:
            reply = self._stub.CancelJob(pb.CancelJobRequest(job_id=job_id), timeout=5, metadata=self._metadata)
        except grpc.RpcError:
            return False
        return reply.found

    # -- upload -------------------------------------------------------------------------------
    def upload(self, path: str | os.PathLike, timeout: float | None = None) -> str:
        """The media id of `path` on the server, uploading it only when HasMedia says it is missing."""
        path = Path(path)
        try:
            st = path.stat()
        except OSError as e:
            raise JobFailed("INVALID_ARGUMENT", f"cannot read {path}: {e.strerror}; check the path") from None
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        sha = self._sha_cache.get(key) or sha256_file(path)
        self._sha_cache[key] = sha
        try:
            reply = self._stub.HasMedia(pb.HasMediaRequest(sha256=sha), timeout=30, metadata=self._metadata)
            if reply.present:
                return reply.media_id or sha

            def chunks():
                yield pb.UploadChunk(header=pb.UploadHeader(filename=path.name, size=st.st_size, sha256=sha))
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(UPLOAD_CHUNK_BYTES), b""):
                        yield pb.UploadChunk(data=block)

            self.uploads += 1
            ref = self._stub.UploadMedia(chunks(), timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise self._error(e) from None
        return ref.media_id or sha

    # -- scoring ------------------------------------------------------------------------------
    def score(
        self,
        clips: Sequence[ClipSpec],
        options: JobOptions = DEFAULT_OPTIONS,
        *,
        duration_s: float | None = None,
        out_dir: str | os.PathLike,
        name: str,
        on_event: Callable[[JobEvent], None] | None = None,
        cancel: threading.Event | None = None,
        timeout: float | None = None,
        before_land: BeforeLand | None = None,
        replace: bool = False,
        timecode_start_s: float | None = None,
    ) -> JobResult:
        """Run one job and land its take (mix.wav, <stem>.wav, score.json) atomically by the one
        naming policy (landing.land_take): out_dir/name, or name-2, ... when name holds another
        request's take; `replace=True` lands at name whatever it holds.

        Raises JobCancelled when `cancel` is set (the server job is cancelled too; nothing is left
        in out_dir), JobFailed(code, message) for the server's refusals, InvalidRequest (a JobFailed
        and a ValueError) for values the contract cannot carry, ServerUnavailable when no server
        answers (with `during_job` set when it went away after accepting the job). `before_land(draft)`
        may add files that land with the audio (an output.Draft: the folder, score.json, and the
        streamed analysis and plan). `timecode_start_s`: the timeline timecode (seconds since
        midnight) of the segment's first sample, when the front end knows it: the WAVs' BWF
        TimeReference (else the first clip's own start timecode).
        """
        clips = list(clips)
        # What score.json records; building it checks the values (a seed out of range) before any call.
        record = request_record(clips, options, duration_s=duration_s)
        if is_loopback(self.address) and not self._token_given:
            not_ours = other_users_server(self.address)  # asked of the OS, before any call
            if not_ours:  # never send media to another user's server unasked
                raise JobFailed("PERMISSION_DENIED", not_ours)
        # A second, waiting try rides out gRPC's reconnect backoff after the server came back.
        if not (self.ping(timeout=5.0) or self.ping(timeout=2.5, wait_for_ready=True)):
            raise ServerUnavailable(f"no Scorecut server answers at {self.address}: {START_HINT}")
        job = dict(clips=clips, options=options, duration_s=duration_s, out_dir=out_dir, name=name,
                   on_event=on_event, cancel=cancel, timeout=timeout, before_land=before_land, record=record,
                   replace=replace, timecode_start_s=timecode_start_s)
        try:
            return self._run_job(upload=self.remote, **job)
        except JobFailed as e:
            if self.remote or e.code != "PERMISSION_DENIED" or not all(Path(c.path).is_file() for c in clips):
                raise
            # This machine's server may not read that folder (outside its --media-root): send the
            # media as to a server elsewhere. Uploads are content-addressed: sent once.
            return self._run_job(upload=True, **job)

    def _run_job(self, *, clips: list[ClipSpec], options: JobOptions, duration_s: float | None,
                 out_dir: str | os.PathLike, name: str, on_event, cancel: threading.Event | None,
                 timeout: float | None, before_land: BeforeLand | None, record: dict, replace: bool,
                 upload: bool, timecode_start_s: float | None = None) -> JobResult:
        media_ids: dict[str, str] = {}
        if upload:
            for clip in clips:
                if cancel is not None and cancel.is_set():
                    raise JobCancelled("the job was cancelled before it started")
                if clip.path not in media_ids:
                    media_ids[clip.path] = self.upload(clip.path)
        request = build_request(clips, options, duration_s=duration_s, media_ids=media_ids)

        # score.json records the request as the caller made it (local paths, even when uploaded).
        writer = JobWriter(out_dir, name, record, replace, clips=clips, timecode_start_s=timecode_start_s)
        # wait_for_ready rides out a reconnect in progress; the ping above showed a server is there.
        call = self._stub.Score(request, timeout=timeout, metadata=self._metadata, wait_for_ready=True)
        finished = threading.Event()

        def cancel_on_request() -> None:
            # The library does not interrupt our thread: a watcher turns the Event into RPCs.
            while not finished.is_set():
                if cancel.wait(0.05):
                    if writer.job_id:
                        self.cancel(writer.job_id)
                    call.cancel()  # the server also cancels a job whose client went away
                    return

        watcher = None
        if cancel is not None:
            watcher = threading.Thread(target=cancel_on_request, name="scorecut-cancel", daemon=True)
            watcher.start()
        try:
            try:
                for event in call:
                    job_event = writer.handle(event)
                    if on_event is not None:
                        on_event(job_event)
                score = writer.finish()
            except grpc.RpcError as e:
                if cancel is not None and cancel.is_set():
                    raise JobCancelled("the job was cancelled") from None
                raise self._error(e, writer.job_id) from None
            if cancel is not None and cancel.is_set() and writer.manifest is None:
                raise JobCancelled("the job was cancelled")
            return writer.land(score, before_land)
        except BaseException:
            # KeyboardInterrupt included: stop the server's work, leave nothing behind.
            call.cancel()
            if writer.job_id and writer.manifest is None:
                self.cancel(writer.job_id)
            writer.abort()
            raise
        finally:
            finished.set()
            if watcher is not None:
                watcher.join(timeout=1)
