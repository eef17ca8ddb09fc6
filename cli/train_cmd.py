"""`scorecut train --config NAME --data DIR --steps N --out RUN [--resume]`: train VMAS.

DIR holds videos with their soundtracks. RUN gets metrics.jsonl (one JSON line per logged step
with `step`, `loss` and the parts of the loss), checkpoint.pt with checkpoint.pt.sha256 and
config.json; `--checkpoint RUN/checkpoint.pt` serves it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="NAME", help="model size: debug, small or medium")
    p.add_argument("--data", required=True, type=Path, metavar="DIR", help="folder of videos with soundtracks")
    p.add_argument("--steps", required=True, type=int, metavar="N", help="total optimizer steps")
    p.add_argument("--out", required=True, type=Path, metavar="RUN", help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--batch-size", type=int, default=0, help="clips per micro-batch (default: the config's)")
    p.add_argument("--grad-accum", type=int, default=0, help="micro-batches per step (default: the config's)")
    p.add_argument("--lr", type=float, default=0.0, help="peak learning rate (default: the config's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=1, metavar="N")
    p.add_argument("--checkpoint-every", type=int, default=500, metavar="N")
    p.add_argument("--stop-after", type=int, default=0, metavar="N",
                   help="stop with a checkpoint after N steps of this run (resume later with --resume)")
    p.add_argument("--codec", default="", metavar="PATH",
                   help="folder of the 32 kHz EnCodec weights (config.json + model.safetensors)")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from scorecut.models.interface import ScorecutError
    from scorecut.models.vmas.checkpoint import CheckpointError
    from scorecut.models.vmas.codec import CodecUnavailable
    from scorecut.models.vmas.config import get_config
    from scorecut.models.vmas.train import TrainOptions, train

    try:
        cfg = get_config(args.config)
    except ValueError as exc:
        print(f"scorecut train: {exc}", file=sys.stderr)
        return 2
    if args.codec:
        cfg = dataclasses.replace(cfg, codec=dataclasses.replace(cfg.codec, path=str(Path(args.codec).resolve())))
    if args.steps < 1:
        print("scorecut train: --steps must be at least 1", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"scorecut train: {args.data} is not a folder: give the folder of training videos", file=sys.stderr)
        return 2
    opts = TrainOptions(steps=args.steps, out=args.out, resume=args.resume, device=args.device, seed=args.seed,
                        log_every=args.log_every, checkpoint_every=args.checkpoint_every,
                        batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
                        stop_after=args.stop_after)
    try:
        path = train(cfg, args.data, opts, log=lambda msg: print(msg, file=sys.stderr))
    except (ScorecutError, CheckpointError, CodecUnavailable, ValueError) as exc:
        print(f"scorecut train: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
