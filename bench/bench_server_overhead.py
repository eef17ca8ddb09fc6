"""End to end through the server against the same pipeline called in-process.

    .venv/bin/python bench/bench_server_overhead.py [--seconds 12] [--repeats 3]

Server: a real `scorecut serve` subprocess on loopback; the time runs from sending Score to the
last stem byte and the manifest received. In-process: `models.pipeline.score_segment` with the
same model, segment and options in this process (float stems in memory). Both do the whole job
every time: each repetition moves the in point by a millisecond, so neither the result cache nor
the analysis reuse applies, and the two sides get identical requests. One warm-up job each first
(imports, model construction). Ratio = server / in-process (goal <= 1.1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers: tests.helpers

from tests.helpers.servers import ServerProcess, free_port  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402


def through_server(address: str, path: Path, source_in_s: float, seed: int) -> float:
    import grpc

    from scorecut.v1 import scorecut_pb2 as pb
    from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

    req = pb.ScoreRequest(clips=[pb.Clip(path=str(path), source_in_s=source_in_s)],
                          options=pb.ScoreOptions(seed=seed))
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 16 << 20)]) as channel:
        began = time.perf_counter()
        received = 0
        for event in pb_grpc.ScorecutStub(channel).Score(req, timeout=600):
            if event.WhichOneof("event") == "chunk":
                received += len(event.chunk.pcm)
            elif event.WhichOneof("event") == "accepted":
                assert not event.accepted.cached
        assert received > 0
        return time.perf_counter() - began


def in_process(path: Path, source_in_s: float, seed: int, duration_s: float) -> tuple[float, float]:
    """Seconds for score_segment, and for turning its stems into 24-bit PCM afterwards (what a
    caller writing WAV files in-process would also pay; reported apart, not in the ratio)."""
    from scorecut.models.interface import Clip, ScoreOptions, Segment
    from scorecut.models.pipeline import score_segment
    from scorecut.models.registry import load_model
    from scorecut.server import pcm

    began = time.perf_counter()
    length = duration_s - source_in_s
    segment = Segment((Clip(str(path), source_in_s, duration_s, 0.0, length, path.name),), length)
    _, finished = score_segment(segment, ScoreOptions(seed=seed), load_model("composer"))
    scored = time.perf_counter()
    for audio in (finished.mix, *finished.stems.values()):
        pcm.encode(audio, "s24le")
    return scored - began, time.perf_counter() - scored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="video length")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clip = make_video(root / "bench.mp4", VideoSpec(duration_s=args.seconds, cuts_s=(3.1, 7.4, 9.9),
                                                         size=(320, 180), fps=25))
        (root / "home").mkdir()
        server = ServerProcess(free_port(), root / "home", root, []).start()
        try:
            through_server(server.address, clip, 0.0, 999)  # warm-up
            in_process(clip, 0.0, 999, args.seconds)
            ours, theirs, encoding = [], [], []
            for i in range(1, args.repeats + 1):  # interleaved, so both see the same machine load
                ours.append(through_server(server.address, clip, i * 0.001, i))
                scored, encoded = in_process(clip, i * 0.001, i, args.seconds)
                theirs.append(scored)
                encoding.append(encoded)
        finally:
            server.stop()
    s, p = statistics.median(ours), statistics.median(theirs)
    print(f"{args.seconds:g} s video, 320x180, composer, mix + 4 stems, {args.repeats} runs each")
    print(f"through the server (loopback, s24le PCM received): median {s:.3f} s  {[round(x, 3) for x in ours]}")
    print(f"in-process score_segment:                         median {p:.3f} s  {[round(x, 3) for x in theirs]}")
    print(f"ratio server / in-process: {s / p:.3f}x (goal <= 1.1)")
    # The minimum is the least disturbed run of each: on a shared machine it is the steadier estimate.
    print(f"best runs: server {min(ours):.3f} s, in-process {min(theirs):.3f} s, ratio {min(ours) / min(theirs):.3f}x")
    e = statistics.median(encoding)
    print(f"of which unavoidable for any WAV output: 24-bit PCM of the 5 stems in-process takes {e:.3f} s; "
          f"server / (in-process + that) = {s / (p + e):.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
