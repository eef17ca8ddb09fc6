"""VMAS on a GPU, one prepared run: bf16 fine-tuning steps/s, compiled decode real-time factor, peak memory.

Run (a session with a lent GPU):  .venv/bin/python bench/gpu_vmas.py            # ~3-5 min on an H100
Check that it works (CPU, tiny):  .venv/bin/python bench/gpu_vmas.py --tiny     # ~1 min

Random weights in MusicGen-small's shape (1024 wide, 24 layers, 16 heads, FFN 4096, 4 codebooks
of 2048 at 50 Hz, 2048 positions; speed does not depend on the values), built as `load_musicgen`
builds it (new parameters inert). Nothing is downloaded.

1. Fine-tuning: a VMAS net on that base with the fine-tune's trainable set (finetune.add_adapters:
   LoRA on attention, the new conditioning parts), video from cached backbone features (768 wide,
   8 fps), 10 s windows, bf16 autocast, AdamW; steps/s over `--train-steps` after warm-up, and the
   peak GPU memory of training.
2. Decoding at batch 1 with guidance (2 rows: text + video tokens, and the null row), top-k 250,
   through `generate` (the serving path): eager on `--eager-frames` frames, then the one-token
   step compiled (mode "reduce-overhead": CUDA graphs) on `--frames` frames, after one compiling
   run. Real-time factor = seconds of music / seconds of decoding (goal >= 20x on an H100-class
   card); the compiled / eager ratio is from the same run; peak GPU memory of decoding.
Prints one JSON object (the card's name in "device"); paste its numbers into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from scorecut.models.vmas.config import (
    SMALL,
    CodecConfig,
    LMConfig,
    get_config,
)
from scorecut.models.vmas.generate import GenerateOptions, WindowCondition, generate
from scorecut.models.vmas.model import VmasNet
from scorecut.models.vmas.music_lm import MusicLM

MUSICGEN_SMALL = LMConfig(dim=1024, n_layers=24, n_heads=16, ffn_dim=4096, activation="gelu", dropout=0.0,
                          max_steps=2048)
MUSICGEN_CODEC = CodecConfig(kind="musicgen", sample_rate=32_000, frame_rate=50, n_q=4, cardinality=2048)


def _config(tiny: bool):
    if tiny:
        d = get_config("debug")
        video = dataclasses.replace(d.video, backbone="bench", backbone_width=24)
        return dataclasses.replace(d, video=video, lm=dataclasses.replace(d.lm, max_steps=256)), "debug"
    video = dataclasses.replace(SMALL.video, backbone="bench", backbone_width=768)  # CLIP ViT-B/16's width
    cfg = dataclasses.replace(SMALL, video=video, lm=MUSICGEN_SMALL, codec=MUSICGEN_CODEC)
    return cfg, "small"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _peak_mib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None


def _reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _batch(cfg, batch: int, device: str, g: torch.Generator) -> dict:
    t = cfg.window_frames
    n = round(cfg.window_s * cfg.video.fps)
    return {
        "features": torch.randn(batch, n, cfg.video.backbone_width, generator=g).to(device),
        "codes": torch.randint(0, cfg.codec.cardinality, (batch, cfg.codec.n_q, t), generator=g).to(device),
        "visual_beat": torch.rand(batch, t, generator=g).to(device),
        "music_beat": (torch.rand(batch, t, generator=g) > 0.9).float().to(device),
    }


def finetune_speed(cfg, label: str, device: str, batch: int, steps: int) -> dict:
    from scorecut.models.vmas.finetune import LORA_RANKS, FinetuneConfig, add_adapters

    torch.manual_seed(0)
    lm = MusicLM(cfg.lm, cfg.codec.n_q, cfg.codec.cardinality)
    lm.zero_new_parameters()  # as load_musicgen leaves a base
    net = VmasNet(cfg, lm=lm)
    add_adapters(net, FinetuneConfig(lora_rank=LORA_RANKS[label]))
    net = net.to(device).train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    g = torch.Generator().manual_seed(0)
    data = [_batch(cfg, batch, device, g) for _ in range(2)]

    def step(i: int) -> float:
        with amp:
            loss = net.losses(data[i % 2], generator=torch.Generator().manual_seed(i))["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    for i in range(3):  # warm-up: allocator, kernels
        step(i)
    _sync(device)
    _reset_peak(device)
    t0 = time.perf_counter()
    losses = [step(i) for i in range(steps)]
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"batch": batch, "window_s": cfg.window_s, "steps": steps, "seconds": seconds,
            "steps_per_s": steps / seconds, "clips_per_s": steps * batch / seconds,
            "trainable_params": sum(p.numel() for p in params),
            "all_params": sum(p.numel() for p in net.parameters()),
            "peak_gpu_mib": _peak_mib(device), "loss_first_last": [losses[0], losses[-1]]}


def decode_speed(cfg, device: str, frames: int, eager_frames: int, compile_step: bool) -> dict:
    torch.manual_seed(0)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    lm = MusicLM(cfg.lm, cfg.codec.n_q, cfg.codec.cardinality)
    lm.zero_new_parameters()
    lm = lm.to(device=device, dtype=dtype).eval()
    for layer in lm.layers:  # gates open: the video columns cost what they will after training
        layer.encoder_attn.video_gate.data.fill_(1.0)
    g = torch.Generator().manual_seed(1)
    text = (torch.randn(1, 16, cfg.lm.dim, generator=g) * 0.1).to(device)  # a 16-token prompt
    video = torch.randn(1, 40, cfg.lm.dim, generator=g).to(device)  # 10 s of video tokens at 4/s
    cond = lm.memory(1, text=text, text_mask=torch.ones(1, 16, dtype=torch.bool, device=device),
                     video=video, video_steps=torch.arange(40, device=device) * 12.5)
    condition = WindowCondition(cond, lm.memory(1), torch.rand(frames, generator=g).to(device))
    opts = GenerateOptions(top_k=250, cfg_scale=3.0, candidates=1, seed=0)
    window = cfg.lm.max_steps - cfg.codec.n_q + 1

    def timed(n: int, step_fn=None) -> float:
        _sync(device)
        t0 = time.perf_counter()
        codes = generate(lm, condition, n, window_frames=min(window, n), opts=opts, step_fn=step_fn)
        _sync(device)
        assert codes.shape == (1, cfg.codec.n_q, n)
        return time.perf_counter() - t0

    fr = cfg.codec.frame_rate
    out = {"dtype": str(dtype).replace("torch.", ""), "rows": 2}
    with torch.no_grad():
        timed(min(eager_frames, 20))  # warm-up
        _reset_peak(device)
        eager_s = timed(eager_frames)
        out.update(eager_frames=eager_frames, eager_s=eager_s, rtf_eager=eager_frames / fr / eager_s)
        if compile_step:
            step = torch.compile(lm.forward, mode="reduce-overhead")
            out["first_compiled_run_s"] = timed(frames, step)  # includes compiling (and CUDA graph capture)
            compiled_s = timed(frames, step)
            out.update(frames=frames, compiled_s=compiled_s, rtf_compiled=frames / fr / compiled_s,
                       compiled_over_eager_speedup=(eager_s / eager_frames) / (compiled_s / frames))
        out["peak_gpu_mib"] = _peak_mib(device)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="debug sizes on the CPU: checks that the script works")
    ap.add_argument("--device", default="", help="cuda (default when present) or cpu")
    ap.add_argument("--batch", type=int, default=8, help="clips per fine-tuning step")
    ap.add_argument("--train-steps", type=int, default=20)
    ap.add_argument("--frames", type=int, default=500, help="codec frames decoded compiled (500 = 10 s)")
    ap.add_argument("--eager-frames", type=int, default=100)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    device = args.device or ("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if args.tiny:
        args.batch, args.train_steps, args.frames, args.eager_frames = 2, 3, 60, 30
        torch.set_num_threads(1)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    cfg, label = _config(args.tiny)
    result = {"size": label, "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
              "torch": torch.__version__, "lm": dataclasses.asdict(cfg.lm)}
    if not args.skip_train:
        result["finetune"] = finetune_speed(cfg, label, device, args.batch, args.train_steps)
        print(json.dumps({"finetune": result["finetune"]}), flush=True)  # kept if decoding fails later
        if device == "cuda":
            torch.cuda.empty_cache()
    result["decode"] = decode_speed(cfg, device, args.frames, args.eager_frames, not args.no_compile)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
