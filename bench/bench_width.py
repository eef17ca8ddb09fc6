"""Stereo width and tonal balance of the composer's finished mix, per style, before and after.

    .venv/bin/python bench/bench_width.py [--baseline REV] [--seconds 60] [--seeds 1 2]
                                          [--styles cinematic ...] [--soundfont FILE|none]

For every style, a `--seconds` piece is composed from a synthetic analysis (bench_composer's:
cuts every 1.5-6 s, moderate motion) and finished (post.finish: loudness, true peak), once by the
code at `--baseline` (a git revision, extracted with `git archive` into a temporary folder and
imported from there in a child process) and once by the working tree, in the same run. Both mixes
are measured by the same meters (models/composer/synth/image.py): inter-channel correlation (whole
piece; 10th/50th/90th percentile over 4 s windows), side/mid energy, mono fold-down loss, the
correlation and fold-down loss below 150 Hz, and the spectral centroid; the render time of each is
printed too. `--soundfont none` (the default) measures the synthesizer; a font path measures the
SoundFont render (electronic stays synthesized by design).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STYLES = ("cinematic", "ambient", "electronic", "lofi", "acoustic_pop", "corporate")
SR = 48_000


def render_child(code: Path | None, out: Path, styles: list[str], seconds: float, seeds: list[int]) -> None:
    """In a child process: compose and finish each (style, seed), save the mixes as .npy and
    the compose time as JSON."""
    sys.path.insert(0, str(ROOT / "bench"))
    from code_at import import_code_from, loaded_from

    if code is not None:
        import_code_from(code)
    from bench_composer import synthetic_analysis

    import scorecut.models as models
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.interface import ScoreOptions
    from scorecut.models.post import finish

    assert code is None or loaded_from(models).startswith(str(code.resolve())), loaded_from(models)
    ComposerModel().compose(None, synthetic_analysis(4.0, 0), ScoreOptions(style="cinematic", seed=0))  # warm caches
    timing = {}
    for style in styles:
        for seed in seeds:
            analysis = synthetic_analysis(seconds, seed)
            options = ScoreOptions(style=style, seed=seed)
            t0 = time.perf_counter()
            output = ComposerModel().compose(None, analysis, options)
            took = time.perf_counter() - t0
            done = finish(output, analysis, options)
            np.save(out / f"{style}-{seed}.npy", done.mix)
            timing[f"{style}-{seed}"] = {"compose_s": took, "lufs": done.loudness_lufs, "dbtp": done.true_peak_dbtp}
    (out / "timing.json").write_text(json.dumps(timing))
    print("source:", loaded_from(models))


def run(code: Path | None, out: Path, args, font: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--child", str(out), "--seconds", str(args.seconds), "--styles", *args.styles,
           "--seeds", *map(str, args.seeds)]
    if code is not None:
        cmd += ["--code", str(code)]
    env = {**os.environ, "SCORECUT_SOUNDFONT": font}
    child = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(child.stderr[-3000:])
    return json.loads((out / "timing.json").read_text())


def row(style: str, label: str, images: list, compose_s: list[float]) -> str:
    """One table row: each measure averaged over the seeds."""
    def mean(field: str, index: int | None = None) -> float:
        values = [getattr(m, field) if index is None else getattr(m, field)[index] for m in images]
        return float(np.mean(values))

    windows = "/".join(f"{mean('window_correlation', i):.2f}" for i in range(3))
    return (f"| {style} | {label} | {mean('correlation'):.2f} | {windows} | {mean('high_correlation'):.2f} | "
            f"{mean('low_share'):.2f} | {mean('side_to_mid_db'):.1f} | {mean('mono_loss_db'):.2f} | "
            f"{mean('low_correlation'):.3f} | {mean('low_mono_loss_db'):.3f} | {mean('centroid_hz'):.0f} | "
            f"{np.mean(compose_s):.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="HEAD", help="git revision measured as 'before'")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--styles", nargs="+", default=list(STYLES))
    ap.add_argument("--soundfont", default="none", help="a SoundFont to play the parts, or none (the synthesizer)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        render_child(args.code, args.child, args.styles, args.seconds, args.seeds)
        return 0

    from code_at import extract

    from scorecut.models.composer.synth.image import measure

    with tempfile.TemporaryDirectory(prefix="scorecut-width-") as tmp:
        tmp = Path(tmp)
        base_code = extract(args.baseline, tmp)
        runs = {"before": run(base_code, tmp / "before", args, args.soundfont),
                "after": run(None, tmp / "after", args, args.soundfont)}
        print(f"{args.seconds:g} s pieces, seeds {args.seeds}, finished mix at {SR} Hz; before = {args.baseline}, "
              f"after = working tree; SoundFont: {args.soundfont}")
        print("| style | code | r | r, 4 s windows p10/p50/p90 | r above 150 Hz | power below 150 Hz "
              "| side/mid dB | mono loss dB | r below 150 Hz | mono loss below 150 Hz dB | centroid Hz | compose s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for style in args.styles:
            for label, timing in runs.items():
                images = [measure(np.load(tmp / label / f"{style}-{seed}.npy"), SR) for seed in args.seeds]
                print(row(style, label, images, [timing[f"{style}-{s}"]["compose_s"] for s in args.seeds]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
