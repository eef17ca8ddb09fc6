"""`scorecut batch --ray` against the watch folder on the single-node server, on the same folder.

    .venv/bin/python bench/bench_ray_batch.py [--clips 8] [--seconds 4]

One folder of N distinct clips is scored three times, each time from scratch (a fresh journal,
fresh takes, a fresh result cache, so every job runs its model):
1. `scorecut watch --once --jobs 1` against a single-node server already running (the baseline);
2. `scorecut batch --ray ADDR --jobs 1` on a Ray head already running (2 CPUs, loopback);
3. the same batch with `--jobs 2`.
Reported: each run's wall time (process start to exit, Ray connection included) and the driver's
own "batch done in" time (from its first file to its last take), as ratios against the baseline
measured in the same run. Every take of the batches is checked to be byte for byte the watch
folder's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers: tests.helpers

from tests.helpers.servers import ServerProcess, free_port, isolated_env  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402

RAY = Path(sys.executable).with_name("ray")
SCORECUT = [sys.executable, "-m", "scorecut.cli.main"]
DONE = re.compile(r"batch done in ([0-9.]+) s")


def _ray_head(home: Path) -> tuple[subprocess.Popen, str, dict]:
    env = isolated_env(home) | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # one node, all on loopback
    port = free_port()
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address",
                             "127.0.0.1", "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats", "--ray-client-server-port", str(free_port()),
                             "--dashboard-agent-listen-port", str(free_port())],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while subprocess.run([str(RAY), "status", "--address", address], env=env, capture_output=True).returncode:
        if head.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Ray head did not come up")
        time.sleep(1)
    return head, address, env


def _fresh(folder: Path) -> None:
    for name in ("scored", "failed", ".scorecut"):
        shutil.rmtree(folder / name, ignore_errors=True)


def _timed(cmd: list[str], env: dict) -> tuple[float, str]:
    began = time.monotonic()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    took = time.monotonic() - began
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:4])} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return took, run.stderr


def _same_takes(a: Path, b: Path) -> None:
    for take in sorted(p for p in a.iterdir() if not p.name.startswith(".")):
        for f in take.iterdir():
            if f.read_bytes() != (b / take.name / f.name).read_bytes():
                raise AssertionError(f"{take.name}/{f.name} differs between the watch folder and the batch")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scorecut-bench-ray-batch-") as tmp:
        work = Path(tmp)
        folder = work / "season"
        folder.mkdir()
        for i in range(args.clips):
            make_video(folder / f"clip{i}.mp4", VideoSpec(args.seconds, cuts_s=(args.seconds / 2.3,), size=(160, 90),
                                                          seed=900 + i))
        (work / "server-home").mkdir()
        server = ServerProcess(free_port(), work / "server-home", work, []).start()
        head, address, ray_env = _ray_head(work / "ray-home")
        try:
            watch_s, _ = _timed([*SCORECUT, "watch", str(folder), "--once", "--jobs", "1", "--server",
                                 server.address, "--stable-seconds", "0"], isolated_env(work / "client-home"))
            baseline = work / "watch-takes"
            shutil.move(folder / "scored", baseline)
            rows = []
            for jobs in (1, 2):
                _fresh(folder)
                took, log = _timed([*SCORECUT, "batch", str(folder), "--ray", address, "--jobs", str(jobs),
                                    "--cache-dir", str(work / f"cache-{jobs}")], ray_env)
                inner = float(DONE.search(log).group(1))
                _same_takes(baseline, folder / "scored")
                rows.append((jobs, took, inner))
        finally:
            head.terminate()
            head.wait(timeout=60)
            server.stop()
    print(f"{args.clips} clips of {args.seconds:g} s, composer, CPU, 2-CPU Ray head on loopback")
    print(f"watch --once --jobs 1 on the single-node server: {watch_s:.1f} s (baseline)")
    for jobs, took, inner in rows:
        print(f"batch --ray --jobs {jobs}: {took:.1f} s wall ({took / watch_s:.2f}x the baseline), "
              f"{inner:.1f} s first file to last take ({inner / watch_s:.2f}x)")
    print(f"--jobs 2 / --jobs 1 throughput (driver's time): {rows[0][2] / rows[1][2]:.2f}x")
    print("every batch take byte for byte the watch folder's: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
