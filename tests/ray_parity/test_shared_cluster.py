"""Two Scorecut fronts on one Ray cluster: each keeps its own replicas (its own Serve application)."""

from __future__ import annotations

import re

import grpc

from scorecut.v1 import scorecut_pb2 as pb
from tests.helpers.server_calls import assert_actionable, clip, request, score, status_of, stub

REPLICA_LINE = re.compile(r"job ([0-9a-f]{32}) running on Ray replica (\S+)")
APPLICATION_LINE = re.compile(r"Serve application '([^']+)'")


def running(events) -> str:
    """Read a Score stream until its job is synthesising; returns the job id."""
    for event in events:
        if event.WhichOneof("event") == "progress" and event.progress.stage.startswith("synth"):
            return event.job_id
    raise AssertionError("the stream ended before the job ran")


def test_a_second_front_on_the_cluster_leaves_the_first_its_replicas(server, fresh_server, long, short):
    other = fresh_server()  # one replica, deployed while the shared server's two run
    names = {APPLICATION_LINE.search(srv.log()).group(1) for srv in (server, other)}
    assert names == {f"scorecut-{server.port}", f"scorecut-{other.port}"}, names
    s, _ = stub(server.address)
    first = s.Score(request(clip(long), seed=71), timeout=300)
    second = s.Score(request(clip(long), seed=72), timeout=300)
    ids = running(first), running(second)  # both run at once: the shared server still has two replicas
    where = dict(REPLICA_LINE.findall(server.log()))
    assert where[ids[0]] != where[ids[1]], "the second front's deployment replaced the first's replicas"
    assert score(other.address, request(clip(short), seed=73), timeout=300).kinds()[-1] == "manifest"
    for job_id, call in zip(ids, (first, second), strict=True):
        assert s.CancelJob(pb.CancelJobRequest(job_id=job_id), timeout=10).found
        assert_actionable(status_of(lambda call=call: call), grpc.StatusCode.CANCELLED, "cancelled")
    other.stop()  # removes its own application only
    assert score(server.address, request(clip(short), seed=74), timeout=300).kinds()[-1] == "manifest"


def test_getinfo_names_the_replicas_device(server):
    """The front asks a replica where models run (the head may have no GPU while the replicas do).
    On this CPU-only machine both are the CPU: the front's start line says it was asked."""
    info = stub(server.address)[0].GetInfo(pb.GetInfoRequest(), timeout=30)
    assert info.device == "cpu"
    assert "models on cpu" in server.log()
