"""`scorecut train --config NAME [--init musicgen|DIR] [--video-backbone DIR] --data DIR --steps N --out RUN`.

DIR holds videos with their soundtracks. Without --init the whole network trains from scratch
(`debug` for tests); with --init musicgen it fine-tunes adapters on the installed MusicGen (the
LM's shape comes from its weights, --config sizes the rest). RUN gets metrics.jsonl (one JSON
line per logged step with `step`, `loss` and the parts of the loss; validation lines add
val_loss, val_ce_q<k> and val_beat_f), samples/step-N/*.wav, checkpoint.pt with
checkpoint.pt.sha256 and config.json; `--model vmas --checkpoint RUN/checkpoint.pt` serves it.
Several GPUs: `torchrun --nproc-per-node N -m scorecut.cli.main train ...`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="NAME", help="model size: debug, small or medium")
    p.add_argument("--data", required=True, type=Path, metavar="DIR", help="folder of videos with soundtracks")
    p.add_argument("--steps", required=True, type=int, metavar="N", help="total optimizer steps")
    p.add_argument("--out", required=True, type=Path, metavar="RUN", help="run folder")
    p.add_argument("--init", default="", metavar="musicgen|DIR",
                   help="fine-tune MusicGen: `musicgen` = the one installed by `scorecut models add musicgen`, "
                        "or a MusicGen folder (default: train from scratch)")
    p.add_argument("--video-backbone", default="", metavar="DIR",
                   help="a local CLIP/SigLIP folder: its frozen features feed the video encoder")
    p.add_argument("--adapters", default="lora", choices=("lora", "cross"),
                   help="with --init: low-rank adapters on the decoder's attention (lora) or its whole "
                        "cross-attention (cross)")
    p.add_argument("--lora-rank", type=int, default=0, metavar="R", help="adapter rank (default: the size's)")
    p.add_argument("--model-dir", default="", metavar="DIR", help="model folder (default: this user's)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                   help="autocast of the forward pass (auto: bf16 on CUDA, fp32 on the CPU); weights stay fp32")
    p.add_argument("--batch-size", type=int, default=0, help="clips per micro-batch (default: the config's)")
    p.add_argument("--grad-accum", type=int, default=0, help="micro-batches per step (default: the config's)")
    p.add_argument("--lr", type=float, default=0.0, help="peak learning rate (default: the config's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=1, metavar="N")
    p.add_argument("--checkpoint-every", type=int, default=500, metavar="N")
    p.add_argument("--validate-every", type=int, default=0, metavar="K",
                   help="validate on the held-out videos every K steps (default: at each checkpoint)")
    p.add_argument("--holdout", type=float, default=0.1, metavar="F", help="share of the videos held out (0: none)")
    p.add_argument("--samples", type=int, default=2, metavar="N", help="audio samples written per validation")
    p.add_argument("--ema-decay", type=float, default=0.999, metavar="D")
    p.add_argument("--no-window-offsets", action="store_true",
                   help="read windows only at multiples of the window length")
    p.add_argument("--remove-vocals", action="store_true",
                   help="train on the soundtracks without their vocals/dialogue (needs Demucs installed)")
    p.add_argument("--separator-model", default="htdemucs", metavar="NAME", help="the Demucs model for --remove-vocals")
    p.add_argument("--separator-repo", default="", metavar="DIR", help="a local folder of Demucs weights")
    p.add_argument("--stop-after", type=int, default=0, metavar="N",
                   help="stop with a checkpoint after N steps of this run (resume later with --resume)")
    p.add_argument("--codec", default="", metavar="PATH",
                   help="folder of the 32 kHz EnCodec weights (config.json + model.safetensors), from scratch only")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from scorecut.models.interface import ScorecutError
    from scorecut.models.vmas.checkpoint import CheckpointError
    from scorecut.models.vmas.codec import CodecUnavailable
    from scorecut.models.vmas.config import get_config
    from scorecut.models.vmas.separation import SeparatorUnavailable
    from scorecut.models.vmas.train import TrainOptions, train
    from scorecut.server.config import default_model_dir

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
    if not 0 <= args.holdout < 1:
        print("scorecut train: --holdout is a share of the videos, from 0 up to (not including) 1", file=sys.stderr)
        return 2
    opts = TrainOptions(steps=args.steps, out=args.out, resume=args.resume, device=args.device, seed=args.seed,
                        log_every=args.log_every, checkpoint_every=args.checkpoint_every,
                        batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
                        stop_after=args.stop_after, model_dir=Path(args.model_dir) if args.model_dir else
                        default_model_dir(), init=args.init, video_backbone=args.video_backbone,
                        adapters=args.adapters, lora_rank=args.lora_rank, precision=args.precision,
                        holdout=args.holdout, validate_every=args.validate_every, samples=args.samples,
                        ema_decay=args.ema_decay, window_offsets=not args.no_window_offsets,
                        remove_vocals=args.remove_vocals, separator_model=args.separator_model,
                        separator_repo=args.separator_repo)
    try:
        path = train(cfg, args.data, opts, log=lambda msg: print(msg, file=sys.stderr))
    except (ScorecutError, CheckpointError, CodecUnavailable, SeparatorUnavailable, ValueError,
            FileNotFoundError) as exc:
        print(f"scorecut train: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one line for the whole run
        print(path)
    return 0
