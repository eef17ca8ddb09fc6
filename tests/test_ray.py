"""Scorecut on Ray: `scorecut serve --ray local --replicas 2` against the single-node server.

One Ray head on loopback (the machine's CPUs: 2) serves the whole module; the single-node server is
the suite's shared one. Timeouts are generous: a loaded 2-core machine starts Ray in tens of seconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

pytest.importorskip("ray.serve", reason="Ray Serve is the `ray` extra: pip install 'scorecut[ray]'")

from scorecut.v1 import scorecut_pb2 as pb  # noqa: E402
from tests.helpers.server_calls import assert_actionable, clip, collect, request, score, status_of, stub  # noqa: E402
from tests.helpers.servers import ServerProcess, free_port, isolated_env, wait_serving  # noqa: E402

RAY_START_S = 300  # a local Ray head, Serve and two replicas importing torch, on a loaded machine
TOKEN = "ray-front-token-0123456789"  # the Ray server requires it, as a single-node server would
REPLICA_LINE = re.compile(r"job ([0-9a-f]{32}) running on Ray replica (\S+)")


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory, media_root):
    home = tmp_path_factory.mktemp("ray-home")
    srv = ServerProcess(free_port(), home, media_root, ["--ray", "local", "--replicas", "2", "--token", TOKEN])
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "127.0.0.1", "--port", str(srv.port),
           "--media-root", str(media_root), *srv.args]
    srv.proc = subprocess.Popen(cmd, env=isolated_env(home), stdout=open(srv.log_path, "ab"),
                                stderr=subprocess.STDOUT)
    try:
        wait_serving(srv.address, timeout_s=RAY_START_S, proc=srv.proc)
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.proc.terminate()
            try:
                srv.proc.wait(timeout=60)  # the local Ray head goes down with it
            except subprocess.TimeoutExpired:
                srv.proc.kill()
                srv.proc.wait()




def replicas_of(log: str) -> dict[str, str]:
    return dict(REPLICA_LINE.findall(log))


def running(events, stage: str = ""):
    """Read a Score stream until its job runs (and reaches `stage`); returns the job id."""
    job_id = None
    for event in events:
        job_id = job_id or event.job_id
        if event.WhichOneof("event") == "progress" and event.progress.stage != "queued" \
                and event.progress.stage.startswith(stage):
            return job_id
    raise AssertionError("the stream ended before the job ran")


def test_same_request_same_bytes_as_the_single_node_server(server, ray_server, short):
    req = request(clip(short, source_in_s=0.25, source_out_s=2.75), seed=31, sample_format="s24le")
    single = score(server.address, req, timeout=300)
    on_ray = score(ray_server.address, req, token=TOKEN, timeout=300)
    assert not on_ray.accepted.cached
    names = [s.name for s in single.manifest.stems]
    assert names == [s.name for s in on_ray.manifest.stems] and "mix" in names
    for name in names:
        assert on_ray.sha256(name) == single.sha256(name), f"stem {name} differs on Ray"
    assert on_ray.kinds() == single.kinds()


def test_a_burst_of_four_reaches_both_replicas(ray_server, short):
    results: dict[int, object] = {}

    def one(seed: int) -> None:
        results[seed] = score(ray_server.address, request(clip(short), seed=seed), token=TOKEN, timeout=300)

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(200, 204)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=400)
    assert sorted(results) == [200, 201, 202, 203]
    for r in results.values():
        assert r.kinds()[-1] == "manifest" and not r.accepted.cached
    ids = {r.job_id for r in results.values()}
    where = replicas_of(ray_server.log())
    assert ids <= set(where), "every job names the replica it ran on"
    assert len({where[i] for i in ids}) == 2, f"one replica took all four: {[where[i] for i in ids]}"


def test_cancel_through_the_ingress_frees_the_replica_within_a_second(ray_server, long, short):
    s, md = stub(ray_server.address, TOKEN)
    first = s.Score(request(clip(long), seed=41), metadata=md, timeout=300)
    second = s.Score(request(clip(long), seed=42), metadata=md, timeout=300)
    first_id, second_id = running(first, "synth"), running(second, "synth")
    waiting = s.Score(request(clip(short), seed=43), metadata=md, timeout=300)
    assert next(waiting).accepted.queue_position == 1  # both replicas are busy
    time.sleep(0.2)
    cancelled_at = time.monotonic()
    assert s.CancelJob(pb.CancelJobRequest(job_id=first_id), metadata=md, timeout=10).found
    running(waiting)
    freed_s = time.monotonic() - cancelled_at
    assert freed_s < 1.0, f"the replica took {freed_s:.2f} s to take the next job after a cancel"
    assert_actionable(status_of(lambda: first), grpc.StatusCode.CANCELLED, "cancelled")
    assert s.CancelJob(pb.CancelJobRequest(job_id=second_id), metadata=md, timeout=10).found
    assert_actionable(status_of(lambda: second), grpc.StatusCode.CANCELLED, "cancelled")
    assert collect(waiting).events[-1].WhichOneof("event") == "manifest"


def test_uploads_cache_tokens_and_errors_behave_as_on_one_machine(server, ray_server, short):
    s, md = stub(ray_server.address, TOKEN)
    for wrong in ((), (("authorization", "Bearer not-the-token-at-all"),)):
        error = status_of(lambda wrong=wrong: s.Score(request(clip(short)), metadata=wrong, timeout=60))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
    data = short.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    header = pb.UploadChunk(header=pb.UploadHeader(filename="short.mp4", size=len(data), sha256=sha))
    ref = s.UploadMedia(iter([header, *(pb.UploadChunk(data=data[i:i + 65536]) for i in range(0, len(data), 65536))]),
                        metadata=md, timeout=60)
    assert ref.media_id == sha and s.HasMedia(pb.HasMediaRequest(sha256=sha), metadata=md, timeout=10).present
    by_id_request = request(clip(media_id=sha, source_in_s=0.5), seed=4343)
    by_id = score(ray_server.address, by_id_request, token=TOKEN, timeout=300)
    by_path = score(server.address, request(clip(short, source_in_s=0.5), seed=4343), timeout=300)
    assert not by_id.accepted.cached
    assert [by_id.sha256(x.name) for x in by_id.manifest.stems] == \
        [by_path.sha256(x.name) for x in by_path.manifest.stems]
    again = score(ray_server.address, by_id_request, token=TOKEN, timeout=300)
    assert again.accepted.cached and again.sha256("mix") == by_id.sha256("mix")  # the front's result cache
    bad_style = request(clip(short), style="no-such-style")
    assert_actionable(status_of(lambda: s.Score(bad_style, metadata=md, timeout=60)),
                      grpc.StatusCode.INVALID_ARGUMENT, "style")
    assert_actionable(status_of(lambda: s.Score(request(clip(media_id="0" * 64)), metadata=md, timeout=60)),
                      grpc.StatusCode.NOT_FOUND)


def test_a_killed_replica_fails_only_its_job_and_ray_brings_one_back(ray_server, long, short):
    s, md = stub(ray_server.address, TOKEN)
    doomed = s.Score(request(clip(long), seed=51), metadata=md, timeout=300)
    doomed_id = running(doomed, "synth")
    other = s.Score(request(clip(long, source_out_s=12.0), seed=52), metadata=md, timeout=300)
    other_id = running(other)
    where = replicas_of(ray_server.log())
    assert where[doomed_id] != where[other_id]
    pid = int(where[doomed_id].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    error = status_of(lambda: doomed)
    assert_actionable(error, grpc.StatusCode.UNAVAILABLE, "replica", "send the job again")
    assert collect(other).events[-1].WhichOneof("event") == "manifest"  # the other replica's job is untouched
    deadline = time.monotonic() + 180
    seed = 60
    while True:  # Ray replaces the dead replica: jobs reach a new process beside the survivor
        seed += 1
        result = score(ray_server.address, request(clip(short), seed=seed), token=TOKEN, timeout=300)
        assert result.kinds()[-1] == "manifest"
        now = replicas_of(ray_server.log())[result.job_id]
        if now not in (where[doomed_id], where[other_id]):
            break
        assert time.monotonic() < deadline, "no new replica took a job within 3 minutes"


@pytest.mark.parametrize("argv, words", [
    (["serve", "--ray", "local", "--replicas", "0"], "--replicas must be at least 1"),
    (["serve", "--ray", "local", "--gpus-per-replica", "-1"], "--gpus-per-replica must be 0"),
    (["batch", "no-such-folder", "--ray", "local"], "is not a folder"),
])
def test_bad_ray_flags_are_refused_in_words_before_ray_starts(tmp_path, argv, words):
    done = subprocess.run([sys.executable, "-m", "scorecut.cli.main", *argv], cwd=tmp_path, env=isolated_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and words in done.stderr, done.stderr


def test_a_watch_folder_with_jobs_2_runs_two_files_at_once_on_two_replicas(ray_server, tmp_path):
    from tests.helpers.videos import VideoSpec, make_video

    folder, staging = tmp_path / "watched", tmp_path / "staging"
    folder.mkdir()
    staging.mkdir()
    for i in range(4):
        made = make_video(staging / f"take{i}.mp4", VideoSpec(2.0, cuts_s=(0.9,), size=(96, 64), seed=500 + i))
        os.replace(made, folder / made.name)
    log_before = len(ray_server.log())
    watch = subprocess.run(
        [sys.executable, "-m", "scorecut.cli.main", "watch", str(folder), "--once", "--jobs", "2",
         "--server", ray_server.address, "--token", TOKEN, "--stable-seconds", "0.5"],
        env=isolated_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert watch.returncode == 0, watch.stderr[-3000:]
    assert "done: 4 scored, 0 skipped, 0 failed" in watch.stderr
    assert sorted(p.name for p in (folder / "scored").iterdir()) == [f"take{i}" for i in range(4)]

    # From the front's own log, in order: a job runs from "running on Ray replica R" to "streamed".
    log = ray_server.log()[log_before:]
    running_now: dict[str, str] = {}  # job -> replica
    overlaps = set()
    for line in log.splitlines():
        started = REPLICA_LINE.search(line)
        if started:
            running_now[started.group(1)] = started.group(2)
            if len(running_now) >= 2:
                overlaps.add(frozenset(running_now.values()))
            continue
        ended = re.search(r"job ([0-9a-f]{32}) streamed", line)
        if ended:
            running_now.pop(ended.group(1), None)
    assert len(REPLICA_LINE.findall(log)) == 4, log[-3000:]  # each file sent once
    assert any(len(replicas) == 2 for replicas in overlaps), f"never two jobs on two replicas at once:\n{log[-3000:]}"
