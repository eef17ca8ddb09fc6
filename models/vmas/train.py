"""Training VMAS: the joint loss (tokens + contrastive + beat) over cached windows.

Mixed precision (bfloat16 autocast) on CUDA, gradient accumulation, warmup then cosine decay,
gradient clipping, a checkpoint every `checkpoint_every` steps and at the end, and
RUN/metrics.jsonl with one line per logged step. Each step draws its batch and its guidance
dropout from a generator seeded by (seed, step), so a resumed run is bit-exact with one that
never stopped.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .codec import load_codec
from .config import VmasConfig
from .data import WindowDataset, build_cache
from .model import VmasNet


@dataclass(frozen=True)
class TrainOptions:
    steps: int  # total optimizer steps (a resumed run continues up to this)
    out: Path  # run folder: checkpoint.pt, metrics.jsonl, config.json, cache/
    resume: bool = False
    device: str = "auto"  # "auto" = CUDA when present
    seed: int = 0
    log_every: int = 1
    checkpoint_every: int = 500
    batch_size: int = 0  # 0 = the config's
    grad_accum: int = 0  # 0 = the config's
    lr: float = 0.0  # 0 = the config's
    model_dir: Path | None = None  # where an EnCodec folder is looked for when the config names none
    cache_dir: Path | None = None  # decoded-data shards; None = RUN/cache (shareable between runs)
    stop_after: int = 0  # stop (with a checkpoint) after this many steps of this run; 0 = run to `steps`


def resolve_device(device: str) -> str:
    """"auto" -> cuda when present, else cpu; ValueError for a device this machine lacks."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("no CUDA device is available here: train with --device cpu (slow) or on a GPU machine")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def lr_at(step: int, base: float, warmup: int, total: int) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to 10 % at `total`."""
    if step <= warmup:
        return base * step / max(1, warmup)
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train(cfg: VmasConfig, data_dir: Path, opts: TrainOptions, log=print) -> Path:
    """Train (or resume) and return the checkpoint path."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    device = resolve_device(opts.device)
    state = None
    if opts.resume:
        state = load_checkpoint(ckpt_path)
        if state["config"].to_dict() != cfg.to_dict():
            raise CheckpointError(f"{ckpt_path} was trained with config {state['config'].name!r}, not "
                                  f"{cfg.name!r}: resume with the same --config")
    codec = load_codec(cfg.codec, opts.model_dir, device="cpu")
    data = WindowDataset(build_cache(Path(data_dir), cfg, codec, opts.cache_dir or out / "cache", log=log))
    log(f"{len(data)} training windows of {cfg.window_s:g} s")

    torch.manual_seed(opts.seed)
    model = VmasNet(cfg).to(device)
    base_lr = opts.lr or cfg.lr
    optimizer = torch.optim.AdamW(model.parameters(), lr=base_lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    start = 0
    if state is not None:
        model.load_state_dict(state["model"])
        if state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        log(f"resuming at step {start}")
    metrics_path = out / "metrics.jsonl"
    kept = []
    if opts.resume and metrics_path.is_file():  # drop lines logged after the checkpoint
        kept = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= start]
    metrics_path.write_text("".join(ln + "\n" for ln in kept))

    batch_size, accum = opts.batch_size or cfg.batch_size, opts.grad_accum or cfg.grad_accum
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    model.train()
    t0 = time.perf_counter()
    with open(metrics_path, "a") as metrics:
        last = opts.steps if not opts.stop_after else min(opts.steps, start + opts.stop_after)
        for step in range(start + 1, last + 1):
            lr = lr_at(step, base_lr, cfg.warmup_steps, opts.steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            g = _step_generator(opts.seed, step)
            torch.manual_seed(opts.seed * 1_000_003 + step)  # dropout, if the config has any
            parts = {"loss": 0.0, "ce": 0.0, "contrastive": 0.0, "beat": 0.0}
            for _ in range(accum):
                idx = data.sample(batch_size, g)
                with amp:
                    losses = model.losses(data.batch(idx, device), generator=g)
                (losses["loss"] / accum).backward()
                for k in parts:
                    parts[k] += float(losses[k].detach()) / accum
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step % opts.log_every == 0 or step == opts.steps:
                row = {"step": step, **{k: round(v, 6) for k, v in parts.items()}, "lr": lr,
                       "temperature": round(float(model.logit_scale.detach().exp().reciprocal()), 6),
                       "elapsed_s": round(time.perf_counter() - t0, 3)}
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
                log(f"step {step}/{opts.steps}  loss {parts['loss']:.4f}  (tokens {parts['ce']:.4f}, "
                    f"contrastive {parts['contrastive']:.4f}, beat {parts['beat']:.4f})")
            if step % opts.checkpoint_every == 0 or step == last:
                save_checkpoint(ckpt_path, cfg, model, step, optimizer)
    if start >= opts.steps and not ckpt_path.is_file():
        save_checkpoint(ckpt_path, cfg, model, start, optimizer)
    return ckpt_path
