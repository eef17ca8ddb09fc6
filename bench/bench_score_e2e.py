"""`scorecut score` end to end on the 60 s 1080p30 H.264 bench file, with CPU time beside wall time.

The machine is shared, so wall time is noisy; CPU time (user + sys) is the steadier measure of
the work done. For each run this prints the wall time and times real time, the CPU seconds the
server spent on the job (read from /proc for all its threads), the CPU of the `scorecut score`
client process, and the server's log of how long the job ran. Each run has a fresh server, so
each analyses the video (a server keeps recent analyses: a second take of the same clip skips
it; `--same-server` measures that). With `--stages` it also runs one
job in-process, stage by stage (analysis, compose, post-processing, writing the results the
server streams), each stage's CPU and wall time.

Run: .venv/bin/python bench/bench_score_e2e.py [--repeats 3] [--code DIR] [--stages] [--same-server]
`--code DIR` scores with another checkout (a `git worktree` of an older commit: before/after in
one run). The bench file is bench_analysis.py's (made once, cached under /tmp).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_analysis import bench_file  # noqa: E402  (the shared bench file)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _start_server(exe: list[str], tmp: str, media_root: Path) -> tuple[subprocess.Popen, int]:
    """A server on a free port, once it listens and its warm-up (imports, the composer) is done."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*exe, "serve", "--port", str(port), "--cache-dir", f"{tmp}/cache",
                               "--media-root", str(media_root), "--log-level", "INFO"],
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)
    while time.monotonic() < deadline:  # warm-up runs on the worker thread after the port opens
        c0 = cpu_of(server.pid)
        time.sleep(0.5)
        if cpu_of(server.pid) - c0 < 0.02:
            break
    return server, port


def _stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    _, err = server.communicate(timeout=60)
    for line in err.splitlines():
        if " ran in " in line:
            print("  server:", line.split("scorecut.server", 1)[-1].strip(" :-"))


def end_to_end(path: Path, repeats: int, code: str | None, same_server: bool) -> None:
    """Each run scores the file once. A fresh server per run (the default) makes every run analyse
    the video; with `same_server` runs after the first reuse the server's analysis of it (only the
    seed differs), which is what a second take of the same clip costs."""
    exe = [sys.executable, str(ROOT / "bench" / "bench_analysis.py"), *(["--code", code] if code else []), "--cli"]
    import av

    with av.open(str(path)) as c:
        duration = float(c.duration) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        try:
            for r in range(repeats):
                if server is None or not same_server:
                    if server is not None:
                        _stop_server(server)
                    server, port = _start_server(exe, f"{tmp}/s{r}", path.parent)
                s0, c0, t0 = cpu_of(server.pid), children_cpu(), time.perf_counter()
                client = subprocess.Popen([*exe, "score", str(path), "--server", f"127.0.0.1:{port}", "--out-dir",
                                           f"{tmp}/out{r}", "--seed", str(r + 1)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                seen: dict[str, float] = {}  # the client's progress lines: when each stage was first reported
                for line in client.stderr:
                    stage = line.rsplit("%", 1)[-1].split("(")[0].strip()
                    if "%" in line and stage and stage not in seen:
                        seen[stage] = time.perf_counter() - t0
                if client.wait() != 0:
                    raise RuntimeError("scorecut score failed")
                wall = time.perf_counter() - t0
                server_cpu, client_cpu = cpu_of(server.pid) - s0, children_cpu() - c0
                total = server_cpu + client_cpu
                print(f"run {r + 1}: wall {wall:.2f} s = {duration / wall:.2f}x real time; CPU server "
                      f"{server_cpu:.2f} s + client {client_cpu:.2f} s = {total:.2f} s "
                      f"(real time / CPU time {duration / total:.2f}x)", flush=True)
                print("  client saw, seconds from its start: " + ", ".join(f"{k} {v:.2f}" for k, v in seen.items())
                      + f", exit {wall:.2f}", flush=True)
        finally:
            if server is not None:
                _stop_server(server)


def stages(path: Path) -> None:
    """One job in-process: each stage's CPU (process) and wall seconds."""
    import av

    from scorecut.models.analysis import analyze_segment
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.interface import Clip, ScoreOptions, Segment
    from scorecut.models.post import finish

    with av.open(str(path)) as c:
        duration = float(c.duration) / 1e6
    segment = Segment(clips=(Clip(path=str(path), source_in_s=0.0, source_out_s=duration, record_start_s=0.0,
                                  record_end_s=duration),), duration_s=duration)
    options = ScoreOptions(seed=1)
    model = ComposerModel()

    def timed(label, fn):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        print(f"  {label:<10} CPU {time.process_time() - c0:6.2f} s   wall {time.perf_counter() - t0:6.2f} s",
              flush=True)
        return out

    analysis = timed("analysis", lambda: analyze_segment(segment))
    output = timed("compose", lambda: model.compose(segment, analysis, options))
    finished = timed("post", lambda: finish(output, analysis, options, consume=True))
    from scorecut.server.pcm import DEFAULT_SAMPLE_FORMAT
    from scorecut.server.results import encode_result

    with tempfile.TemporaryDirectory() as tmp:
        def encode_all():
            result = encode_result(analysis, finished, options.stems, DEFAULT_SAMPLE_FORMAT, duration, Path(tmp))
            result.settle()
            result.close()

        timed("results", encode_all)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--code", default=None, help="a checkout to score with (before/after)")
    parser.add_argument("--stages", action="store_true", help="also time each stage of one job in-process")
    parser.add_argument("--same-server", action="store_true",
                        help="one server for all runs (runs after the first reuse its analysis)")
    args = parser.parse_args()
    path = bench_file(args.seconds)
    end_to_end(path, args.repeats, args.code, args.same_server)
    if args.stages:
        stages(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
