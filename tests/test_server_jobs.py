"""Jobs through a real server: results, cancellation, a killed client, the queue, the cache, uploads."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from scorecut.models.interface import STEMS
from scorecut.plugins.client.score_document import score_document
from scorecut.v1 import scorecut_pb2 as pb
from tests.helpers.server_calls import (
    assert_actionable,
    assert_serving,
    clip,
    collect,
    request,
    score,
    status_of,
    stub,
)

BYTES = {"s16le": 2, "s24le": 3, "f32le": 4}




def check_result(result, seed: int, duration_s: float, rate: int = 48_000, fmt: str = "s24le") -> None:
    """A complete, self-consistent result: every stem whole, hashes matching, score.json filled."""
    kinds = result.kinds()
    assert kinds[0] == "accepted" and kinds[-1] == "manifest"
    assert "analysis" in kinds and "plan" in kinds
    manifest = result.manifest
    names = [s.name for s in manifest.stems]
    assert names[0] == "mix" and names[1:] == [s for s in STEMS if s in names[1:]]
    frames = round(duration_s * rate)
    for info in manifest.stems:
        assert info.frames == frames and info.sample_rate == rate and info.sample_format == fmt
        assert len(result.pcm[info.name]) == frames * info.channels * BYTES[fmt]
        assert result.sha256(info.name) == info.sha256
    assert manifest.seed == seed
    analysis = result.events[kinds.index("analysis")].analysis
    plan = result.events[kinds.index("plan")].plan
    # The plan and cuts travel once, in their own events; score_json holds model extras only.
    extras = json.loads(manifest.score_json)
    assert not set(extras) & {"tempo_bpm", "beats_s", "downbeats_s", "cuts_s", "sections", "key"}, extras
    # The analysis carries what the plot and the plugins need, each list as long as its times.
    assert len(analysis.cut_kinds) == len(analysis.cut_strength) == len(analysis.cuts_s)
    assert len(analysis.visual_beat_strength) == len(analysis.visual_beats_s)
    assert len(analysis.times_s) == len(analysis.motion) == len(analysis.pace) > 0
    assert len(analysis.speech_times_s) == len(analysis.speech)
    doc = score_document(analysis, plan, manifest)
    for key in ("version", "model", "seed", "style", "mood", "duration_s", "sample_rate", "tempo_bpm", "meter",
                "key", "beats_s", "downbeats_s", "cuts_s", "sections", "loudness_lufs", "true_peak_dbtp"):
        assert key in doc, key
    assert doc["seed"] == seed and doc["sample_rate"] == rate
    assert doc["duration_s"] == pytest.approx(duration_s, abs=1e-6)


def wait_running(events, stage: str = ""):
    """Read a Score stream until its job runs (and reaches `stage`, if given); returns the job id."""
    job_id = None
    for event in events:
        job_id = job_id or event.job_id
        kind = event.WhichOneof("event")
        if kind == "progress" and event.progress.stage != "queued" and event.progress.stage.startswith(stage):
            return job_id
    raise AssertionError("the stream ended before the job ran")


MIDWAY = "synth"  # the composer's synthesis: the longest stage, well inside the job


def test_score_streams_a_complete_result(server, short):
    result = score(server.address, request(clip(short), seed=5, sample_format="s16le", sample_rate=44_100))
    check_result(result, seed=5, duration_s=3.0, rate=44_100, fmt="s16le")
    assert not result.accepted.cached and not result.manifest.cached
    kinds = result.kinds()
    assert kinds.count("analysis") == 1 and kinds.count("plan") == 1 and kinds.count("manifest") == 1
    stages = [(i, e.progress.stage) for i, e in enumerate(result.events) if kinds[i] == "progress"]
    synth_at = next(i for i, stage in stages if stage.startswith("synth"))
    assert kinds.index("analysis") < synth_at  # the cuts arrive while the music is being written
    fractions = [e.progress.fraction for e, kind in zip(result.events, kinds, strict=True) if kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_same_request_twice_is_served_from_the_cache(fresh_server, short):
    srv = fresh_server()
    req = request(clip(short, source_in_s=0.5, source_out_s=2.75), seed=21)
    first = score(srv.address, req)
    second = score(srv.address, req)
    check_result(first, seed=21, duration_s=2.25)
    assert not first.accepted.cached and second.accepted.cached and second.manifest.cached
    assert first.pcm.keys() == second.pcm.keys()
    for stem in first.pcm:
        assert first.pcm[stem] == second.pcm[stem], stem  # bit-identical
    assert [s.sha256 for s in first.manifest.stems] == [s.sha256 for s in second.manifest.stems]
    assert first.manifest.score_json == second.manifest.score_json
    log = srv.log()
    assert log.count("model composer ran") == 1, log  # the model ran for the first request only
    assert "served from the result cache" in log
    # A different seed is a different result: the model runs again.
    third = score(srv.address, request(clip(short, source_in_s=0.5, source_out_s=2.75), seed=22))
    assert not third.accepted.cached and third.sha256("mix") != first.sha256("mix")
    assert srv.log().count("model composer ran") == 2


def test_cancel_frees_the_worker_within_a_second(fresh_server, long, short):
    srv = fresh_server()
    s, _ = stub(srv.address)
    first = s.Score(request(clip(long), seed=1), timeout=300)
    job_id = wait_running(first, MIDWAY)
    second = s.Score(request(clip(short), seed=2), timeout=300)
    accepted = next(second)
    assert accepted.accepted.queue_position == 1  # waits behind the running job
    time.sleep(0.2)  # inside synthesis, which takes seconds for this video
    cancelled_at = time.monotonic()
    reply = s.CancelJob(pb.CancelJobRequest(job_id=job_id), timeout=10)
    assert reply.found
    wait_running(second)
    freed_s = time.monotonic() - cancelled_at
    assert freed_s < 1.0, f"the worker took {freed_s:.2f} s to let go of a cancelled job"
    error = status_of(lambda: first)
    assert_actionable(error, grpc.StatusCode.CANCELLED, "cancelled")
    rest = collect(second)
    assert rest.events[-1].WhichOneof("event") == "manifest"
    assert not s.CancelJob(pb.CancelJobRequest(job_id="no-such-job"), timeout=10).found


CLIENT = """
import sys
sys.path.insert(0, {tests!r})
import grpc
from scorecut.v1 import scorecut_pb2 as pb, scorecut_pb2_grpc as pb_grpc
stub = pb_grpc.ScorecutStub(grpc.insecure_channel({address!r}))
req = pb.ScoreRequest(clips=[pb.Clip(path={path!r})], options=pb.ScoreOptions(seed=77))
for event in stub.Score(req):
    if event.WhichOneof("event") == "progress" and event.progress.stage.startswith("synth"):
        print("RUNNING", event.job_id, flush=True)
"""


def test_a_killed_client_cancels_its_job(fresh_server, long, short):
    srv = fresh_server()
    code = CLIENT.format(tests=str(Path(__file__).parent), address=srv.address, path=str(long))
    client = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = client.stdout.readline()
        assert line.startswith("RUNNING"), line
        job_id = line.split()[1]
        s, _ = stub(srv.address)
        waiting = s.Score(request(clip(short), seed=3), timeout=300)
        assert next(waiting).accepted.queue_position == 1
        killed_at = time.monotonic()
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)
        wait_running(waiting)
        freed_s = time.monotonic() - killed_at
        # The kernel closes the dead client's socket; the server sees the call end and cancels.
        assert freed_s < 1.5, f"the worker took {freed_s:.2f} s to let go of a dead client's job"
        assert collect(waiting).events[-1].WhichOneof("event") == "manifest"
        assert f"job {job_id} cancelled" in srv.log()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_full_queue_is_refused(fresh_server, long, short):
    srv = fresh_server("--max-queue", "1")
    s, _ = stub(srv.address)
    running = s.Score(request(clip(long), seed=31), timeout=300)
    wait_running(running)
    waiting = s.Score(request(clip(short), seed=32), timeout=300)
    assert next(waiting).accepted.queue_position == 1
    error = status_of(lambda: s.Score(request(clip(short), seed=33), timeout=60))
    assert_actionable(error, grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", "--max-queue")
    running.cancel()
    waiting.cancel()
    assert_serving(srv.address)


def test_eight_concurrent_clients_each_get_their_own_result(fresh_server, short):
    srv = fresh_server()
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def one(seed: int) -> None:
        try:
            results[seed] = score(srv.address, request(clip(short), seed=seed), timeout=600)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(101, 109)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors
    assert sorted(results) == list(range(101, 109))
    for seed, result in results.items():
        check_result(result, seed=seed, duration_s=3.0)
        assert all(e.job_id == result.job_id for e in result.events)  # no events from another job
    mixes = {r.sha256("mix") for r in results.values()}
    assert len(mixes) == 8, "different seeds must give different music"
    assert srv.log().count("model composer ran") == 8


def test_upload_then_score_by_id_matches_the_path_reference(fresh_server, short):
    srv = fresh_server()
    s, _ = stub(srv.address)
    data = short.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert not s.HasMedia(pb.HasMediaRequest(sha256=sha), timeout=10).present

    def upload():
        header = pb.UploadChunk(header=pb.UploadHeader(filename="short.mp4", size=len(data), sha256=sha))
        chunks = [pb.UploadChunk(data=data[i:i + 65536]) for i in range(0, len(data), 65536)]
        return s.UploadMedia(iter([header, *chunks]), timeout=60)

    ref = upload()
    assert ref.media_id == sha and ref.size == len(data) and not ref.already_present
    assert s.HasMedia(pb.HasMediaRequest(sha256=sha), timeout=10).present
    assert upload().already_present
    stored = list((srv.home / ".cache" / "scorecut" / "uploads" / sha).iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == data
    by_path = score(srv.address, request(clip(short, source_in_s=0.25), seed=4242))
    # Forget the finished result so the model runs again for the upload (one server: one version
    # of the code, even while the working tree changes under a long test session).
    shutil.rmtree(srv.home / ".cache" / "scorecut" / "results")
    by_id = score(srv.address, request(clip(media_id=sha, source_in_s=0.25), seed=4242))
    assert not by_id.accepted.cached and not by_path.accepted.cached  # both ran the model
    assert srv.log().count("model composer ran") == 2
    check_result(by_id, seed=4242, duration_s=2.75)
    differing = [stem for stem in by_path.pcm if by_id.pcm[stem] != by_path.pcm[stem]]
    assert not differing, differing
    assert by_id.events[by_id.kinds().index("plan")].plan == by_path.events[by_path.kinds().index("plan")].plan


def test_sigterm_during_a_job_cancels_it_and_exits_cleanly(fresh_server, long):
    srv = fresh_server()
    s, _ = stub(srv.address)
    running = s.Score(request(clip(long), seed=55), timeout=300)
    wait_running(running)
    srv.proc.terminate()
    assert srv.proc.wait(timeout=30) == 0
    error = status_of(lambda: running)
    assert error.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE), error
    assert "Traceback" not in (error.details() or "")
    log = srv.log()
    assert "cancelled" in log and "stopped" in log
    results = srv.home / ".cache" / "scorecut" / "results"
    assert not results.exists() or not any(p.name.startswith(".tmp-") for p in results.iterdir())


def test_clips_without_record_ranges_follow_each_other(server, short, long):
    result = score(server.address, request(clip(short, source_in_s=0.5, source_out_s=2.0),
                                           clip(long, source_in_s=10.0, source_out_s=11.25), seed=8))
    check_result(result, seed=8, duration_s=2.75)  # 1.5 s + 1.25 s, one after the other
    analysis = result.events[result.kinds().index("analysis")].analysis
    assert any(abs(t - 1.5) < 0.05 for t in analysis.cuts_s), analysis.cuts_s  # the boundary is a cut
    # Explicit record ranges: the second clip plays at double speed and the output runs past it.
    fast = score(server.address, request(clip(short, source_in_s=0.0, source_out_s=1.0, record_start_s=0.0,
                                              record_end_s=1.0),
                                         clip(long, source_in_s=0.0, source_out_s=2.0, record_start_s=1.0,
                                              record_end_s=2.0), duration_s=2.0, seed=9))
    check_result(fast, seed=9, duration_s=2.0)


def test_result_cache_drops_the_least_recently_used(tmp_path):
    from scorecut.server.results import ResultCache, WireResult

    cache = ResultCache(tmp_path, max_bytes=2500)
    stems = [pb.StemInfo(name="mix", frames=250, channels=2, sample_rate=48_000, sha256="x", sample_format="s16le")]

    def result(fill: int) -> WireResult:
        return WireResult(pb.Analysis(), pb.Plan(), pb.Manifest(stems=stems), {"mix": bytes([fill]) * 1000})

    for key in ("a", "b"):
        cache.put(key, result(1))
        time.sleep(0.02)  # distinct modification times
    assert cache.get("a") is not None  # "a" is now the most recently used
    time.sleep(0.02)
    cache.put("c", result(3))  # over 2500 bytes: the least recently used ("b") goes
    assert cache.get("b") is None and cache.get("a") is not None
    got = cache.get("c")
    assert got.manifest.cached and got.pcm["mix"].read(0, 2000) == bytes([3]) * 1000
    got.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
