"""Composer speed and memory: seconds of 4-stem 48 kHz audio per second of wall time, and the
peak memory of a 10-minute segment.

    .venv/bin/python bench/bench_composer.py [--seconds 60] [--long-minutes 10] [--style electronic]
                                             [--baseline REV]

Baseline measured in the same run: the throughput of the plainest possible synthesizer (numpy
writes one sine per stem, 4 stereo stems, float32): the composer's speed is also printed as a
ratio against it. The analyses are built synthetically (cuts every 1.5-6 s at random, moderate
motion), since the composer's cost does not depend on how the cuts were found; the 10-minute
case runs in a child process so its peak RSS (ru_maxrss) is its own. The child then also runs
`post.finish(consume=True)` on the composed stems, as `models.pipeline.score_segment` does for a
job, and prints the peak after it: the composer's peak and the whole model-side job's peak.
With `--baseline REV`, each style's compose time is also measured with the code at that git
revision (bench/code_at.py), in child processes taking turns with the working tree's, and the
10-minute job's peak memory too (a child with the code at REV, then one with the working tree).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

SR = 48_000


def synthetic_analysis(duration_s: float, seed: int = 0):
    from scorecut.models.analysis.types import VideoAnalysis

    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.uniform(1.5, 6.0, int(duration_s / 1.5) + 2))
    cuts = cuts[cuts < duration_s - 1.0]
    fps = 10.0
    t = np.arange(0, duration_s, 1 / fps)
    n = len(t)
    motion = np.clip(0.3 + 0.2 * np.sin(t / 20.0) + rng.normal(0, 0.05, n), 0, 1).astype(np.float32)
    return VideoAnalysis(
        duration_s=duration_s, analysis_fps=fps, times_s=t, motion=motion,
        brightness=np.full(n, 0.55, np.float32), saturation=np.full(n, 0.35, np.float32),
        warmth=np.zeros(n, np.float32), cuts_s=cuts, cut_strength=rng.uniform(0.3, 1.0, len(cuts)).astype(np.float32),
        cut_kinds=tuple("hard" for _ in cuts), visual_beats_s=np.zeros(0), visual_beat_strength=np.zeros(0, np.float32),
        pace=(motion * 0.6).astype(np.float32), speech_times_s=np.zeros(0), speech=np.zeros(0, np.float32),
    )


def baseline_seconds(duration_s: float) -> float:
    """Wall time of the plainest 4-stem synthesizer: one sine per stem, stereo float32."""
    t0 = time.perf_counter()
    n = int(duration_s * SR)
    phase = np.arange(n, dtype=np.float64) * (2 * np.pi / SR)
    for f in (55.0, 110.0, 220.0, 440.0):
        x = np.sin(phase * f).astype(np.float32)
        np.stack([x, x])
    return time.perf_counter() - t0


def compose_seconds(duration_s: float, style: str, seed: int, keep: bool = False) -> tuple[float, dict]:
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.interface import ScoreOptions

    analysis = synthetic_analysis(duration_s, seed)
    options = ScoreOptions(style=style, seed=seed)
    t0 = time.perf_counter()
    out = ComposerModel().compose(None, analysis, options)
    took = time.perf_counter() - t0
    frames = int(round(duration_s * SR))
    assert all(x.shape == (2, frames) for x in out.stems.values()) and len(out.stems) == 4
    info = {"stems": len(out.stems)}
    if keep:
        info.update(output=out, analysis=analysis, options=options)
    return took, info


def rss_kb() -> int:
    """This process's resident size now (VmRSS), in kB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def long_child(minutes: float, style: str) -> None:
    """Runs in a child: compose `minutes` and print peak RSS before and after as JSON."""
    from code_at import loaded_from

    from scorecut.models import composer
    from scorecut.models.composer.model import ComposerModel  # noqa: F401 (imports count as the floor)
    from scorecut.models.interface import ScoreOptions  # noqa: F401
    from scorecut.models.post import finish

    # The resident size now, not ru_maxrss: a child's ru_maxrss starts at its parent's resident
    # size when it forked (~250 MB after the 60 s runs), which is not this process's floor.
    floor_kb = rss_kb()
    took, info = compose_seconds(minutes * 60.0, style, 1, keep=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    finish(info.pop("output"), info["analysis"], info["options"], consume=True)  # as score_segment does
    post_s = time.perf_counter() - t0
    post_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"floor_mb": floor_kb / 1024, "peak_mb": peak_kb / 1024, "seconds": took,
                      "post_peak_mb": post_kb / 1024, "post_seconds": post_s, "code": loaded_from(composer)}))


def compose_times(seconds: float, styles: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    """(best wall seconds, best CPU seconds) of composing per style."""
    compose_seconds(5.0, styles[0], 0)  # warm up imports and caches
    out = {}
    for style in styles:
        runs = []
        for r in range(repeats):
            c = time.process_time()
            wall = compose_seconds(seconds, style, 1 + r)[0]
            runs.append((wall, time.process_time() - c))
        out[style] = (min(w for w, _ in runs), min(c for _, c in runs))
    return out


def compare_with(rev: str, seconds: float, styles: list[str], repeats: int) -> None:
    """Compose speed at `rev` against the working tree: children take turns, twice each; best kept.
    CPU seconds are the steadier measure on a shared machine; wall is shown too."""
    import tempfile
    from pathlib import Path

    from code_at import extract

    with tempfile.TemporaryDirectory(prefix="scorecut-bench-") as tmp:
        tree = extract(rev, Path(tmp))
        best: dict[str, dict[str, tuple[float, float]]] = {"before": {}, "after": {}}
        for _ in range(2):
            for label, code in (("before", tree), ("after", None)):
                cmd = [sys.executable, __file__, "--times-child", "--seconds", str(seconds), "--repeats",
                       str(repeats), "--styles", ",".join(styles)] + (["--code", str(code)] if code else [])
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                for style, (wall, cpu) in json.loads(out.strip().splitlines()[-1]).items():
                    old = best[label].get(style, (float("inf"), float("inf")))
                    best[label][style] = (min(wall, old[0]), min(cpu, old[1]))
    print(f"compose, {seconds:g} s, 4 stems at {SR} Hz: before = {rev}, after = working tree")
    for style in styles:
        (bw, bc), (aw, ac) = best["before"][style], best["after"][style]
        print(f"  {style:12s} wall: before {seconds / bw:6.1f}x real time, after {seconds / aw:6.1f}x "
              f"(after/before speed {bw / aw:.2f}); CPU: before {bc:.2f} s, after {ac:.2f} s "
              f"(after/before CPU {ac / bc:.2f})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--style", default="electronic")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", help="also time composing with the code at this git revision")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--times-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--styles", help=argparse.SUPPRESS)
    ap.add_argument("--code", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.code:  # a child running the code at --baseline's revision
        from pathlib import Path

        from code_at import import_code_from

        import_code_from(Path(args.code))
    if args.child:
        long_child(args.long_minutes, args.style)
        return 0
    if args.times_child:
        print(json.dumps(compose_times(args.seconds, args.styles.split(","), args.repeats)))
        return 0
    if args.baseline:
        compare_with(args.baseline, args.seconds, [args.style, "cinematic", "lofi", "acoustic_pop"], args.repeats)
        if args.long_minutes <= 0:
            return 0

    compose_seconds(5.0, args.style, 0)  # warm up imports and caches
    rows = []
    for style in (args.style, "cinematic", "lofi"):
        times = [compose_seconds(args.seconds, style, 1 + r)[0] for r in range(args.repeats)]
        base = min(baseline_seconds(args.seconds) for _ in range(args.repeats))
        best = min(times)
        rows.append((style, best, args.seconds / best, best / base))
    print(f"composer, {args.seconds:g} s segment, 4 stems at {SR} Hz (best of {args.repeats}):")
    for style, best, rt, vs in rows:
        print(f"  {style:12s} {best:6.3f} s wall  {rt:7.1f}x real time  {vs:6.1f}x the plain numpy 4-sine baseline")

    if args.baseline:
        long_segment(args.long_minutes, args.style, args.baseline)
    long_segment(args.long_minutes, args.style)
    return 0


def long_segment(minutes: float, style: str, rev: str | None = None) -> None:
    """The 10-minute job's time and peak memory in a child of its own, with the code at `rev`
    (None: the working tree)."""
    import tempfile
    from pathlib import Path

    from code_at import extract

    with tempfile.TemporaryDirectory(prefix="scorecut-bench-") as tmp:
        code = ["--code", str(extract(rev, Path(tmp)))] if rev else []
        child = subprocess.run([sys.executable, __file__, "--child", "--long-minutes", str(minutes),
                                "--style", style, *code], capture_output=True, text=True, check=True)
    r = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{minutes:g}-minute segment ({style}), code {rev or 'working tree'} ({r['code']}): "
          f"{r['seconds']:.2f} s wall ({minutes * 60 / r['seconds']:.1f}x real time), peak RSS "
          f"{r['peak_mb']:.0f} MB (after imports {r['floor_mb']:.0f} MB; composition adds "
          f"{r['peak_mb'] - r['floor_mb']:.0f} MB)")
    print(f"  then post.finish(consume=True), as score_segment runs a job: {r['post_seconds']:.2f} s, "
          f"peak RSS of compose + post {r['post_peak_mb']:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
