"""Synthesizer and post-processing speed on a dense arrangement.

    python bench/bench_synth.py [--seconds 60] [--repeats 3] [--sample-rate 48000] [--long-minutes 10]
                                [--baseline REV]

Prints audio seconds per wall second for `synth.render` (4 stems) and for `post.finish`, each the
best of `--repeats` runs, and their ratio to a baseline measured in the same run: the bare
minimum for the same notes (one float64 sine per note with a linear envelope, no drums, no
effects), i.e. what the instruments, drums, effects and reverb cost on top of just making sound.
Then, in a child process (its own peak RSS), a `--long-minutes` segment: render, then
finish(consume=True), with the peak RSS after each. With `--baseline REV`, the 4-stem render of
each style is also timed with the code at that git revision (bench/code_at.py), in child processes
taking turns with the working tree's, and the speed ratio after/before is printed. With
`--effects`, pedalboard's filters, convolution, reverb and chorus are timed against the
hand-written effects that do the same job.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if "--code" in sys.argv:  # a child timing the code at another revision imports that code, before any
    from code_at import import_code_from  # noqa: I001 (bench/, beside this file)

    import_code_from(Path(sys.argv[sys.argv.index("--code") + 1]))

from scorecut.models.composer.events import Arrangement, DrumHit, Note  # noqa: E402
from scorecut.models.interface import ModelOutput, MusicalPlan, ScoreOptions, Section  # noqa: E402

STYLES = {  # (drums, bass, harmony, melody); the plan names the style, so its width and tone apply
    "electronic": ("electronic", "synth", "pad", "lead"),
    "cinematic": ("cinematic", "sub", "strings", "bell"),
    "lofi": ("lofi", "fingered", "epiano", "epiano"),
    "acoustic_pop": ("acoustic", "fingered", "pluck", "pluck"),
}


def dense_arrangement(seconds: float, instruments: tuple[str, ...], bpm: float = 120.0,
                      style: str = "electronic") -> Arrangement:
    """A busy groove: 16th hats, kick/snare, 8th bass, 4-note chords per bar, 8th melody."""
    rng = np.random.default_rng(0)
    beat = 60.0 / bpm
    n_beats = int(seconds / beat)
    beats = tuple(i * beat for i in range(n_beats))
    plan = MusicalPlan(bpm, "4/4", "A minor", beats, beats[::4], (Section(0.0, seconds, 3),), style, "")
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
        melody += [Note(t + k * beat / 2, 0.45 * beat, 69 + int(rng.choice([0, 3, 5, 7, 10, 12])), 0.8)
                   for k in range(2)]
    return Arrangement(seconds, plan, tuple(drums), tuple(bass), tuple(harmony), tuple(melody),
                       dict(zip(("drums", "bass", "harmony", "melody"), instruments, strict=False)),
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


def speech_analysis(secs: float):
    """A VideoAnalysis with only what post reads: someone talks 6 s in every 20."""
    from scorecut.models.analysis.types import VideoAnalysis

    t = np.arange(0.0, secs, 0.1)
    z = np.zeros(len(t), np.float32)
    speech = ((t % 20) < 6).astype(np.float32)
    e = np.zeros(0)
    return VideoAnalysis(secs, 10.0, t, z, z, z, z, e, e.astype(np.float32), (), e, e.astype(np.float32), z, t, speech)


def long_child(minutes: float, sr: int) -> None:
    import json
    import resource

    from scorecut.models.composer.synth import render
    from scorecut.models.post import finish

    secs = minutes * 60.0
    arr = dense_arrangement(secs, STYLES["electronic"])
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    stems = render(arr, sr, seed=1)
    t1 = time.perf_counter()
    after_render = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finish(ModelOutput(sr, stems, arr.plan), speech_analysis(secs), ScoreOptions(duck_dialogue=True), consume=True)
    t2 = time.perf_counter()
    after_post = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(floor=floor, render=after_render, post=after_post, render_s=t1 - t0, post_s=t2 - t1)))


def render_times(secs: float, sr: int, repeats: int) -> dict[str, tuple[float, float]]:
    """(best wall seconds, best CPU seconds) of the 4-stem render per style."""
    from scorecut.models.composer.synth import render

    render(dense_arrangement(2.0, STYLES["electronic"]), sr, 0)  # warm caches (IR, filters)
    times = {}
    for style, instruments in STYLES.items():
        a = dense_arrangement(secs, instruments, style=style)
        runs = [best_of(lambda a=a: render(a, sr, seed=1), 1) for _ in range(repeats)]
        times[style] = (min(w for w, _ in runs), min(c for _, c in runs))
    return times


def compare_with(rev: str, secs: float, sr: int, repeats: int) -> None:
    """Render speed of the code at `rev` against the working tree's: child processes take turns
    (twice each), so a busy machine slows both alike; the best time of each is kept. CPU seconds
    (both render threads) are the steadier measure on a shared machine; wall is shown too."""
    import json
    import subprocess
    import tempfile

    from code_at import extract

    with tempfile.TemporaryDirectory(prefix="scorecut-bench-") as tmp:
        tree = extract(rev, Path(tmp))
        best: dict[str, dict[str, tuple[float, float]]] = {"before": {}, "after": {}}
        for _ in range(2):
            for label, code in (("before", tree), ("after", None)):
                cmd = [sys.executable, __file__, "--times-child", "--seconds", str(secs), "--sample-rate", str(sr),
                       "--repeats", str(repeats)] + (["--code", str(code)] if code else [])
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                for style, (wall, cpu) in json.loads(out.strip().splitlines()[-1]).items():
                    old = best[label].get(style, (float("inf"), float("inf")))
                    best[label][style] = (min(wall, old[0]), min(cpu, old[1]))
    print(f"render, 4 stems {sr} Hz, {secs:g} s: before = {rev}, after = working tree")
    for style in STYLES:
        (bw, bc), (aw, ac) = best["before"][style], best["after"][style]
        print(f"  {style:12s} wall: before {secs / bw:6.1f}x real time, after {secs / aw:6.1f}x "
              f"(after/before speed {bw / aw:.2f}); CPU: before {bc:.2f} s, after {ac:.2f} s "
              f"(after/before CPU {ac / bc:.2f})")


def rbj_high_shelf(f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """The RBJ cookbook high shelf as one float32 second-order section: what the tone filter
    would be by hand (scipy has no shelf designer)."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sr
    alpha = np.sin(w) / (2 * q)
    cw, sa = np.cos(w), 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
    den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return (np.array([*b, *den]) / den[0]).astype(np.float32)[None, :]


def effects_comparison(secs: float, sr: int, repeats: int) -> None:
    """pedalboard against the hand-written effects for the same job, on `secs` of stereo noise."""
    import pedalboard
    from scipy import signal

    from scorecut.models.composer.synth.mixing import reverb_ir, reverb_return
    from scorecut.models.composer.synth.stereo import widen

    x = np.random.default_rng(0).standard_normal((2, int(secs * sr))).astype(np.float32)
    mono = np.repeat(x[:1], 2, axis=0)
    shelf = pedalboard.HighShelfFilter(cutoff_frequency_hz=4000.0, gain_db=-4.0, q=0.707)
    sos = rbj_high_shelf(4000.0, -4.0, 0.707, sr)
    conv = pedalboard.Convolution(reverb_ir(sr).T.copy(), sample_rate=sr)
    freeverb = pedalboard.Reverb(room_size=0.8, wet_level=1.0, dry_level=0.0)
    chorus = pedalboard.Chorus(rate_hz=0.8, centre_delay_ms=12.0, mix=0.5)
    reverb_return(x[:, :sr], 0.5, sr)  # the room's spectrum, cached as a render finds it
    rows = [
        ("tone: high shelf -4 dB at 4 kHz", "pedalboard HighShelfFilter", lambda: shelf.process(x, sr, reset=True),
         "scipy sosfilt, RBJ biquad", lambda: signal.sosfilt(sos, x, axis=1)),
        ("room: the same impulse response", "pedalboard Convolution", lambda: conv.process(mono, sr, reset=True),
         "ours (FFT overlap-add, mono send)", lambda: reverb_return(x, 0.5, sr)),
        ("room: another algorithm", "pedalboard Reverb (Freeverb)", lambda: freeverb.process(x, sr, reset=True),
         "ours (convolution)", lambda: reverb_return(x, 0.5, sr)),
        ("width of a centred part", "pedalboard Chorus", lambda: chorus.process(mono, sr, reset=True),
         "widen (velvet noise, mid/side)", lambda: widen(mono.copy(), 1.0, sr)),
    ]
    print(f"effects on {secs:g} s of stereo at {sr} Hz (best of {repeats}):")
    for job, name_a, a, name_b, b in rows:
        ta, tb = best_of(a, repeats)[0], best_of(b, repeats)[0]
        print(f"  {job:34s} {name_a:30s} {ta * 1000:6.0f} ms   {name_b:34s} {tb * 1000:6.0f} ms   ({tb / ta:.2f}x)")
    wide = chorus.process(mono, sr, reset=True)
    narrow = widen(mono.copy(), 1.0, sr)
    print(f"  (inter-channel r of a centred part after pedalboard Chorus {np.corrcoef(wide)[0, 1]:.3f}: "
          f"one LFO for both channels adds no width; after widen {np.corrcoef(narrow)[0, 1]:.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample-rate", type=int, default=48_000)
    ap.add_argument("--long-minutes", type=float, default=10.0, help="0 skips the long segment")
    ap.add_argument("--baseline", help="also time the render with the code at this git revision")
    ap.add_argument("--effects", action="store_true", help="also time pedalboard against the hand-written effects")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--times-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--code", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        long_child(args.long_minutes, args.sample_rate)
        return
    if args.times_child:  # (with --code, that code was imported above)
        import json

        print(json.dumps(render_times(args.seconds, args.sample_rate, args.repeats)))
        return
    if args.baseline:
        compare_with(args.baseline, args.seconds, args.sample_rate, args.repeats)
    if args.effects:
        effects_comparison(args.seconds, args.sample_rate, args.repeats)
    from scorecut.models.composer.synth import render
    from scorecut.models.post import finish

    sr, secs = args.sample_rate, args.seconds
    arr = dense_arrangement(secs, STYLES["electronic"])
    render(dense_arrangement(2.0, STYLES["electronic"]), sr, 0)  # warm caches (IR, filters)
    base_wall, _ = best_of(lambda: baseline_render(arr, sr), args.repeats)
    print(f"baseline (sine per note, no drums/effects): {secs / base_wall:7.1f}x real time")
    for style, instruments in STYLES.items():
        a = dense_arrangement(secs, instruments, style=style)
        wall, cpu = best_of(lambda a=a: render(a, sr, seed=1), args.repeats)
        print(f"render {style:10s} 4 stems {sr} Hz: {secs / wall:7.1f}x real time  "
              f"(wall {wall:.2f} s, cpu {cpu:.2f} s, {wall / base_wall:.2f}x the baseline's time)")
    stems = render(arr, sr, seed=1)
    analysis = speech_analysis(secs)
    out = ModelOutput(sr, stems, arr.plan)
    for duck in (False, True):
        wall, cpu = best_of(lambda duck=duck: finish(out, analysis, ScoreOptions(duck_dialogue=duck)), args.repeats)
        print(f"post.finish duck={duck!s:5s}: {secs / wall:7.1f}x real time  (wall {wall:.2f} s, cpu {cpu:.2f} s, "
              f"{wall / base_wall:.2f}x the baseline's time)")
    if args.long_minutes > 0:
        import json
        import subprocess
        import sys

        child = subprocess.run([sys.executable, __file__, "--child", "--long-minutes", str(args.long_minutes),
                                "--sample-rate", str(sr)], capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        secs_long = args.long_minutes * 60
        print(f"{args.long_minutes:g}-minute segment: render {r['render_s']:.1f} s "
              f"({secs_long / r['render_s']:.0f}x real time), "
              f"peak RSS {r['render']:.0f} MB; then finish(consume=True) {r['post_s']:.1f} s, "
              f"peak RSS {r['post']:.0f} MB "
              f"(after imports {r['floor']:.0f} MB)")


if __name__ == "__main__":
    main()
