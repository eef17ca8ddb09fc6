"""VMAS music LM: decode steps per second with the static KV cache against no cache.

Run: /work/main/.venv/bin/python bench/bench_vmas_decode.py [--config small] [--steps 500]
     [--device cpu|cuda] [--compile] [--exact] [--threads N]
Random weights (speed does not depend on them). Both modes decode the same `--steps` steps at
batch 1 with guidance (2 rows), each in its own process so each has its own peak memory.
"No cache" recomputes the whole prefix every step, as a decoder without a cache must; with
`--exact` all steps are run, otherwise its time is integrated from timed prefix lengths
(every 50th step; the cost of a step is smooth in its length), which the output says.
On CUDA with `--compile`, the one-token step is compiled (mode "reduce-overhead") and the
real-time factor is printed: seconds of music per second of decoding.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time


def _setup(config: str, device: str, steps: int, threads: int = 0):
    import torch

    if threads:
        torch.set_num_threads(threads)
    from scorecut.models.vmas.config import get_config
    from scorecut.models.vmas.music_lm import MusicLM

    torch.manual_seed(0)
    cfg = get_config(config)
    lm = MusicLM(cfg.lm, cfg.codec.n_q, cfg.codec.cardinality).to(device).eval()
    rows = 2  # batch 1 with classifier-free guidance
    text = torch.randn(rows, 16, cfg.lm.dim, device=device)  # a 16-token prompt, projected
    video = torch.randn(rows, 40, cfg.lm.dim, device=device)  # 10 s of video tokens at 4/s, projected
    keep = torch.tensor([True, False], device=device)  # the second row is guidance's null row
    memory = lm.memory(rows, text=text, text_mask=torch.ones(rows, 16, dtype=torch.bool, device=device),
                       video=video, video_steps=torch.arange(40, device=device) * 12.5,
                       keep_text=keep, keep_video=keep)
    tokens = torch.randint(0, cfg.codec.cardinality, (rows, cfg.codec.n_q, steps), device=device)
    beat = torch.rand(rows, steps, device=device)
    return torch, cfg, lm, memory, tokens, beat


def _sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


def run_cached(config: str, steps: int, device: str, compile_step: bool, threads: int, queue) -> None:
    torch, cfg, lm, memory, tokens, beat = _setup(config, device, steps, threads)
    with torch.no_grad(), lm.decoding(2, steps, memory) as state:
        step = lm.forward
        if compile_step:
            step = torch.compile(lm.forward, mode="reduce-overhead", fullgraph=False)
        positions = [torch.tensor([t], device=device) for t in range(steps)]
        for t in range(min(8, steps)):  # warm-up (compilation happens here)
            step(tokens[..., t : t + 1], beat[:, t : t + 1], state=state, pos=positions[t])
        _sync(torch, device)
        t0 = time.perf_counter()
        for t in range(steps):
            step(tokens[..., t : t + 1], beat[:, t : t + 1], state=state, pos=positions[t])
        _sync(torch, device)
        elapsed = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    queue.put({"seconds": elapsed, "steps": steps, "frame_rate": cfg.codec.frame_rate, "gpu_peak_mib": peak,
               "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_uncached(config: str, steps: int, device: str, exact: bool, threads: int, queue) -> None:
    torch, cfg, lm, memory, tokens, beat = _setup(config, device, steps, threads)

    def step(t: int) -> float:
        _sync(torch, device)
        t0 = time.perf_counter()
        lm(tokens[..., : t + 1], beat[:, : t + 1], memory)
        _sync(torch, device)
        return time.perf_counter() - t0

    with torch.no_grad():
        step(8)  # warm-up
        if exact:
            elapsed = sum(step(t) for t in range(steps))
        else:
            sample = list(range(0, steps, 50)) + [steps - 1]
            times = [step(t) for t in sample]
            import numpy as np

            elapsed = float(np.interp(np.arange(steps), sample, times).sum())
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    queue.put({"seconds": elapsed, "steps": steps, "estimated": not exact, "gpu_peak_mib": peak,
               "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="compile the one-token step (CUDA)")
    ap.add_argument("--exact", action="store_true", help="run every uncached step instead of integrating")
    ap.add_argument("--skip-uncached", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    args = ap.parse_args()
    cached = _in_child(run_cached, args.config, args.steps, args.device, args.compile, args.threads)
    result = {"config": args.config, "device": args.device, "steps": args.steps, "threads": args.threads,
              "cached": cached,
              "cached_steps_per_s": args.steps / cached["seconds"],
              "real_time_factor": args.steps / cached["frame_rate"] / cached["seconds"]}
    if args.device == "cuda":
        import torch

        result["card"] = torch.cuda.get_device_name(0)
    if not args.skip_uncached:
        uncached = _in_child(run_uncached, args.config, args.steps, args.device, args.exact, args.threads)
        result["uncached"] = uncached
        result["uncached_steps_per_s"] = args.steps / uncached["seconds"]
        result["speedup"] = uncached["seconds"] / cached["seconds"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
