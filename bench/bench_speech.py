"""Speech detection for ducking, three detectors in one run: the hand-made detector Silero VAD
replaced (d83bc67), Silero's TorchScript model called window by window (166bb25), and Silero's
network run in numpy over blocks of windows (this tree). The older two are loaded from git history.

Three sounds, each fed in 341-sample chunks as decoding delivers them: espeak-ng lines (loud and
12 dB quieter) over music, the music alone, and digital silence. For each: CPU seconds (user +
sys, all threads) and wall seconds per minute of audio, and on the first, the share of spoken
20 ms frames called speech and of music-only time called speech. Needs espeak-ng and git.

    .venv/bin/python bench/bench_speech.py [--seconds 60] [--repeats 3]
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
    path = Path(tempfile.mkdtemp()) / f"speech_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"speech_{commit}", path)
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


def run(accumulator, audio: np.ndarray, repeats: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(CPU seconds, wall seconds) of the fastest of `repeats` runs, and the curve."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        acc = accumulator()
        for i in range(0, len(audio), 341):
            acc.add(audio[i : i + 341])
        times, prob = acc.finish()
        best = min(best, (time.process_time() - c0, time.perf_counter() - t0))
    return best[0], best[1], times, prob


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--handmade-commit", default="d83bc67")
    ap.add_argument("--per-window-commit", default="166bb25")
    ap.add_argument("--cold-child", default=None, help=argparse.SUPPRESS)  # one first use, in a fresh process
    args = ap.parse_args()
    if args.cold_child is not None:
        return first_use(args.cold_child)
    from scorecut.models.analysis.speech import SpeechAccumulator

    lines, spoken, music_only = scene(args.seconds)
    n = len(lines)
    bed = music(n)
    bed *= 10 ** (-30 / 20) / np.sqrt(np.mean(bed**2))
    sounds = (("lines over music", lines), ("music only", bed), ("digital silence", np.zeros(n, np.float32)))
    centres = (np.arange(len(spoken)) + 0.5) * 0.02
    detectors = (("hand-made (d83bc67)", load_baseline(args.handmade_commit)),
                 ("Silero per window (166bb25)", load_baseline(args.per_window_commit)),
                 ("Silero batched (now)", SpeechAccumulator))
    minutes = args.seconds / 60
    print(f"{args.seconds:.0f} s each; espeak-ng lines at -20 and -32 dBFS over music at -30 dBFS; "
          f"best of {args.repeats}")
    print(f"{'detector':<28} {'sound':<17} {'CPU s/min':>9} {'wall s/min':>10} {'words found':>11} "
          f"{'music called speech':>19}")
    cpu: dict[tuple[str, str], float] = {}
    for label, acc in detectors:
        for sound, audio in sounds:
            c, w, times, prob = run(acc, audio, args.repeats)
            cpu[label, sound] = c / minutes
            found = false = ""
            if sound == "lines over music":
                said = np.interp(centres, times, prob) > 0.5
                found, false = f"{100 * said[spoken].mean():.1f}%", f"{100 * said[music_only].mean():.1f}%"
            print(f"{label:<28} {sound:<17} {c / minutes:>9.3f} {w / minutes:>10.3f} {found:>11} {false:>19}",
                  flush=True)
    old, new = detectors[1][0], detectors[2][0]
    for sound, _ in sounds:
        print(f"CPU per minute, {sound}: batched / per window = {cpu[new, sound] / cpu[old, sound]:.3f}x")
    print("first use in a fresh process (imports, loading the model, 1 s of audio), CPU seconds:")
    for commit, label in ((args.per_window_commit, old), ("", new)):
        out = subprocess.run([sys.executable, __file__, "--cold-child", commit], capture_output=True, text=True,
                             check=True).stdout.split()
        print(f"  {label:<28} {float(out[0]):.2f} s (torch imported: {out[1]})")


def first_use(commit: str) -> None:
    """Prints the CPU seconds of loading a detector and running it over 1 s, and whether torch
    was imported; what both share (numpy, scipy, the K-weighting) is imported before timing."""
    from scorecut.models.post.levels import k_weighting_sos  # noqa: F401  (shared by both)

    audio = 0.1 * np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE).astype(np.float32)
    c0 = time.process_time()
    if commit:
        accumulator = load_baseline(commit)
    else:
        from scorecut.models.analysis.speech import SpeechAccumulator as accumulator
    acc = accumulator()
    acc.add(audio)
    acc.finish()
    print(f"{time.process_time() - c0:.3f} {'torch' in sys.modules}")


if __name__ == "__main__":
    main()
