"""Raw scorecut.v1 calls for the server tests: requests, collected streams, actionable errors.

The server tests talk to a real `scorecut serve` with the generated stubs alone, so they check
the wire contract itself, independent of the client library.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scorecut.v1 import scorecut_pb2 as pb
from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

from .videos import VideoSpec, make_video

_video_lock = threading.Lock()


def stub(address: str, token: str | None = None):
    channel = grpc.insecure_channel(address)
    return pb_grpc.ScorecutStub(channel), metadata(token)


def metadata(token: str | None) -> tuple:
    return (("authorization", f"Bearer {token}"),) if token else ()


def video(media_root: Path, name: str, duration_s: float, cuts_s: tuple[float, ...] = (), **kw) -> Path:
    """A small real H.264 video under the media root, made once per session."""
    path = media_root / "server-videos" / name
    with _video_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(".tmp-" + path.name)
            make_video(tmp, VideoSpec(duration_s=duration_s, cuts_s=cuts_s, size=(128, 72), **kw))
            tmp.rename(path)
    return path


def clip(path: Path | str = "", media_id: str = "", source_in_s: float = 0.0, source_out_s: float = 0.0,
         **kw) -> pb.Clip:
    if media_id:
        return pb.Clip(media_id=media_id, source_in_s=source_in_s, source_out_s=source_out_s, **kw)
    return pb.Clip(path=str(path), source_in_s=source_in_s, source_out_s=source_out_s, **kw)


def request(*clips: pb.Clip, duration_s: float = 0.0, **options) -> pb.ScoreRequest:
    return pb.ScoreRequest(clips=list(clips), duration_s=duration_s, options=pb.ScoreOptions(**options))


@dataclass
class Collected:
    """Everything one Score stream sent."""

    events: list = field(default_factory=list)
    pcm: dict[str, bytearray] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return self.events[0].job_id

    @property
    def accepted(self) -> pb.Accepted:
        return self.events[0].accepted

    @property
    def manifest(self) -> pb.Manifest:
        assert self.events[-1].WhichOneof("event") == "manifest", "the stream did not end with a manifest"
        return self.events[-1].manifest

    def kinds(self) -> list[str]:
        return [e.WhichOneof("event") for e in self.events]

    def sha256(self, stem: str) -> str:
        return hashlib.sha256(bytes(self.pcm[stem])).hexdigest()


def collect(events) -> Collected:
    out = Collected()
    for event in events:
        out.events.append(event)
        if event.WhichOneof("event") == "chunk":
            buf = out.pcm.setdefault(event.chunk.stem, bytearray())
            frame_bytes = event.chunk.channels * {"s16le": 2, "s24le": 3, "f32le": 4}[event.chunk.sample_format]
            assert event.chunk.offset_frames * frame_bytes == len(buf), "chunks must arrive in order, gap-free"
            buf += event.chunk.pcm
    return out


def score(address: str, req: pb.ScoreRequest, token: str | None = None, timeout: float = 120) -> Collected:
    s, md = stub(address, token)
    return collect(s.Score(req, metadata=md, timeout=timeout))


def status_of(fn) -> grpc.RpcError:
    """Call `fn`, which must fail with an RpcError; returns it."""
    try:
        result = fn()
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
            for _ in result:
                pass
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded but should have failed")


def assert_actionable(error: grpc.RpcError, code: grpc.StatusCode, *words: str) -> None:
    """The right code, and a message a person can act on: words present, no traceback."""
    details = error.details() or ""
    assert error.code() == code, f"expected {code}, got {error.code()}: {details}"
    assert len(details) > 20, f"message too short to act on: {details!r}"
    for bad in ("Traceback", 'File "', "Exception", "Error:"):
        assert bad not in details, f"internal detail leaked to the client: {details!r}"
    for word in words:
        assert word.lower() in details.lower(), f"{word!r} missing from {details!r}"


def assert_serving(address: str, token: str | None = None) -> None:
    """The server still answers: health SERVING and GetInfo works."""
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        info = pb_grpc.ScorecutStub(channel).GetInfo(pb.GetInfoRequest(), metadata=metadata(token), timeout=10)
        assert info.version
