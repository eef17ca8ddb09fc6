"""musicgen re-ranking: time to track and score one candidate's beats against segment length.

Run: .venv/bin/python bench/bench_musicgen_rerank.py [--seconds 30,60,120,240] [--repeats 3]
What it times is `zero_shot.rank_audio` on one candidate: the beat tracking compose() runs on
every candidate's decoded audio (32 kHz, MusicGen's codec rate) and the F-measure against the
cuts. The audio is a 120 BPM pulse with noise (the tracker's cost does not depend on what it
hears); cuts every 2.5 s. Printed: seconds per candidate, and the cost per second of audio as a
ratio to the shortest length's, measured in the same run (1.0 = linear in length).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def audio(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    pulse = np.sin(2 * np.pi * 110 * t) * np.exp(-(t % 0.5) / 0.04)
    return (pulse + 0.05 * np.random.default_rng(0).normal(size=t.shape)).astype(np.float32)


def main() -> None:
    from scorecut.models.vmas.zero_shot import rank_audio

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", default="30,60,120,240", help="segment lengths, comma-separated")
    p.add_argument("--repeats", type=int, default=3, help="best of this many per length")
    args = p.parse_args()
    rate = 32_000
    lengths = [float(s) for s in args.seconds.split(",")]
    per_second = {}
    for seconds in lengths:
        wav = audio(seconds, rate)
        cuts = np.arange(2.5, seconds, 2.5)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            rank_audio([wav], rate, seconds, cuts, 0.1)
            best = min(best, time.perf_counter() - t0)
        per_second[seconds] = best / seconds
        ratio = per_second[seconds] / per_second[lengths[0]]
        print(f"{seconds:6.0f} s: {best:7.3f} s per candidate, cost per audio second {ratio:5.2f}x the "
              f"{lengths[0]:.0f} s run's", flush=True)


if __name__ == "__main__":
    main()
