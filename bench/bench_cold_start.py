"""Cold start of `scorecut serve` to SERVING, and the memory of an idle server.

    .venv/bin/python bench/bench_cold_start.py [--runs 5]

Baseline, measured in the same run: a bare Python gRPC server with only the health service,
started the same way (a fresh interpreter). Ratio = scorecut start / bare start. Memory is the
resident set (VmRSS) of the idle server right after SERVING and again once its worker has
prepared the default model in the background, each also as a ratio to the bare server's VmRSS
right after SERVING.
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

from tests.helpers.servers import free_port, isolated_env  # noqa: E402

BARE = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(8))
h = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(h, server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
h.set("", health_pb2.HealthCheckResponse.SERVING)
time.sleep(600)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_serving(port: int, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    # Short reconnect backoff: the default (1 s) would dominate what we measure.
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
        ("grpc.initial_reconnect_backoff_ms", 10), ("grpc.min_reconnect_backoff_ms", 10),
        ("grpc.max_reconnect_backoff_ms", 20)])
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if stub.Check(health_pb2.HealthCheckRequest(), timeout=0.2).status == 1:
                channel.close()
                return
        except grpc.RpcError:
            time.sleep(0.01)
    raise TimeoutError("no SERVING answer")


def start(cmd: list[str], port: int, home: Path) -> tuple[float, subprocess.Popen]:
    began = time.monotonic()
    proc = subprocess.Popen(cmd, env=isolated_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_serving(port, proc)
    return time.monotonic() - began, proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait for the warm-up model")
    args = parser.parse_args()
    ours, bare, rss_ready, rss_warm, rss_bare = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for run in range(args.runs):
            port = free_port()
            seconds, proc = start([sys.executable, "-c", BARE, str(port)], port, home)
            bare.append(seconds)
            rss_bare.append(rss_mb(proc.pid))
            stop(proc)
            port = free_port()
            cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--port", str(port),
                   "--media-root", str(home)]
            seconds, proc = start(cmd, port, home)
            ours.append(seconds)
            rss_ready.append(rss_mb(proc.pid))
            if run == 0:  # once: the steady idle state after the worker prepared the model
                time.sleep(args.settle)
                rss_warm.append(rss_mb(proc.pid))
            stop(proc)
    s, b = statistics.median(ours), statistics.median(bare)
    print(f"scorecut serve to SERVING: median {s:.3f} s over {args.runs} runs "
          f"(min {min(ours):.3f}, max {max(ours):.3f})")
    print(f"bare gRPC health server:   median {b:.3f} s")
    print(f"ratio scorecut / bare: {s / b:.2f}x")
    rb, rr = statistics.median(rss_bare), statistics.median(rss_ready)
    print(f"idle RSS right after SERVING: {rr:.0f} MB ({rr / rb:.2f}x the bare server's {rb:.0f} MB); "
          f"idle after preparing the default model ({args.settle:.0f} s): {rss_warm[0]:.0f} MB "
          f"({rss_warm[0] / rb:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
