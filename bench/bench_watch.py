"""Watch-folder benchmarks, against a real server on loopback.

    .venv/bin/python bench/bench_watch.py [--clips 50] [--latency-drops 5] [--stable-seconds 2]

1. Latency from a file's last write to its job starting, minus the stability window
   (goal: under 2 s plus the window). The watcher runs in-process with the real client; the
   moment it calls the server is taken from a thin wrapper around that client.
2. Throughput: N short clips scored by the watcher (--once) against the same clips scored one by
   one with `scorecut score` (one process per clip, as a shell loop would). Ratio = one-by-one
   time / watcher time (goal >= 1.0: the watcher adds no overhead).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers: tests.helpers

from scorecut.plugins.client import ScorecutClient  # noqa: E402
from scorecut.plugins.watchfolder import Watcher, WatchSettings  # noqa: E402
from tests.helpers.servers import ServerProcess, free_port, isolated_env  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402


class _TimedClient:
    """The real client, noting when each job is sent."""

    def __init__(self, client: ScorecutClient):
        self._client = client
        self.sent: list[float] = []

    def score(self, *args, **kwargs):
        self.sent.append(time.monotonic())
        return self._client.score(*args, **kwargs)


def _wait(condition, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(0.005)


def latency(address: str, clips: list[Path], work: Path, stable_s: float) -> list[float]:
    """One drop per clip. The clips must differ in content: the watcher's journal (rightly) does
    not score a file whose content it has already scored, so no job would ever start."""
    folder = work / "latency"
    folder.mkdir()
    timed = _TimedClient(ScorecutClient(address))
    watcher = Watcher(WatchSettings(folder=folder, server=address, stable_s=stable_s), client=timed)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    time.sleep(1.0)
    out = []
    for i, clip in enumerate(clips):
        dest = folder / f"drop{i}.mp4"
        with open(dest, "wb") as f:
            f.write(clip.read_bytes())  # the last write ends here
        last_write = time.monotonic()
        _wait(lambda i=i: len(timed.sent) > i, f"the job for {dest.name} to start")
        out.append(timed.sent[i] - last_write)
        _wait(lambda i=i: (folder / f"scored/drop{i}/score.json").exists(), f"scored/drop{i}/score.json")
    watcher.stop()
    thread.join(timeout=30)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--stable-seconds", type=float, default=2.0)
    parser.add_argument("--latency-drops", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    (work / "home").mkdir()
    srv = ServerProcess(free_port(), work / "home", work, []).start()
    try:
        def clip_set(prefix: str, seed0: int, n: int) -> list[Path]:
            return [make_video(work / f"{prefix}{i:02d}.mp4", VideoSpec(2.0, cuts_s=(1.0,), size=(96, 64),
                                                                         seed=seed0 + i))
                    for i in range(n)]

        lat = latency(srv.address, clip_set("lat", 10_000, args.latency_drops), work, args.stable_seconds)
        med = statistics.median(lat)
        print(f"latency last write -> job start over {len(lat)} drops: median {med:.2f} s, "
              f"max {max(lat):.2f} s {[round(x, 2) for x in lat]} (stability window {args.stable_seconds:.1f} s; "
              f"over the window: median {med - args.stable_seconds:.2f} s, max {max(lat) - args.stable_seconds:.2f} s; "
              f"goal < 2 s)")

        # Each side gets its own clips (same spec, other seeds) and its own seed, so neither the
        # server's result cache nor its reuse of recent analyses (keyed by content) helps either side.
        clips, watched_clips = clip_set("c", 0, args.clips), clip_set("w", 1_000, args.clips)
        one_by_one = work / "one-by-one"
        t0 = time.monotonic()
        for clip in clips:
            subprocess.run([sys.executable, "-m", "scorecut.cli.main", "score", str(clip), "--server",
                            srv.address, "--seed", "1", "--out-dir", str(one_by_one)], check=True,
                           env=isolated_env(work / "home"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_cli = time.monotonic() - t0

        folder = work / "watched"
        folder.mkdir()
        (folder / "scorecut.toml").write_text("seed = 2\n")
        for clip in watched_clips:
            shutil.copyfile(clip, folder / clip.name)
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "scorecut.cli.main", "watch", str(folder), "--once",
                        "--server", srv.address, "--stable-seconds", "0"], check=True,
                       env=isolated_env(work / "home"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_watch = time.monotonic() - t0
        done_cli = len(list(one_by_one.glob("*/score.json")))
        done_watch = len(list((folder / "scored").glob("*/score.json")))
        failed = list((folder / "failed").glob("*"))
        assert done_cli == done_watch == args.clips and not failed, (done_cli, done_watch, failed)
        print(f"{args.clips} clips: one by one with `scorecut score` {t_cli:.1f} s, watcher --once {t_watch:.1f} s, "
              f"ratio {t_cli / t_watch:.2f}x (goal >= 1.0)")
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
