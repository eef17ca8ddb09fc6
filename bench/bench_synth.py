"""Synthesizer and post-processing speed on a dense arrangement.

    python bench/bench_synth.py [--seconds 60] [--repeats 3] [--sample-rate 48000]

Prints audio seconds per wall second for `synth.render` (4 stems) and for `post.finish`, each the
best of `--repeats` runs, and their ratio to a baseline measured in the same run: the bare
minimum for the same notes (one float64 sine per note with a linear envelope, no drums, no
effects), i.e. what the instruments, drums, effects and reverb cost on top of just making sound.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scorecut.models.composer.events import Arrangement, DrumHit, Note
from scorecut.models.interface import MusicalPlan, ModelOutput, ScoreOptions, Section

STYLES = {  # (drums, bass, harmony, melody)
    "electronic": ("electronic", "synth", "pad", "lead"),
    "cinematic": ("cinematic", "sub", "strings", "bell"),
    "lofi": ("lofi", "fingered", "epiano", "epiano"),
    "acoustic": ("acoustic", "fingered", "pluck", "pluck"),
}


def dense_arrangement(seconds: float, instruments: tuple[str, ...], bpm: float = 120.0) -> Arrangement:
    """A busy groove: 16th hats, kick/snare, 8th bass, 4-note chords per bar, 8th melody."""
    rng = np.random.default_rng(0)
    beat = 60.0 / bpm
    n_beats = int(seconds / beat)
    beats = tuple(i * beat for i in range(n_beats))
    plan = MusicalPlan(bpm, "4/4", "A minor", beats, beats[::4], (Section(0.0, seconds, 3),), "bench", "")
    chords = ((57, 60, 64, 67), (53, 57, 60, 64), (48, 52, 55, 59), (55, 59, 62, 65))
    drums, bass, harmony, melody = [], [], [], []
    for b in range(n_beats):
        t = b * beat
        drums.append(DrumHit(t, "kick" if b % 2 == 0 else "snare", 0.9))
        drums += [DrumHit(t + k * beat / 4, "hat_closed", 0.6) for k in range(4)]
        if b % 16 == 0:
            drums.append(DrumHit(t, "crash", 0.8))
        chord = chords[(b // 4) % 4]
        bass += [Note(t, 0.45 * beat, chord[0] - 24, 0.9), Note(t + beat / 2, 0.4 * beat, chord[0] - 12, 0.7)]
        if b % 4 == 0:
            harmony += [Note(t, 4 * beat, p, 0.7) for p in chord]
        melody += [Note(t + k * beat / 2, 0.45 * beat, 69 + int(rng.choice([0, 3, 5, 7, 10, 12])), 0.8) for k in range(2)]
    return Arrangement(seconds, plan, tuple(drums), tuple(bass), tuple(harmony), tuple(melody),
                       dict(zip(("drums", "bass", "harmony", "melody"), instruments)),
                       reverb_send={}, tail_end_s=seconds)


def baseline_render(arr: Arrangement, sr: int) -> np.ndarray:
    """The least that makes these notes audible: a sine per note, linear envelope, one buffer."""
    n = int(round(arr.duration_s * sr))
    out = np.zeros(n)
    for note in arr.bass + arr.harmony + arr.melody:
        i = int(note.start_s * sr)
        m = min(int(note.duration_s * sr), n - i)
        t = np.arange(m) / sr
        out[i : i + m] += np.sin(2 * np.pi * 440 * 2 ** ((note.pitch - 69) / 12) * t) * np.linspace(1, 0, m)
    return out


def best_of(fn, repeats: int) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that run)."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w, time.process_time() - c))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample-rate", type=int, default=48_000)
    args = ap.parse_args()
    from scorecut.models.analysis.types import VideoAnalysis
    from scorecut.models.composer.synth import render
    from scorecut.models.post import finish

    sr, secs = args.sample_rate, args.seconds
    arr = dense_arrangement(secs, STYLES["electronic"])
    render(dense_arrangement(2.0, STYLES["electronic"]), sr, 0)  # warm caches (IR, filters)
    base_wall, _ = best_of(lambda: baseline_render(arr, sr), args.repeats)
    print(f"baseline (sine per note, no drums/effects): {secs / base_wall:7.1f}x real time")
    for style, instruments in STYLES.items():
        a = dense_arrangement(secs, instruments)
        wall, cpu = best_of(lambda: render(a, sr, seed=1), args.repeats)
        print(f"render {style:10s} 4 stems {sr} Hz: {secs / wall:7.1f}x real time  "
              f"(wall {wall:.2f} s, cpu {cpu:.2f} s, {wall / base_wall:.2f}x the baseline's time)")
    stems = render(arr, sr, seed=1)
    t = np.arange(0.0, secs, 0.1)
    z = np.zeros(len(t), np.float32)
    speech = ((t % 20) < 6).astype(np.float32)  # someone talks 6 s in every 20
    e = np.zeros(0)
    analysis = VideoAnalysis(secs, 10.0, t, z, z, z, z, e, e.astype(np.float32), (), e, e.astype(np.float32), z, t, speech)
    out = ModelOutput(sr, stems, arr.plan)
    for duck in (False, True):
        wall, cpu = best_of(lambda: finish(out, analysis, ScoreOptions(duck_dialogue=duck)), args.repeats)
        print(f"post.finish duck={duck!s:5s}: {secs / wall:7.1f}x real time  (wall {wall:.2f} s, cpu {cpu:.2f} s, "
              f"{wall / base_wall:.2f}x the baseline's time)")


if __name__ == "__main__":
    main()
