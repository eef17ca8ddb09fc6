"""VMAS fine-tuning on CPU: step time with the prefetching loader vs loading inline, and with
LoRA adapters vs the whole cross-attention trained, each a ratio from one run.

Run: .venv/bin/python bench/bench_vmas_train.py [--steps 20] [--threads 1]
A tiny random MusicGen (tests/vmas_musicgen.py: 32 wide, 2 layers, 4 codebooks) is the frozen
base and six PyAV-made 2 s music videos the data (tests/vmas_media.py), cached once. Each variant
is a real `train()` run of `--steps` steps (`debug` sizes, batch 4, no validation); the time is
the loop's own (metrics' elapsed_s from step 2 to the last: decoding the data and the first,
warm-up step are left out). The variants run interleaved, twice each; the faster of the two counts.
Features of a frozen image backbone, cached vs computed, are measured by bench_vmas_features.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the tests' media and model makers


def loop_seconds(run: Path) -> float:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return rows[-1]["elapsed_s"] - rows[0]["elapsed_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from vmas_media import make_music_video
    from vmas_musicgen import save_tiny_musicgen

    from scorecut.models.vmas.config import DEBUG
    from scorecut.models.vmas.train import TrainOptions, train

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "videos"
        data.mkdir()
        for i, bpm in enumerate((90, 105, 120, 135, 150, 165)):
            make_music_video(data / f"edit{i}.mp4", 2.0, bpm=bpm, seed=i)
        base = save_tiny_musicgen(root / "musicgen")
        variants = {
            "lora, prefetch thread": {"adapters": "lora", "prefetch": 2},
            "lora, inline loading": {"adapters": "lora", "prefetch": 0},
            "cross-attention, prefetch thread": {"adapters": "cross", "prefetch": 2},
        }
        best: dict[str, float] = {}
        for rep in range(2):
            for name, extra in variants.items():
                out = root / f"run-{rep}-{extra['adapters']}-{extra['prefetch']}"
                opts = TrainOptions(steps=args.steps, out=out, init=str(base), batch_size=4, holdout=0.0, samples=0,
                                    checkpoint_every=10**6, cache_dir=root / "cache", **extra)
                train(DEBUG, data, opts, log=lambda m: None)
                s = loop_seconds(out) / (args.steps - 1)
                best[name] = min(best.get(name, float("inf")), s)
                print(f"  {name:<34} {1000 * s:7.1f} ms/step (run {rep + 1})", flush=True)
        thread, inline = best["lora, prefetch thread"], best["lora, inline loading"]
        cross = best["cross-attention, prefetch thread"]
        print(f"step time, inline / prefetch thread: {inline / thread:.2f}x "
              f"({1000 * inline:.1f} vs {1000 * thread:.1f} ms)")
        print(f"step time, cross-attention / LoRA: {cross / thread:.2f}x "
              f"({1000 * cross:.1f} vs {1000 * thread:.1f} ms)")


if __name__ == "__main__":
    main()
