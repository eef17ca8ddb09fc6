"""VMAS generation with the one-token step compiled (torch.compile) against eager, same run.

Run: /work/main/.venv/bin/python bench/bench_vmas_compiled.py [--config debug] [--seconds 6]
     [--device cpu|cuda] [--mode default|reduce-overhead] [--threads N]
Greedy decoding with guidance over several sliding windows (random weights), so both must give
identical codes; prints compile time, eager and compiled seconds, their ratio, the real-time
factor of each, and whether the codes match. On a GPU use --mode reduce-overhead (CUDA graphs).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from scorecut.models.vmas.config import get_config
from scorecut.models.vmas.generate import GenerateOptions, generate_codes
from scorecut.models.vmas.model import VmasNet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="debug")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mode", default="default")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = get_config(args.config)
    net = VmasNet(cfg).to(args.device).eval()
    frames = torch.randint(0, 255, (1, int(args.seconds * cfg.video.fps), 3, cfg.video.frame_size,
                                    cfg.video.frame_size), dtype=torch.uint8)
    n = int(args.seconds * cfg.codec.frame_rate)
    opts = GenerateOptions(temperature=0.0, cfg_scale=3.0, candidates=1)

    def timed(step_fn=None):
        if args.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        codes = generate_codes(net, vt, beat, n, opts, step_fn=step_fn)
        if args.device == "cuda":
            torch.cuda.synchronize()
        return codes, time.perf_counter() - t0

    with torch.no_grad():
        vt = net.video(frames.to(args.device))
        beat = torch.rand(n, generator=torch.Generator().manual_seed(1))
        timed()  # warm-up
        eager, eager_s = timed()
        step = torch.compile(net.lm.forward, mode=args.mode)
        _, compile_s = timed(step)  # includes compilation
        compiled, compiled_s = timed(step)
    result = {"config": args.config, "device": args.device, "mode": args.mode, "music_s": args.seconds,
              "eager_s": eager_s, "compiled_s": compiled_s, "first_compiled_run_s": compile_s,
              "speedup": eager_s / compiled_s, "rtf_eager": args.seconds / eager_s,
              "rtf_compiled": args.seconds / compiled_s, "codes_equal": bool(torch.equal(eager, compiled))}
    if args.device == "cuda":
        result["card"] = torch.cuda.get_device_name(0)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
