"""Bad requests against a real server: the right status, an actionable message, still serving."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from scorecut.v1 import scorecut_pb2 as pb
from tests.helpers.server_calls import assert_actionable, assert_serving, clip, request, status_of, stub, video
from tests.helpers.videos import make_audio_only

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def good(media_root):
    return video(media_root, "good-4s.mp4", 4.0, cuts_s=(1.5,))


@pytest.fixture(scope="module")
def bad_files(media_root, good):
    """Broken media of every kind, made from real files."""
    folder = media_root / "server-bad"
    folder.mkdir(exist_ok=True)
    text = folder / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 20)
    truncated = folder / "truncated.mp4"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])  # moov (the index) is at the end: now lost
    audio_only = folder / "voice.m4a"
    make_audio_only(audio_only)
    return {"text": text, "truncated": truncated, "audio_only": audio_only}


def _fails(server, req, code, *words):
    s, _ = stub(server.address)
    error = status_of(lambda: s.Score(req, timeout=60))
    assert_actionable(error, code, *words)
    assert_serving(server.address)
    return error


def test_missing_path(server, media_root):
    _fails(server, request(clip(media_root / "nowhere" / "missing.mp4")), grpc.StatusCode.NOT_FOUND,
           "no file", "missing.mp4")


def test_text_file_named_mp4(server, bad_files):
    _fails(server, request(clip(bad_files["text"])), INVALID, "notes.mp4")


def test_truncated_mp4(server, bad_files):
    _fails(server, request(clip(bad_files["truncated"])), INVALID, "truncated.mp4")


def test_audio_only(server, bad_files):
    _fails(server, request(clip(bad_files["audio_only"])), INVALID, "audio")


def test_in_after_out(server, good):
    _fails(server, request(clip(good, source_in_s=3.0, source_out_s=1.0)), INVALID, "after the out point")


def test_out_beyond_end(server, good):
    _fails(server, request(clip(good, source_in_s=0.0, source_out_s=9.0)), INVALID, "beyond the end", "4.0")


def test_out_within_a_frame_of_the_end_is_the_end(server, good):
    s, _ = stub(server.address)
    # 4 s at 25 fps; 4.02 s is within one frame of the end: accepted (answered by a first event).
    events = s.Score(request(clip(good, source_out_s=4.02), seed=11), timeout=120)
    first = next(events)
    assert first.WhichOneof("event") == "accepted"
    events.cancel()


def test_zero_length(server, good):
    _fails(server, request(clip(good, source_in_s=2.0, source_out_s=2.0)), INVALID, "zero length")


def test_in_point_beyond_the_end_without_an_out_point(server, good):
    # No out point means the end of the media: the in point is past it, not "after the out point".
    error = _fails(server, request(clip(good, source_in_s=10.0)), INVALID,
                   "in point 10 s is beyond the end of the media", "(4.000 s)")
    assert "swap" not in error.details() and "out point" not in error.details()


def test_in_point_at_the_end_names_the_resolved_out_point(server, good):
    error = _fails(server, request(clip(good, source_in_s=4.0)), INVALID,
                   "zero length", "in 4 s, out 4 s", "before the end of the media")
    assert "out 0 s" not in error.details()


def test_negative_in_point_says_times_start_at_zero(server, good):
    _fails(server, request(clip(good, source_in_s=-1.0)), INVALID, "negative", "0 or more")


def test_duration_over_limit(server, good):
    _fails(server, request(clip(good), duration_s=4000.0), INVALID, "limit", "--max-duration")


def test_too_many_clips(server, good):
    clips = [clip(good, source_in_s=0.0, source_out_s=0.02) for _ in range(201)]
    _fails(server, request(*clips), INVALID, "201 clips", "--max-clips")


def test_no_clips(server):
    _fails(server, request(), INVALID, "no clips")


def test_unknown_model(server, good):
    _fails(server, request(clip(good), model="jukebox"), INVALID, "unknown model", "composer")


def test_unknown_style(server, good):
    _fails(server, request(clip(good), style="polka-metal"), INVALID, "unknown style", "cinematic")


def test_unknown_stem_and_format(server, good):
    _fails(server, request(clip(good), stems=["kazoo"]), INVALID, "kazoo", "drums")
    _fails(server, request(clip(good), sample_format="s8"), INVALID, "sample format", "s24le")


def test_vmas_without_checkpoint(server, good):
    s, _ = stub(server.address)
    vmas = {m.name: m for m in s.GetInfo(pb.GetInfoRequest(), timeout=30).models}["vmas"]
    if vmas.available:  # a checkpoint is installed on this machine's test home: nothing to refuse
        pytest.fail("the isolated test home must have no vmas checkpoint")
    _fails(server, request(clip(good), model="vmas"), grpc.StatusCode.FAILED_PRECONDITION, "vmas")


def test_unknown_media_id(server):
    _fails(server, request(clip(media_id="ab" * 32)), grpc.StatusCode.NOT_FOUND, "upload")


def test_path_outside_media_roots(server, tmp_path_factory):
    # The server's media root is the pytest base folder; /etc is outside it (and so is a symlink
    # that points there from inside).
    _fails(server, request(clip("/etc/hostname")), grpc.StatusCode.PERMISSION_DENIED, "--media-root")
    link = tmp_path_factory.mktemp("links") / "sneaky.mp4"
    link.symlink_to("/etc/hostname")
    _fails(server, request(clip(link)), grpc.StatusCode.PERMISSION_DENIED, "outside")


def test_relative_path(server):
    _fails(server, request(clip("clip.mp4")), INVALID, "absolute")


def test_paths_allowed_for_this_loopback_peer(server):
    s, _ = stub(server.address)
    info = s.GetInfo(pb.GetInfoRequest(), timeout=30)
    assert info.paths_allowed
    assert info.limits.max_clips == 200 and info.limits.max_queue == 8
    assert "composer" in [m.name for m in info.models] and info.styles


def test_upload_errors(fresh_server, good):
    srv = fresh_server("--max-upload-mb", "0.01")  # 10 kB: the test video is larger
    s, _ = stub(srv.address)
    data = good.read_bytes()
    sha = hashlib.sha256(data).hexdigest()

    def upload(header, chunks):
        return s.UploadMedia(iter([pb.UploadChunk(header=header), *(pb.UploadChunk(data=c) for c in chunks)]),
                             timeout=30)

    big = status_of(lambda: upload(pb.UploadHeader(filename="good.mp4", size=len(data), sha256=sha), [data]))
    assert_actionable(big, INVALID, "limit", "--max-upload-mb")
    # A header that understates the size is caught while the bytes arrive.
    lying = status_of(lambda: upload(pb.UploadHeader(filename="good.mp4", size=100, sha256=sha),
                                     [data[i:i + 4096] for i in range(0, len(data), 4096)]))
    assert_actionable(lying, INVALID, "limit")
    small = b"x" * 5000
    wrong = status_of(lambda: upload(pb.UploadHeader(filename="a.mp4", size=len(small), sha256="0" * 64), [small]))
    assert_actionable(wrong, INVALID, "sha256", "again")
    headless = status_of(lambda: s.UploadMedia(iter([pb.UploadChunk(data=small)]), timeout=30))
    assert_actionable(headless, INVALID, "header")
    assert not s.HasMedia(pb.HasMediaRequest(sha256=sha), timeout=10).present
    assert_serving(srv.address)


def test_unexpected_failures_become_internal_without_traceback(caplog):
    """rpc_errors, on a real gRPC server: a bug answers INTERNAL in a sentence, the log has the
    traceback, and the next call is served."""
    from concurrent import futures

    from scorecut.server.errors import rpc_errors
    from scorecut.server.wire import add_service

    class Buggy:
        calls = 0

        @rpc_errors
        def GetInfo(self, request, context):
            Buggy.calls += 1
            if Buggy.calls == 1:
                return {}["no such key"]  # a bug
            return pb.ServerInfo(version="ok")

        @rpc_errors
        def Score(self, request, context):
            yield pb.ScoreEvent(job_id="j", accepted=pb.Accepted())
            raise ZeroDivisionError("division by zero")

        HasMedia = UploadMedia = CancelJob = GetInfo

    from tests.helpers.servers import free_port

    port = free_port()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(4))
    add_service(Buggy(), grpc_server)
    grpc_server.add_insecure_port(f"127.0.0.1:{port}")
    grpc_server.start()
    try:
        s, _ = stub(f"127.0.0.1:{port}")
        with caplog.at_level("ERROR", logger="scorecut.server"):
            error = status_of(lambda: s.GetInfo(pb.GetInfoRequest(), timeout=10))
            assert_actionable(error, grpc.StatusCode.INTERNAL, "server log")
            assert "KeyError" in error.details() and "no such key" not in error.details()
            assert s.GetInfo(pb.GetInfoRequest(), timeout=10).version == "ok"
            stream = s.Score(pb.ScoreRequest(), timeout=10)
            assert next(stream).WhichOneof("event") == "accepted"
            assert_actionable(status_of(lambda: stream), grpc.StatusCode.INTERNAL, "server log")
        assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text
    finally:
        grpc_server.stop(0)


def test_internal_message_names_the_servers_log_file(tmp_path):
    """A server logs to a file (setup_logging, as `scorecut serve` does): INTERNAL names that file."""
    import logging

    from scorecut.server.app import setup_logging
    from scorecut.server.errors import status_of as server_status_of

    logger = logging.getLogger("scorecut")
    saved = list(logger.handlers), logger.level
    try:
        path = setup_logging(tmp_path / "logs", "CRITICAL")
        code, message = server_status_of(KeyError("a secret detail"))
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
    assert code == grpc.StatusCode.INTERNAL
    assert f"the server log ({path})" in message and "KeyError" in message
    assert "a secret detail" not in message and "\n" not in message


def test_path_references_from_other_machines_are_refused(media_root, good, tmp_path):
    """The policy itself, with the peer strings gRPC gives for remote callers (no traffic sent)."""
    from scorecut.models.composer.model import ComposerModel
    from scorecut.server.config import ServerConfig
    from scorecut.server.errors import RpcFailure
    from scorecut.server.media import FileHasher, UploadStore
    from scorecut.server.request import MediaProber, build_job_spec

    config = ServerConfig(media_roots=(media_root,), cache_dir=tmp_path / "cache")
    uploads = UploadStore(config.uploads, config.max_upload_bytes)
    infos = {"composer": ComposerModel().info()}
    tools = (uploads, MediaProber(), FileHasher())
    for peer in ("ipv4:10.1.2.3:5555", "ipv6:[2001:db8::7]:5555", "ipv6:[::ffff:192.168.0.9]:41000"):
        with pytest.raises(RpcFailure) as refused:
            build_job_spec(request(clip(good)), peer, config, infos, *tools)
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "upload" in refused.value.message.lower()
    # The same request from loopback passes the policy, and so does an uploaded file from afar.
    assert build_job_spec(request(clip(good)), "ipv4:127.0.0.1:5555", config, infos, *tools).segment.duration_s > 3.9
    data = good.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    uploads.receive(pb.UploadHeader(filename="good.mp4", size=len(data), sha256=sha), iter([data]))
    spec = build_job_spec(request(clip(media_id=sha)), "ipv4:10.1.2.3:5555", config, infos, *tools)
    assert spec.segment.clips[0].path.startswith(str(config.uploads))


def test_vmas_checkpoint_paths(server, good, media_root):
    bogus = media_root / "server-bad" / "bogus.pt"
    bogus.parent.mkdir(exist_ok=True)
    bogus.write_text("not a checkpoint")
    _fails(server, request(clip(good), model="vmas", checkpoint=str(bogus)), grpc.StatusCode.FAILED_PRECONDITION,
           "bogus.pt")
    _fails(server, request(clip(good), model="vmas", checkpoint="/etc/hostname"), grpc.StatusCode.PERMISSION_DENIED,
           "outside")
    _fails(server, request(clip(good), model="vmas", checkpoint=str(media_root / "none.pt")),
           grpc.StatusCode.NOT_FOUND, "checkpoint")
