"""Analysis time against a plain threaded PyAV decode of the same 60 s 1080p30 H.264 file.

Run: /work/main/.venv/bin/python bench/bench_analysis.py [--repeats 3] [--seconds 60]
The test file is generated once and cached under /tmp. Both timings come from the same run,
interleaved, so the printed ratio compares like with like on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.videos lives in the repo

from tests.videos import Transition, VideoSpec, make_video  # noqa: E402


def bench_file(seconds: float, preset: str = "medium") -> Path:
    """A 1080p30 H.264 file with cuts, a dissolve, motion and speech audio (cached).

    x264 "medium" (the encoder default: B-frames, deblocking) is what real exports look like.
    """
    path = Path(f"/tmp/scorecut_bench_1080p30_{int(seconds)}s_{preset}.mp4")
    if not path.exists():
        spec = VideoSpec(
            duration_s=seconds,
            cuts_s=tuple(t for t in (7.3, 15.1, 22.8, 31.4, 44.0, 52.6) if t < seconds - 1),
            transitions=tuple(Transition(t, "dissolve", 1.0) for t in (38.0,) if t < seconds - 1),
            fps=30, size=(1920, 1080), motion=2.0, audio="speech",
            speech_spans_s=((3.0, min(12.0, seconds)),), gop=250, x264_preset=preset,
        )
        tmp = path.with_suffix(".tmp.mp4")
        t0 = time.perf_counter()
        make_video(tmp, spec)
        tmp.rename(path)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def plain_decode(path: Path) -> int:
    """The baseline: every video frame decoded, threaded, nothing else."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        n = 0
        for _frame in container.decode(stream):
            n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    path = bench_file(args.seconds)

    from scorecut.models.analysis import analyze_file

    decode_s, analyse_s, decode_cpu, analyse_cpu = [], [], [], []
    for r in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        n = plain_decode(path)
        decode_s.append(time.perf_counter() - t0)
        decode_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        result = analyze_file(path)
        analyse_s.append(time.perf_counter() - t0)
        analyse_cpu.append(time.process_time() - c0)
        print(f"repeat {r + 1}: decode {decode_s[-1]:.2f} s wall / {decode_cpu[-1]:.2f} s cpu ({n} frames), "
              f"analysis {analyse_s[-1]:.2f} s wall / {analyse_cpu[-1]:.2f} s cpu "
              f"({len(result.cuts_s)} cuts, {len(result.visual_beats_s)} visual beats)", flush=True)
    d, a = statistics.median(decode_s), statistics.median(analyse_s)
    dc, ac = statistics.median(decode_cpu), statistics.median(analyse_cpu)
    print(f"median plain threaded decode: {d:.2f} s wall, {dc:.2f} s cpu; median analysis: {a:.2f} s wall, "
          f"{ac:.2f} s cpu")
    print(f"ratio analysis/decode = {a / d:.2f}x wall, {ac / dc:.2f}x cpu (goal <= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
