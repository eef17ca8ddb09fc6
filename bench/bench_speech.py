"""Speech detection for ducking: Silero VAD (now) against the hand-made detector it replaced
(baseline, loaded from git history in the same run), on espeak-ng speech under music.

Measures, for each: seconds per minute of audio (fed in 341-sample chunks, as decoding does), the
share of spoken 20 ms frames it calls speech (loud and 12 dB quieter lines), and the share of
music-only time it calls speech. Needs espeak-ng and git.

    .venv/bin/python bench/bench_speech.py [--seconds 60] [--baseline-commit d83bc67]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RATE = 16_000


def load_baseline(commit: str):
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:models/analysis/speech.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "speech_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("speech_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SpeechAccumulator


def music(n: int, seed: int = 0) -> np.ndarray:
    """A pad and a drum pulse: what a score under dialogue sounds like, roughly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    pad = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    kick = np.zeros(n)
    for k in np.arange(0, n / RATE, 0.5):
        i, m = int(k * RATE), int(0.12 * RATE)
        tt = np.arange(min(m, n - int(k * RATE))) / RATE
        kick[i : i + len(tt)] += np.sin(2 * np.pi * 60 * tt) * np.exp(-tt * 25)
    return (0.5 * pad + 0.8 * kick + 0.02 * rng.normal(size=n)).astype(np.float32)


def scene(seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(audio, spoken mask per 20 ms, music-only mask per 20 ms): lines at -20 and -32 dBFS
    alternating with music-only stretches, music at -30 dBFS under everything."""
    from tests.helpers.speech import speech

    n = int(seconds * RATE)
    voice = np.zeros(n, np.float32)
    spoken_region = np.zeros(n, bool)
    k, t = 0, 1.0
    while t + 5 < seconds:
        level = -20.0 if k % 2 == 0 else -32.0
        line = speech(4.0, RATE, seed=k, level_dbfs=level)
        i = int(t * RATE)
        voice[i : i + len(line)] = line[: n - i]
        spoken_region[i : i + len(line)] = True
        k, t = k + 1, t + 7.0
    bed = music(n)
    bed *= 10 ** (-30 / 20) / np.sqrt(np.mean(bed**2))
    hop = int(0.02 * RATE)
    frames = voice[: n // hop * hop].reshape(-1, hop)
    with np.errstate(divide="ignore"):
        db = 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-20)
    spoken = db > -55
    music_only = ~spoken_region[: n // hop * hop].reshape(-1, hop).any(axis=1)
    return voice + bed, spoken, music_only


def run(accumulator, audio: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    acc = accumulator()
    t0 = time.perf_counter()
    for i in range(0, len(audio), 341):
        acc.add(audio[i : i + 341])
    times, prob = acc.finish()
    return time.perf_counter() - t0, times, prob


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--baseline-commit", default="d83bc67")
    args = ap.parse_args()
    from scorecut.models.analysis.speech import SpeechAccumulator

    audio, spoken, music_only = scene(args.seconds)
    centres = (np.arange(len(spoken)) + 0.5) * 0.02
    rows = []
    detectors = (("baseline (hand-made)", load_baseline(args.baseline_commit)), ("Silero VAD", SpeechAccumulator))
    for label, acc in detectors:
        seconds, times, prob = run(acc, audio)
        said = np.interp(centres, times, prob) > 0.5
        rows.append((label, seconds / (args.seconds / 60), said[spoken].mean(), said[music_only].mean()))
    print(f"{args.seconds:.0f} s of espeak-ng lines (-20 and -32 dBFS) over music at -30 dBFS")
    print(f"{'detector':<22} {'s per minute':>12} {'words found':>12} {'music called speech':>20}")
    for label, per_min, found, false in rows:
        print(f"{label:<22} {per_min:>12.2f} {100 * found:>11.1f}% {100 * false:>19.1f}%")
    base, new = rows
    print(f"time ratio (Silero / baseline): {new[1] / base[1]:.2f}x")


if __name__ == "__main__":
    main()
