"""Streaming stems over loopback: Score's stem stream against plain gRPC byte streaming.

    .venv/bin/python bench/bench_streaming.py [--seconds 30] [--repeats 40]

A real `scorecut serve` scores a video once (which fills its result cache); then each timed Score
call of the same request is pure streaming: the accepted/analysis/plan events, every stem's PCM in
256 KiB chunks, and the manifest, over one warm channel per side. The baseline, measured in the same run, is a bare
gRPC server (a subprocess too) streaming the same number of bytes in the same chunk size from memory with no
protobuf wrapping. Ratio = Score throughput / bare throughput (goal >= 0.8). Also shown: the
Score stream read as raw messages, which leaves out the client's protobuf parsing (two extra
copies of the PCM in Python's protobuf) and so isolates what the server and the wire cost.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers: tests.helpers

from tests.helpers.servers import ServerProcess, free_port, isolated_env, wait_serving  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402

BARE = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
total, chunk = int(sys.argv[2]), int(sys.argv[3])
block = bytes(range(256)) * (chunk // 256)
def stream(request, context):
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n
handler = grpc.method_handlers_generic_handler("bench.Bytes", {
    "Stream": grpc.unary_stream_rpc_method_handler(stream, lambda b: b, lambda b: b)})
server = grpc.server(futures.ThreadPoolExecutor(4), handlers=[handler],
                     options=[("grpc.max_send_message_length", 16 << 20)])
h = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(h, server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
h.set("", health_pb2.HealthCheckResponse.SERVING)
time.sleep(3600)
"""


def channel(address: str):
    """One channel per side for the whole run, as a client keeps one (connection set-up aside)."""
    import grpc

    return grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 16 << 20)])


def receive_score(ch, req) -> tuple[float, int, bool]:
    from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

    stub = pb_grpc.ScorecutStub(ch)
    began = time.perf_counter()
    buffers: dict[str, bytearray] = {}
    cached = False
    for event in stub.Score(req, timeout=600):
        kind = event.WhichOneof("event")
        if kind == "chunk":
            buffers.setdefault(event.chunk.stem, bytearray()).extend(event.chunk.pcm)
        elif kind == "accepted":
            cached = event.accepted.cached
    return time.perf_counter() - began, sum(map(len, buffers.values())), cached


def receive_score_raw(ch, req) -> float:
    """The same Score stream read as raw messages (no protobuf parsing on the client)."""
    from scorecut.v1 import scorecut_pb2 as pb

    call = ch.unary_stream("/scorecut.v1.Scorecut/Score", request_serializer=pb.ScoreRequest.SerializeToString,
                           response_deserializer=lambda b: b)
    began = time.perf_counter()
    buf = bytearray()
    for data in call(req, timeout=600):
        buf.extend(data)
    return time.perf_counter() - began


def receive_bare(ch) -> tuple[float, int]:
    call = ch.unary_stream("/bench.Bytes/Stream", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    began = time.perf_counter()
    buf = bytearray()
    for data in call(b"", timeout=600):
        buf.extend(data)
    return time.perf_counter() - began, len(buf)


def main() -> int:
    from scorecut.server.pcm import CHUNK_BYTES
    from scorecut.v1 import scorecut_pb2 as pb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="video and output length")
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clip = make_video(root / "bench.mp4", VideoSpec(duration_s=args.seconds, cuts_s=(args.seconds / 3,),
                                                         size=(96, 54), fps=10))
        (root / "home").mkdir()
        server = ServerProcess(free_port(), root / "home", root, []).start()
        bare_port = free_port()
        bare = None
        try:
            req = pb.ScoreRequest(clips=[pb.Clip(path=str(clip))], options=pb.ScoreOptions(seed=1))
            score_channel = channel(server.address)
            first_s, total, _ = receive_score(score_channel, req)  # runs the model, fills the cache
            bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port), str(total), str(CHUNK_BYTES)],
                                    env=isolated_env(root / "home"))
            wait_serving(f"127.0.0.1:{bare_port}", proc=bare)
            bare_channel = channel(f"127.0.0.1:{bare_port}")
            receive_score(score_channel, req), receive_bare(bare_channel)  # warm both connections
            ours, theirs, raw = [], [], []
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                seconds, size, cached = receive_score(score_channel, req)
                assert cached and size == total
                ours.append(seconds)
                raw.append(receive_score_raw(score_channel, req))
                seconds, size = receive_bare(bare_channel)
                assert size == total
                theirs.append(seconds)
            score_channel.close(), bare_channel.close()
        finally:
            server.stop()
            if bare is not None:
                bare.terminate()
                bare.wait()
    s, b = statistics.median(ours), statistics.median(theirs)
    mb = total / 1e6
    # The minimum is the least disturbed run of each: on a shared machine it is the steadier estimate.
    print(f"best runs: Score {min(ours) * 1000:.0f} ms, bare {min(theirs) * 1000:.0f} ms, "
          f"ratio {min(theirs) / min(ours):.2f}")
    print(f"stems: {mb:.1f} MB of PCM (mix + 4 stems, {args.seconds:g} s, 48 kHz stereo s24le); "
          f"first (uncached) job {first_s:.2f} s")
    print(f"Score stem streaming (cached): median {s * 1000:.0f} ms = {mb / s:.0f} MB/s over {args.repeats} runs")
    print(f"bare gRPC byte streaming:      median {b * 1000:.0f} ms = {mb / b:.0f} MB/s")
    print(f"ratio Score / bare throughput: {b / s:.2f} (goal >= 0.8)")
    r = statistics.median(raw)
    print(f"Score read as raw messages (server and wire only, no client parsing): median {r * 1000:.0f} ms, "
          f"ratio {b / r:.2f}; best {min(theirs) / min(raw):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
