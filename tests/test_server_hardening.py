"""Hardening: what a hostile or careless client on loopback must not be able to do to the server.

Each test here failed on the server before the hardening work: a symlink swapped in
while a job waits, stalled streams, statuses that said "a bug" for bad input, and the rest.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scorecut.v1 import scorecut_pb2 as pb
from tests.helpers.server_calls import assert_actionable, clip, collect, request, status_of, stub
from tests.helpers.videos import VideoSpec, make_video


def wait_stage(events, stage: str) -> str:
    """Read a Score stream until its job reports `stage`; returns the job id."""
    for event in events:
        if event.WhichOneof("event") == "progress" and event.progress.stage.startswith(stage):
            return event.job_id
    raise AssertionError(f"the stream ended before the job reached {stage!r}")


def test_a_folder_swapped_for_a_symlink_while_the_job_waits_is_not_followed(fresh_server, long, media_root):
    """The job reads the file checked at admission, not whatever the name leads to later."""
    inside = media_root / f"swap-{uuid.uuid4().hex[:8]}"
    (inside / "takes").mkdir(parents=True)
    make_video(inside / "takes" / "clip.mp4", VideoSpec(duration_s=3.0, size=(128, 72)))  # no cuts
    outside = Path(tempfile.mkdtemp(prefix="scorecut-outside-"))  # not under the server's media root
    try:
        (outside / "takes").mkdir()
        make_video(outside / "takes" / "clip.mp4", VideoSpec(duration_s=3.0, cuts_s=(0.9, 1.8), size=(128, 72)))
        srv = fresh_server()
        s, _ = stub(srv.address)
        busy = s.Score(request(clip(long), seed=1), timeout=300)
        busy_id = wait_stage(busy, "synth")  # the worker is busy: the next job waits in the queue
        waiting = s.Score(request(clip(inside / "takes" / "clip.mp4"), seed=2), timeout=300)
        accepted = next(waiting)
        assert accepted.accepted.queue_position == 1
        (inside / "takes").rename(inside / "checked")
        (inside / "takes").symlink_to(outside / "takes", target_is_directory=True)
        s.CancelJob(pb.CancelJobRequest(job_id=busy_id), timeout=10)
        result = collect(waiting)
        analysis = next(e.analysis for e in result.events if e.WhichOneof("event") == "analysis")
        assert list(analysis.cuts_s) == [], f"decoded the file outside the media root (cuts {list(analysis.cuts_s)})"
        assert result.events[-1].WhichOneof("event") == "manifest"
        # Asked for by name now, the path leads outside, and is refused.
        again = status_of(lambda: s.Score(request(clip(inside / "takes" / "clip.mp4"), seed=2), timeout=60))
        assert_actionable(again, grpc.StatusCode.PERMISSION_DENIED, "outside")
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def _stalled_upload(s, release: threading.Event):
    def chunks():
        yield pb.UploadChunk(header=pb.UploadHeader(filename="x.mp4", size=10_000, sha256="0" * 64))
        release.wait()  # never sends the data

    return s.UploadMedia.future(chunks(), timeout=120)


def _health_and_info_times(address: str, seconds: float) -> list[float]:
    """How long Health and GetInfo take, asked over and over for `seconds` (fresh channels)."""
    times = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with grpc.insecure_channel(address) as channel:
            began = time.monotonic()
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

            assert pb_grpc.ScorecutStub(channel).GetInfo(pb.GetInfoRequest(), timeout=5).version
            times.append(time.monotonic() - began)
        time.sleep(0.1)
    return times


def test_more_stalled_uploads_than_threads_leave_health_and_info_answering(fresh_server):
    srv = fresh_server()
    s, _ = stub(srv.address)
    assert s.GetInfo(pb.GetInfoRequest(), timeout=60).version  # the model list is built once, first
    release = threading.Event()
    calls = [_stalled_upload(s, release) for _ in range(48)]  # more than the server has RPC threads
    try:
        time.sleep(1.0)
        times = _health_and_info_times(srv.address, 4.0)
        assert max(times) < 1.0, f"Health + GetInfo took up to {max(times):.2f} s under stalled uploads"
        refused = [c for c in calls if c.done() and c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert refused, "uploads past the stream limit should be refused at once"
        assert_actionable(refused[0].exception(), grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", "try again")
    finally:
        release.set()
        for c in calls:
            c.cancel()


@pytest.fixture
def in_process(tmp_path, media_root):
    """A real server on a loopback port inside the test process, for settings the CLI does not offer."""
    from scorecut.server.app import ScorecutServer
    from scorecut.server.config import ServerConfig

    started = []

    def make(**settings) -> ScorecutServer:
        config = ServerConfig(host="127.0.0.1", port=0, device="cpu", media_roots=(media_root,),
                              cache_dir=tmp_path / "cache", model_dir=tmp_path / "models",
                              log_dir=tmp_path / "logs", **settings)
        server = ScorecutServer(config, "cpu")
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def test_an_idle_upload_is_ended_by_the_server(in_process):
    server = in_process(stream_idle_s=1.0)
    s, _ = stub(f"127.0.0.1:{server.port}")
    release = threading.Event()
    call = _stalled_upload(s, release)
    try:
        began = time.monotonic()
        with pytest.raises(grpc.RpcError) as ended:
            call.result(timeout=10)
        assert ended.value.code() == grpc.StatusCode.CANCELLED  # the server cancelled the call
        assert time.monotonic() - began < 4.0
        deadline = time.monotonic() + 3
        while server.limits.active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.limits.active == 0, "the ended upload still holds its slot"
        assert not list((server.config.uploads).glob("*/media*")), "a cut upload must not be stored"
    finally:
        release.set()


# Statuses the README's table promises, for input no file system can hold.


def test_a_nul_byte_in_a_path_is_a_bad_argument(server, media_root):
    s, _ = stub(server.address)
    error = status_of(lambda: s.Score(request(clip(f"{media_root}/a\0b.mp4")), timeout=30))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "NUL")


def test_an_over_long_path_is_a_bad_argument(server, media_root):
    s, _ = stub(server.address)
    error = status_of(lambda: s.Score(request(clip(f"{media_root}/" + "a" * 5000 + ".mp4")), timeout=30))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "too long")
    assert len(error.details()) < 1000, "the message echoed the whole path"


def test_a_huge_path_is_not_echoed_back_whole(server):
    s, _ = stub(server.address)
    huge = "/" + "x/" * 3_000_000  # 6 MB: an echo would exceed what the client accepts in a status
    error = status_of(lambda: s.Score(request(clip(huge)), timeout=60))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()}: {error.details()[:200]}"
    assert len(error.details()) < 2000


def test_a_negative_record_start_is_refused(server, short):
    s, _ = stub(server.address)
    error = status_of(lambda: s.Score(request(clip(short, record_start_s=-2.0)), timeout=60))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "record start", "negative")


def test_a_relative_checkpoint_is_refused_like_a_relative_path(server, short):
    s, _ = stub(server.address)
    path_error = status_of(lambda: s.Score(request(clip("videos/a.mp4")), timeout=60))
    ckpt_error = status_of(lambda: s.Score(request(clip(short), model="vmas", checkpoint="ckpt/model.pt"),
                                           timeout=60))
    assert path_error.code() == ckpt_error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert_actionable(ckpt_error, grpc.StatusCode.INVALID_ARGUMENT, "relative", "absolute")


def test_a_duration_shorter_than_one_sample_is_refused(server, short):
    s, _ = stub(server.address)
    error = status_of(lambda: s.Score(request(clip(short), duration_s=1e-9), timeout=60))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "shorter than one sample")


def test_a_short_token_is_refused_at_start(tmp_path):
    import subprocess
    import sys

    from scorecut.server.config import ServerConfig
    from tests.helpers.servers import isolated_env

    assert any("at least 16" in p for p in ServerConfig(token="s3cret").problems())
    assert not ServerConfig(token="x" * 16).problems()
    run = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "serve", "--port", "0", "--token", "short"],
                         env=isolated_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "at least 16" in run.stderr and "Traceback" not in run.stderr


# Memory: results stream from files in bounded chunks, under one budget.


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _slow_read(address: str, req, pause_s: float, counted: list, errors: list) -> None:
    try:
        s, _ = stub(address)
        total = 0
        for event in s.Score(req, timeout=300):
            if event.WhichOneof("event") == "chunk":
                total += len(event.chunk.pcm)
                time.sleep(pause_s)
        counted.append(total)
    except grpc.RpcError as error:
        errors.append(error)


def test_slow_readers_of_a_long_result_do_not_grow_the_server(fresh_server, short):
    srv = fresh_server()
    s, _ = stub(srv.address)
    # 60 s at 96 kHz f32: about 46 MB per stem, 230 MB in all.
    req = request(clip(short), duration_s=60.0, seed=3, sample_rate=96_000, sample_format="f32le")
    first = collect(s.Score(req, timeout=600))
    total = sum(len(v) for v in first.pcm.values())
    assert total > 200e6
    del first
    before = _rss_bytes(srv.proc.pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes(srv.proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    counted, errors = [], []
    readers = [threading.Thread(target=_slow_read, args=(srv.address, req, 0.002, counted, errors)) for _ in range(3)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(300)
    done.set()
    sampler.join()
    assert not errors and counted == [total] * 3
    growth = peak[0] - before
    assert growth < 40e6, (f"the server grew {growth / 1e6:.0f} MB sending a {total / 1e6:.0f} MB result "
                           "to 3 slow readers")


def test_results_past_the_memory_budget_are_refused_not_swollen(in_process, short):
    from scorecut.server.results import STREAM_WINDOW_BYTES

    server = in_process(result_memory_bytes=STREAM_WINDOW_BYTES)  # room for one stream at a time
    address = f"127.0.0.1:{server.port}"
    req = request(clip(short), duration_s=30.0, seed=4, sample_rate=96_000, sample_format="f32le")
    s, _ = stub(address)
    collect(s.Score(req, timeout=600))  # now cached
    held = s.Score(req, timeout=120)
    next(held)  # accepted: this stream holds the budget while its reader waits
    time.sleep(0.5)
    error = status_of(lambda: s.Score(req, timeout=60))
    assert_actionable(error, grpc.StatusCode.RESOURCE_EXHAUSTED, "memory", "again")
    held.cancel()
    time.sleep(0.5)
    assert collect(s.Score(req, timeout=120)).manifest.cached  # the budget came back


# Full disks and uploads.


def _disk_full_under(monkeypatch, folder: Path) -> None:
    """Simulated: os.write raises ENOSPC for files under `folder` (a real tmpfs cannot be mounted
    here), in this process, whose in-process server writes through os.write."""
    real_write = os.write

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_during_an_upload_is_resource_exhausted_naming_the_folder(in_process, short, monkeypatch):
    import hashlib

    server = in_process()
    s, _ = stub(f"127.0.0.1:{server.port}")
    data = short.read_bytes()
    header = pb.UploadHeader(filename="short.mp4", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    _disk_full_under(monkeypatch, server.config.uploads)
    error = status_of(lambda: s.UploadMedia(iter([pb.UploadChunk(header=header), pb.UploadChunk(data=data)]),
                                            timeout=60))
    assert_actionable(error, grpc.StatusCode.RESOURCE_EXHAUSTED, "full", str(server.config.uploads))
    assert not list(server.config.uploads.glob(".upload-*")), "the partial upload was left behind"


def test_a_full_disk_while_writing_a_result_is_resource_exhausted_naming_the_folder(in_process, short, monkeypatch):
    server = in_process()
    s, _ = stub(f"127.0.0.1:{server.port}")
    _disk_full_under(monkeypatch, server.config.results)
    error = status_of(lambda: s.Score(request(clip(short), seed=6), timeout=300))
    assert_actionable(error, grpc.StatusCode.RESOURCE_EXHAUSTED, "full", str(server.config.results))
    monkeypatch.undo()
    assert collect(s.Score(request(clip(short), seed=6), timeout=300)).manifest  # space again: it works


def test_uploads_are_kept_under_a_quota_least_recently_used_first(tmp_path):
    import hashlib

    from scorecut.server.media import UploadStore

    store = UploadStore(tmp_path / "uploads", max_bytes=1000, quota_bytes=2500)

    def upload(fill: int) -> str:
        data = bytes([fill]) * 1000
        sha = hashlib.sha256(data).hexdigest()
        store.receive(pb.UploadHeader(filename="a.mp4", size=len(data), sha256=sha), iter([data]))
        time.sleep(0.02)  # distinct modification times
        return sha

    first, second = upload(1), upload(2)
    assert store.find(first) is not None  # used again: now the most recent
    time.sleep(0.02)
    third = upload(3)  # 3000 bytes > 2500: the least recently used (the second) goes
    assert store.find(second) is None
    assert store.find(first) is not None and store.find(third) is not None


# Cancel within a second at every stage of a long job.

LONG_JOB_S = 240.0  # seconds of music: each stage lasts long enough to be caught in the middle


def _cancel_at(s, clip_msg, stage: str, seed: int, into_s: float) -> tuple[float, str]:
    """Run a long job, cancel it `into_s` after it reports `stage`; (seconds until the stream ended
    CANCELLED, the last stage it reported)."""
    events = s.Score(request(clip_msg, duration_s=LONG_JOB_S, seed=seed), timeout=600)
    job_id, seen = None, ""
    for event in events:
        job_id = job_id or event.job_id
        if event.WhichOneof("event") == "progress":
            seen = event.progress.stage
            if seen.startswith(stage):
                break
    else:
        raise AssertionError(f"the job ended before reaching {stage!r}")
    time.sleep(into_s)
    began = time.monotonic()
    assert s.CancelJob(pb.CancelJobRequest(job_id=job_id), timeout=10).found
    try:
        for event in events:  # reading on: a stream being sent must notice too
            if event.WhichOneof("event") == "progress":
                seen = event.progress.stage
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.CANCELLED, error.details()
        return time.monotonic() - began, seen
    raise AssertionError(f"the job finished although cancelled at {stage!r}")


def test_cancel_ends_a_long_job_within_a_second_at_every_stage(in_process, long):
    server = in_process()
    s, _ = stub(f"127.0.0.1:{server.port}")
    slow = {}
    for seed, (stage, into_s) in enumerate((("analysis", 0.0), ("synth", 1.0), ("post", 0.3), ("post", 1.5),
                                            ("stream", 0.0)), start=100):
        # A new in point each time: the analysis is not reused from the previous job.
        took, seen = _cancel_at(s, clip(long, source_in_s=seed / 100.0), stage, seed, into_s)
        if took >= 1.0:
            slow[f"{stage}+{into_s}s (last seen {seen})"] = round(took, 2)
    assert not slow, f"cancel took a second or more at: {slow}"


def test_a_file_cut_short_of_its_header_is_called_truncated(server, media_root):
    """A Matroska file cut at a tenth: its header says 10 s, fewer than 48 packets can be read."""
    whole = media_root / "hardening-whole.mkv"
    if not whole.exists():
        make_video(whole, VideoSpec(duration_s=10.0, size=(128, 72)))
    cut = media_root / "hardening-cut.mkv"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 10])
    s, _ = stub(server.address)
    error = status_of(lambda: s.Score(request(clip(cut)), timeout=60))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "truncated", "10.00 s")


def test_the_server_lifts_its_open_file_limit(tmp_path):
    """Calls hold their media open: a server started with a soft limit of 256 raises it."""
    import subprocess
    import sys

    code = ("import resource\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
            "from scorecut.server.app import raise_open_file_limit\n"
            "print(raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    reported, soft = map(int, out.stdout.split())
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert soft == reported and soft >= (4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)) > 256
