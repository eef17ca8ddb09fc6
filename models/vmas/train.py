"""Training VMAS: the joint loss (tokens + contrastive + beat) over cached windows.

From scratch (`debug` for tests) every weight trains. With `init` (the installed MusicGen, or a
MusicGen folder) the music LM is MusicGen's decoder, frozen, and only the new parts train: low-
rank adapters on its attention (or its whole cross-attention), the video projection, the
temporal video layers and the heads (finetune.py). Master weights stay float32; the forward runs
under bfloat16 autocast on CUDA (and on the CPU when asked). Gradient accumulation, warmup then
cosine decay, clipping, a moving average of the trained weights (what the run serves), a held-out
split validated every `validate_every` steps (validation.py), torchrun data parallelism
(distributed.py), and RUN/metrics.jsonl with one line per logged step.

Each step's batch (sampler.py), window offsets and guidance dropout are pure functions of
(seed, step), so a resumed run is bit-exact with one that never stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import VmasConfig
from .distributed import barrier, check_in_sync, mean_across, setup, teardown, world_from_env, wrap
from .ema import Ema
from .loader import Prefetcher, WindowReader, collate
from .optim import lr_at, make_optimizer
from .sampler import EpochSampler, WindowRef, grain, offsets, split_by_source

__all__ = ["TrainOptions", "lr_at", "resolve_device", "train"]


@dataclass(frozen=True)
class TrainOptions:
    steps: int  # total optimizer steps (a resumed run continues up to this)
    out: Path  # run folder: checkpoint.pt, metrics.jsonl, config.json, samples/, cache/
    resume: bool = False
    device: str = "auto"  # "auto" = CUDA when present
    seed: int = 0
    log_every: int = 1
    checkpoint_every: int = 500
    batch_size: int = 0  # clips per micro-batch on each rank; 0 = the config's
    grad_accum: int = 0  # 0 = the config's
    lr: float = 0.0  # 0 = the config's
    model_dir: Path | None = None  # where the installed MusicGen / EnCodec are looked for
    cache_dir: Path | None = None  # decoded-data shards; None = RUN/cache (shareable between runs)
    stop_after: int = 0  # stop (with a checkpoint) after this many steps of this run; 0 = run to `steps`
    init: str = ""  # "" = from scratch; "musicgen" = the installed MusicGen; else a MusicGen folder
    video_backbone: str = ""  # a local CLIP/SigLIP folder under the video encoder; "" = the config's
    adapters: str = "lora"  # with init: "lora" (low-rank adapters) | "cross" (the whole cross-attention)
    lora_rank: int = 0  # 0 = the size's default (finetune.LORA_RANKS)
    precision: str = "auto"  # "auto" = bf16 autocast on CUDA, fp32 on CPU | "bf16" | "fp32"
    holdout: float = 0.1  # share of the videos held out for validation (0 = none)
    validate_every: int = 0  # steps between validations; 0 = at every checkpoint
    samples: int = 2  # audio samples written per validation (RUN/samples/step-N/)
    ema_decay: float = 0.999
    window_offsets: bool = True  # start windows at random grains, not only at multiples of the window
    prefetch: int = 2  # batches prepared ahead on a thread; 0 = each when needed, no thread
    remove_vocals: bool = False  # soundtracks without their vocals stem (separation.py; Demucs installed)
    separator_model: str = "htdemucs"
    separator_repo: str = ""  # a local folder of the separator's weights


def resolve_device(device: str) -> str:
    """"auto" -> cuda when present, else cpu; ValueError for a device this machine lacks."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("no CUDA device is available here: train with --device cpu (slow) or on a GPU machine")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def autocast_for(device: str, precision: str):
    """The autocast context of the forward pass; master weights stay float32 in every case."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    if precision == "auto":
        precision = "bf16" if kind == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"unknown precision {precision!r}: use auto, bf16 or fp32")
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=precision == "bf16")


class _Losses(torch.nn.Module):
    """The network's training losses as a forward(), so DDP sees the pass it must synchronise."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, batch: dict, generator: torch.Generator):
        return self.net.losses(batch, generator=generator)


def _draw_generator(seed: int, draw: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + draw) * 1009 + rank)


def train(cfg: VmasConfig, data_dir: Path, opts: TrainOptions, log=print) -> Path:
    """Train (or resume) and return the checkpoint path."""
    from . import finetune

    world = world_from_env()
    device = setup(world, resolve_device(opts.device))
    say = log if world.main else (lambda msg: None)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    amp = autocast_for(device, opts.precision)
    state = load_checkpoint(ckpt_path) if opts.resume else None

    separation = None
    if opts.remove_vocals:  # checked before anything heavy is loaded
        from .separation import SeparationOptions, VocalsRemoved, load_vocal_remover

        separation = SeparationOptions(opts.separator_model, opts.separator_repo)
        remove = load_vocal_remover(separation, device)
    setup_ = finetune.prepare(cfg, opts, device, say)  # config, codec, network, base record
    cfg, net, codec = setup_.cfg, setup_.net, setup_.codec
    data_codec = VocalsRemoved(codec, remove) if separation else codec
    if state is not None:
        _check_resume(state, setup_, ckpt_path)

    cache_root = Path(opts.cache_dir or out / "cache") / (separation.cache_tag() if separation else "")
    if world.main:
        reader = WindowReader(_dataset(data_dir, cfg, data_codec, cache_root, say), cfg.window_s)
    barrier(world)  # rank 0 decoded the data; the others read its cache
    if not world.main:
        reader = WindowReader(_dataset(data_dir, cfg, data_codec, cache_root, say), cfg.window_s)
    train_idx, val_idx = split_by_source(reader.sources, opts.holdout)
    batch_size, accum = opts.batch_size or cfg.batch_size, opts.grad_accum or cfg.grad_accum
    sampler = EpochSampler(train_idx, reader.sources, batch_size * world.size, opts.seed)
    per_rank = sampler.batch // world.size
    if per_rank < 1:
        raise ValueError(f"{sampler.n_videos} training videos cannot fill a batch on each of {world.size} ranks: "
                         "add videos or use fewer processes")
    say(f"{len(train_idx)} training windows of {cfg.window_s:g} s from {sampler.n_videos} videos, "
        f"{len(val_idx)} held out; batches of {per_rank} per rank")
    if per_rank < batch_size:
        say(f"batch size {batch_size} lowered to {per_rank}: a batch holds at most one window per video")
    g_video, g_audio = grain(*reader.rates())
    n_grains = reader.rates()[1] * cfg.window_s / g_audio if opts.window_offsets else 1
    n_grains = max(1, round(n_grains))

    net.to(device)
    base_lr = opts.lr or cfg.lr
    optimizer = make_optimizer(net, base_lr, cfg.weight_decay)
    ema = Ema(net, opts.ema_decay)
    start = 0
    if state is not None:
        net.load_state_dict(state["model"], strict=setup_.base is None)
        if state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
        if state["ema"] is not None:
            ema.load_state_dict(state["ema"])
        start = state["step"]
        say(f"resuming at step {start}")
    metrics_path = out / "metrics.jsonl"
    if world.main:
        kept = []
        if opts.resume and metrics_path.is_file():  # drop lines logged after the checkpoint
            kept = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= start]
        metrics_path.write_text("".join(ln + "\n" for ln in kept))

    def save(step: int) -> None:
        if world.main:
            save_checkpoint(ckpt_path, cfg, setup_.trained_weights(), step, optimizer, ema=ema.state_dict(),
                            base=setup_.base, finetune=setup_.finetune)

    def make(draw: int) -> dict:
        refs = sampler.draw(draw)[world.rank * per_rank : (world.rank + 1) * per_rank]
        picks = offsets(refs, n_grains, reader.has_next, opts.seed, draw)
        return collate([reader.read(r, (g_video, g_audio)) for r in picks])

    model = wrap(_Losses(net), world, device)
    net.train()
    last = opts.steps if not opts.stop_after else min(opts.steps, start + opts.stop_after)
    validate_every = opts.validate_every or opts.checkpoint_every
    t0 = time.perf_counter()
    draws = range(start * accum, last * accum)
    with Prefetcher(draws, make, opts.prefetch) as batches, open(metrics_path, "a") as metrics:
        batches = iter(batches)
        for step in range(start + 1, last + 1):
            lr = lr_at(step, base_lr, cfg.warmup_steps, opts.steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(opts.seed * 1_000_003 + step)  # dropout, if the config has any
            parts = {"loss": 0.0, "ce": 0.0, "contrastive": 0.0, "beat": 0.0}
            for _ in range(accum):
                draw, cpu_batch = next(batches)
                batch = {k: v.to(device, non_blocking=True) for k, v in cpu_batch.items()}
                with amp:
                    losses = model(batch, _draw_generator(opts.seed, draw, world.rank))
                (losses["loss"] / accum).backward()
                for k in parts:
                    parts[k] += float(losses[k].detach()) / accum
            torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            ema.update()
            parts = {k: mean_across(v, world, device) for k, v in parts.items()}
            row = None
            if step % opts.log_every == 0 or step == opts.steps:
                row = {"step": step, **{k: round(v, 6) for k, v in parts.items()}, "lr": lr,
                       "temperature": round(float(net.logit_scale.detach().exp().reciprocal()), 6),
                       "elapsed_s": round(time.perf_counter() - t0, 3)}
            if world.main and val_idx and (step % validate_every == 0 or step == last):
                row = {**(row or {"step": step, "loss": round(parts["loss"], 6)}),
                       **_validate(net, ema, codec, reader, val_idx, per_rank, device, amp, out, step, opts, say)}
                net.train()
            if world.main and row is not None:
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
                say(f"step {step}/{opts.steps}  loss {parts['loss']:.4f}  (tokens {parts['ce']:.4f}, "
                    f"contrastive {parts['contrastive']:.4f}, beat {parts['beat']:.4f})"
                    + (f"  val {row['val_loss']:.4f}, beat F {row['val_beat_f']:.2f}" if "val_loss" in row else ""))
            if step % opts.checkpoint_every == 0 or step == last:
                save(step)
    if start >= opts.steps and not ckpt_path.is_file():
        save(start)
    check_in_sync([p for p in net.parameters() if p.requires_grad], world, device)
    barrier(world)
    teardown(world)
    return ckpt_path


def _dataset(data_dir, cfg, codec, cache_root: Path, say):
    from .data import WindowDataset, build_cache

    return WindowDataset(build_cache(Path(data_dir), cfg, codec, cache_root, log=say))


def _check_resume(state: dict, setup_, path: Path) -> None:
    if state["config"].to_dict() != setup_.cfg.to_dict():
        raise CheckpointError(f"{path} was trained with config {state['config'].name!r}, not "
                              f"{setup_.cfg.name!r}: resume with the same --config")
    if (state["base"] or {}).get("sha256") != (setup_.base or {}).get("sha256") or \
            state["finetune"] != setup_.finetune:
        raise CheckpointError(f"{path} was trained from another base or with other adapters: resume with the "
                              "same --init and adapter options")


def _validate(net, ema, codec, reader, val_idx, batch_size, device, amp, out, step, opts, say) -> dict:
    from .validation import validate, write_samples

    net.eval()
    refs = [WindowRef(i) for i in val_idx]
    chunks = [refs[i : i + batch_size] for i in range(0, len(refs), batch_size)]
    batches = [collate([reader.read(r, (1, 1)) for r in c], device) for c in chunks]
    with ema.applied():
        with amp:
            metrics = validate(net, batches)
        if opts.samples > 0:  # decoded as served: float32, static KV cache
            firsts, seen = [], set()  # one window per held-out video
            for i in val_idx:
                if reader.sources[i] not in seen and len(firsts) < opts.samples:
                    seen.add(reader.sources[i])
                    firsts.append(i)
            batch = collate([reader.read(WindowRef(i), (1, 1)) for i in firsts], device)
            names = [f"{reader.sources[i].rsplit('.', 1)[0]}-{reader.starts_s[i]:g}s" for i in firsts]
            write_samples(net, codec, batch, names, out / "samples" / f"step-{step:06d}", seed=opts.seed)
    return metrics
