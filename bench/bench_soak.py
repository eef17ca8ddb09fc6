"""Soak: many mixed calls against one server on loopback; the server must end as it started.

    .venv/bin/python bench/bench_soak.py [--jobs 200] [--clients 6] [--seconds 2]

One `scorecut serve` subprocess; `--clients` threads send `--jobs` calls, a mix of: fresh jobs,
repeats (cache hits), jobs cancelled with CancelJob once running, callers that hang up mid-job,
slow readers of a finished result, bad inputs (NUL byte, relative path, missing file, path outside
the media root, unknown style, negative record start, a duration under one sample, a file cut short)
and uploads (a whole one, and one whose bytes do not match its sha256). Every answer's status is
checked against what that kind of call must get (a full queue's RESOURCE_EXHAUSTED is accepted
for jobs, as "try again later"). The server's RSS, threads and open files are read from /proc at
the start (after one warm-up job), after the first half of the calls and at the end (each after
a second to settle); the ratios end / start and end / half (growth over the second half, once
lazily started thread pools are full) are the result. Exit status 1 when any answer was wrong or the server died.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers: tests.helpers

from tests.helpers.servers import ServerProcess, free_port  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402

KINDS = ("fresh", "repeat", "cancel", "hang_up", "slow_reader", "bad_nul", "bad_relative", "bad_missing",
         "bad_outside", "bad_style", "bad_record_start", "bad_tiny", "bad_truncated", "upload", "bad_upload")


def proc_stats(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    value = {key: rest.split()[0] for key, _, rest in (line.partition(":") for line in status) if rest.split()}
    return {"rss_mb": int(value["VmRSS"]) / 1024, "threads": int(value["Threads"]),
            "open_files": len(list(Path(f"/proc/{pid}/fd").iterdir()))}


class Soak:
    def __init__(self, address: str, media: dict, seconds: float):
        import grpc

        from scorecut.v1 import scorecut_pb2 as pb
        from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

        self.grpc, self.pb = grpc, pb
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 16 << 20)])
        self.stub = pb_grpc.ScorecutStub(self.channel)
        self.media = media
        self.seconds = seconds
        self.lock = threading.Lock()
        self.answers: Counter = Counter()
        self.wrong: list[str] = []

    def request(self, path, seed: int, **clip_fields):
        pb = self.pb
        options = clip_fields.pop("options", {})
        duration = clip_fields.pop("duration_s", self.seconds)
        return pb.ScoreRequest(clips=[pb.Clip(path=str(path), **clip_fields)], duration_s=duration,
                               options=pb.ScoreOptions(seed=seed, sample_rate=22_050, **options))

    def record(self, kind: str, code, allowed) -> None:
        with self.lock:
            self.answers[(kind, code.name)] += 1
            if code not in allowed:
                self.wrong.append(f"{kind}: {code.name}")

    def score(self, req, slow_s: float = 0.0, cancel_when_running: bool = False, hang_up: bool = False):
        """Status code of one Score call, read to its end (or cut as asked)."""
        sc = self.grpc.StatusCode
        call = self.stub.Score(req, timeout=300)
        try:
            for event in call:
                kind = event.WhichOneof("event")
                if kind == "progress" and event.progress.stage not in ("queued", "decode"):
                    if cancel_when_running:
                        self.stub.CancelJob(self.pb.CancelJobRequest(job_id=event.job_id), timeout=10)
                        cancel_when_running = False
                    if hang_up:
                        call.cancel()
                        return sc.CANCELLED
                if kind == "chunk" and slow_s:
                    time.sleep(slow_s)
            return sc.OK
        except self.grpc.RpcError as error:
            return error.code()

    def run(self, index: int, kind: str) -> None:
        sc = self.grpc.StatusCode
        busy = {sc.RESOURCE_EXHAUSTED}
        m = self.media
        if kind == "fresh":
            self.record(kind, self.score(self.request(m["good"], 1000 + index)), {sc.OK} | busy)
        elif kind == "repeat":
            self.record(kind, self.score(self.request(m["good"], 7)), {sc.OK} | busy)
        elif kind == "cancel":
            # Cancelled once running; a job that finished first (short jobs can) answers OK.
            code = self.score(self.request(m["good"], 5000 + index), cancel_when_running=True)
            self.record(kind, code, {sc.CANCELLED, sc.OK} | busy)
        elif kind == "hang_up":
            self.record(kind, self.score(self.request(m["good"], 9000 + index), hang_up=True),
                        {sc.CANCELLED, sc.OK} | busy)
        elif kind == "slow_reader":
            self.record(kind, self.score(self.request(m["good"], 7), slow_s=0.01), {sc.OK} | busy)
        elif kind == "bad_nul":
            self.record(kind, self.score(self.request(f"{m['root']}/a\0b.mp4", 1)), {sc.INVALID_ARGUMENT})
        elif kind == "bad_relative":
            self.record(kind, self.score(self.request("clips/a.mp4", 1)), {sc.INVALID_ARGUMENT})
        elif kind == "bad_missing":
            self.record(kind, self.score(self.request(f"{m['root']}/missing-{index}.mp4", 1)), {sc.NOT_FOUND})
        elif kind == "bad_outside":
            self.record(kind, self.score(self.request("/etc/hostname", 1)), {sc.PERMISSION_DENIED})
        elif kind == "bad_style":
            self.record(kind, self.score(self.request(m["good"], 1, options={"style": "no-such-style"})),
                        {sc.INVALID_ARGUMENT})
        elif kind == "bad_record_start":
            self.record(kind, self.score(self.request(m["good"], 1, record_start_s=-1.0)), {sc.INVALID_ARGUMENT})
        elif kind == "bad_tiny":
            self.record(kind, self.score(self.request(m["good"], 1, duration_s=1e-9)), {sc.INVALID_ARGUMENT})
        elif kind == "bad_truncated":
            self.record(kind, self.score(self.request(m["truncated"], 1)), {sc.INVALID_ARGUMENT})
        elif kind in ("upload", "bad_upload"):
            data = m["good"].read_bytes()
            sha = hashlib.sha256(data if kind == "upload" else b"other bytes").hexdigest()
            chunks = [self.pb.UploadChunk(header=self.pb.UploadHeader(filename="good.mp4", size=len(data), sha256=sha)),
                      self.pb.UploadChunk(data=data)]
            try:
                self.stub.UploadMedia(iter(chunks), timeout=60)
                code = sc.OK
            except self.grpc.RpcError as error:
                code = error.code()
            self.record(kind, code, {sc.OK} if kind == "upload" else {sc.INVALID_ARGUMENT})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0, help="music per job (short jobs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        good = root / "good.mp4"
        make_video(good, VideoSpec(duration_s=3.0, cuts_s=(1.5,), size=(128, 72)))
        whole = root / "whole.mkv"
        make_video(whole, VideoSpec(duration_s=10.0, size=(128, 72)))
        truncated = root / "truncated.mkv"
        truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 10])
        home = root / "home"
        home.mkdir()
        server = ServerProcess(free_port(), home, root, ["--max-queue", "8"]).start()
        try:
            soak = Soak(server.address, {"good": good, "truncated": truncated, "root": root}, args.seconds)
            soak.score(soak.request(good, 7))  # warm-up: the model built, imports done; later repeats hit the cache
            time.sleep(1.0)
            start = proc_stats(server.proc.pid)
            rng = random.Random(18)
            plan = [KINDS[i % len(KINDS)] for i in range(args.jobs)]
            rng.shuffle(plan)
            began = time.monotonic()
            stats = {"start": start}
            for name, part in (("half", plan[: len(plan) // 2]), ("end", plan[len(plan) // 2 :])):
                offset = 0 if name == "half" else len(plan) // 2
                with ThreadPoolExecutor(args.clients) as pool:
                    list(pool.map(soak.run, range(offset, offset + len(part)), part))
                time.sleep(1.0)
                alive = server.proc.poll() is None
                if not alive:
                    break
                stats[name] = proc_stats(server.proc.pid)
            took = time.monotonic() - began
        finally:
            server.stop()
    print(f"{args.jobs} calls from {args.clients} clients in {took:.1f} s; server alive at the end: {alive}")
    for (kind, code), n in sorted(soak.answers.items()):
        print(f"  {kind:16s} {code:18s} {n}")
    if "end" in stats:
        start, half, end = stats["start"], stats["half"], stats["end"]
        for key in ("rss_mb", "threads", "open_files"):
            print(f"  {key:10s} start {start[key]:7.1f}  after half {half[key]:7.1f}  end {end[key]:7.1f}  "
                  f"end/start {end[key] / start[key]:.2f}  end/half {end[key] / half[key]:.2f}")
    if soak.wrong:
        print(f"WRONG answers ({len(soak.wrong)}):", "; ".join(soak.wrong[:20]))
    return 0 if alive and not soak.wrong else 1


if __name__ == "__main__":
    sys.exit(main())
