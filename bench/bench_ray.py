"""Scorecut on Ray: the ingress's overhead against the single-node server, and 2 replicas vs 1.

    .venv/bin/python bench/bench_ray.py [--seconds 4] [--repeats 15] [--burst 8]

Overhead: the same job (a made video, the in point moved by a millisecond per repetition so no
cache applies; identical requests on both sides) sent one at a time to a single-node `scorecut
serve` and to `scorecut serve --ray local --replicas 1`, alternating; time from sending Score to the
manifest. Ratio = Ray / single node: the median of the paired ratios, and of the medians (goal <=
1.1). Beside the wall time, the CPU seconds each job cost the server's whole process tree (the
single-node server; the Ray front, its replica and Ray's own processes): a load on the machine
from other work stretches wall times, not CPU seconds.
Throughput: a burst of `--burst` short jobs sent at once to `--ray local --replicas 1`, then to
`--replicas 2` (each a fresh local Ray head with this machine's CPUs); ratio = jobs/s with 2 / with 1
(goal >= 1.7 where the cores allow). One warm-up job per server first. The CPU the burst cost, per
job, is split into the replicas' (R), the head's (front + Ray's processes, H) and this client's (K):
H's share is what the head takes from the replicas, and C cores finish at most C/(R+H+K) jobs/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers: tests.helpers

from tests.helpers.servers import ServerProcess, free_port, isolated_env, wait_serving  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402


def tree_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of process `pid` and its descendants, by role: "replica"
    (a Ray Serve replica), "head" (everything else: the front, Ray's own processes)."""
    import psutil

    out = {"replica": 0.0, "head": 0.0}
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            role = "replica" if "ServeReplica" in " ".join(proc.cmdline()) else "head"
        except psutil.Error:  # ended meanwhile
            continue
        out[role] += times.user + times.system
    return out


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


def one_job(address: str, path: Path, source_in_s: float, seed: int) -> float:
    import grpc

    from scorecut.v1 import scorecut_pb2 as pb
    from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

    req = pb.ScoreRequest(clips=[pb.Clip(path=str(path), source_in_s=source_in_s)], options=pb.ScoreOptions(seed=seed))
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 16 << 20)]) as channel:
        began = time.perf_counter()
        last = None
        for event in pb_grpc.ScorecutStub(channel).Score(req, timeout=900):
            last = event.WhichOneof("event")
            if last == "accepted":
                assert not event.accepted.cached
        assert last == "manifest"
        return time.perf_counter() - began


def start(home: Path, media: Path, *args: str) -> ServerProcess:
    import subprocess

    home.mkdir(parents=True, exist_ok=True)
    srv = ServerProcess(free_port(), home, media, list(args))
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "127.0.0.1", "--port", str(srv.port),
           "--media-root", str(media), "--max-queue", "64", *args]  # a whole burst may wait
    srv.proc = subprocess.Popen(cmd, env=isolated_env(home), stdout=open(srv.log_path, "ab"),
                                stderr=subprocess.STDOUT)
    wait_serving(srv.address, timeout_s=300, proc=srv.proc)
    return srv


def stop(srv: ServerProcess) -> None:
    srv.proc.terminate()
    srv.proc.wait(timeout=120)


def burst(address: str, path: Path, count: int, seed0: int) -> float:
    """Seconds until all `count` jobs sent at once have finished."""
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            one_job(address, path, 0.001 * i, seed0 + i)
        except BaseException as e:  # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the overhead job's video")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--burst", type=int, default=8, help="short jobs sent at once")
    args = parser.parse_args()
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        root = Path(tmp)
        job = make_video(root / "job.mp4", VideoSpec(duration_s=args.seconds, cuts_s=(args.seconds / 2.7,),
                                                     size=(128, 72)))
        short = make_video(root / "short.mp4", VideoSpec(duration_s=1.5, cuts_s=(0.7,), size=(96, 54), seed=3))
        print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f}", flush=True)

        single = start(root / "single", root)
        on_ray = start(root / "ray1", root, "--ray", "local", "--replicas", "1")
        try:
            one_job(single.address, job, 0.0, 1)
            one_job(on_ray.address, job, 0.0, 1)
            times = {"single": [], "ray": []}
            cpu = {"single": [], "ray": []}
            for r in range(args.repeats):
                for name, srv in (("single", single), ("ray", on_ray)):
                    before = tree_cpu_s(srv.proc.pid)
                    times[name].append(one_job(srv.address, job, 0.001 * (r + 1), 7))
                    cpu[name].append(sum(spent(before, tree_cpu_s(srv.proc.pid)).values()))
            one, one_cpu = burst_with_cpu(on_ray, short, args.burst, 1000)
        finally:
            stop(single)
            stop(on_ray)
        med = {k: statistics.median(v) for k, v in times.items()}
        paired = statistics.median(r / s for r, s in zip(times["ray"], times["single"], strict=True))
        cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
        print(f"overhead, {args.seconds:g} s job x{args.repeats}: single node median {med['single']:.3f} s, Ray "
              f"ingress median {med['ray']:.3f} s; ratio: paired median {paired:.2f}x, of medians "
              f"{med['ray'] / med['single']:.2f}x; server CPU per job single {cpu_med['single'] * 1e3:.0f} ms, "
              f"Ray {cpu_med['ray'] * 1e3:.0f} ms ({cpu_med['ray'] / cpu_med['single']:.2f}x)", flush=True)

        two_srv = start(root / "ray2", root, "--ray", "local", "--replicas", "2")
        try:
            one_job(two_srv.address, short, 0.0, 1)
            one_job(two_srv.address, short, 0.0, 2)
            two, two_cpu = burst_with_cpu(two_srv, short, args.burst, 2000)
        finally:
            stop(two_srv)
        print(f"throughput, burst of {args.burst} x 1.5 s jobs on {cores} cores: 1 replica {one:.2f} s "
              f"({args.burst / one:.2f} jobs/s), 2 replicas {two:.2f} s ({args.burst / two:.2f} jobs/s); "
              f"ratio {one / two:.2f}x", flush=True)
        r, h, k = (two_cpu[x] / args.burst for x in ("replica", "head", "client"))
        print(f"CPU per job with 2 replicas: replica {r * 1e3:.0f} ms, head {h * 1e3:.0f} ms (front + Ray), client "
              f"{k * 1e3:.0f} ms: the head's share {h / (r + h + k):.0%}; all {cores} cores at most "
              f"{cores / (r + h + k):.1f} jobs/s (1 replica: replica {one_cpu['replica'] / args.burst * 1e3:.0f} ms, "
              f"head {one_cpu['head'] / args.burst * 1e3:.0f} ms per job)", flush=True)
    return 0


def burst_with_cpu(srv: ServerProcess, path: Path, count: int, seed0: int) -> tuple[float, dict[str, float]]:
    """The burst's seconds, and the CPU seconds it cost the server's tree and this client."""
    before, client = tree_cpu_s(srv.proc.pid), time.process_time()
    took = burst(srv.address, path, count, seed0)
    used = spent(before, tree_cpu_s(srv.proc.pid))
    used["client"] = time.process_time() - client
    return took, used


if __name__ == "__main__":
    sys.exit(main())
