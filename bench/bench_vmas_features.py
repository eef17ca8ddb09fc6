"""VMAS on a frozen image backbone: training step time with its features cached vs computed, and
the size of feature shards vs pixel shards.

Run: .venv/bin/python bench/bench_vmas_features.py [--tower b32|tiny] [--steps 3] [--videos 2] [--threads 1]
A random CLIP vision tower (ViT-B/32's shape by default: 12 layers, 768 wide, 224 px, patch 32;
`tiny`: the tests' 2-layer 32-wide one) is saved to a temporary folder with its processor and
loaded through backbone.py, as `--video-backbone DIR` would. PyAV makes `--videos` 10 s music
videos at 640x360. Then, on the `debug` VMAS config with that backbone, CPU:
- shards: the same videos cut into 10 s windows (8 fps: 80 frames) as backbone features
  (float16, what training caches) and as pixels: letterboxed 112x112 (the scratch CNN at `small`
  size, the old shards) and 224x224 (the backbone's input, what computing features at train time
  would have to store); total bytes of the shard files, and the ratios.
- step time: one optimizer step on a batch of 4 windows of 2 s (64 frames), from cached features
  vs from 224 px pixels through the frozen backbone (preprocessing + tower, no gradient) in the
  step; `--steps` timed steps each after one warm-up, interleaved, median. Ratio computed / cached.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

TOWERS = {
    "b32": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
            "image_size": 224, "patch_size": 32},
    "tiny": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "image_size": 32, "patch_size": 8},
}


def make_tower(folder: Path, shape: dict) -> Path:
    import transformers
    from transformers import CLIPVisionConfig, CLIPVisionModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)
    CLIPVisionModel(CLIPVisionConfig(**shape)).save_pretrained(folder)
    side = shape["image_size"]
    processor = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    processor.save_pretrained(folder)
    return folder


def make_video(path: Path, seconds: float, seed: int, size=(640, 360), fps: int = 25, rate: int = 32_000) -> Path:
    """Moving stripes that jump on the beat, over a clicking tone."""
    rng = np.random.default_rng(seed)
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    base = rng.uniform(40, 200, 3)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "23"}
        a = c.add_stream("aac", rate=rate)
        a.layout = "mono"
        for i in range(int(seconds * fps)):
            t = i / fps
            jump = 80 * (t % 0.5 < 0.08)
            img = np.clip(base + 50 * np.sin(xs[..., None] * 0.05 + t * 3) + jump, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        n = int(seconds * rate)
        tt = np.arange(n) / rate
        wav = 0.1 * np.sin(2 * np.pi * (220 + 20 * seed) * tt) + 0.5 * ((tt % 0.5) < 0.02) * rng.normal(0, 1, n)
        wav = np.clip(wav, -1, 1).astype(np.float32)
        for k in range(0, n, 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(wav[None, k : k + 1024]), format="fltp", layout="mono")
            f.sample_rate, f.pts = rate, k
            for p in a.encode(f):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def shard_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("shard-*.pt"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tower", choices=sorted(TOWERS), default="b32")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from scorecut.models.vmas import data as vdata
    from scorecut.models.vmas.backbone import ImageBackbone, with_video_backbone
    from scorecut.models.vmas.codec import load_codec
    from scorecut.models.vmas.config import DEBUG
    from scorecut.models.vmas.model import VmasNet

    tmp = Path(tempfile.mkdtemp(prefix="scorecut_bench_features_"))
    tower = make_tower(tmp / "clip", TOWERS[args.tower])
    clips = tmp / "clips"
    clips.mkdir()
    for i in range(args.videos):
        make_video(clips / f"v{i}.mp4", 10.0, seed=i)
    codec = load_codec(DEBUG.codec)
    quiet = {"log": lambda s: None}

    # Shards of 10 s windows: features vs pixels
    ten = dataclasses.replace(DEBUG, window_s=10.0)
    feat_cfg = with_video_backbone(ten, tower)
    t0 = time.perf_counter()
    feat_dir = vdata.build_cache(clips, feat_cfg, codec, tmp / "cache", **quiet)
    t_feat = time.perf_counter() - t0
    sizes = {"features": shard_bytes(feat_dir)}
    for side in (112, 224):
        cfg = dataclasses.replace(ten, video=dataclasses.replace(ten.video, frame_size=side))
        sizes[f"pixels {side}"] = shard_bytes(vdata.build_cache(clips, cfg, codec, tmp / "cache", **quiet))
    n_windows = len(vdata.WindowDataset(feat_dir))
    print(f"tower {args.tower}: width {feat_cfg.video.backbone_width}; {args.videos} videos of 10 s -> "
          f"{n_windows} windows of 80 frames; feature shards made in {t_feat:.1f} s")
    for k, v in sizes.items():
        print(f"  shards, {k:>10}: {v / 1e6:8.2f} MB  ({v / n_windows / 80:8.0f} B per frame with its audio share)")
    for side in (112, 224):
        print(f"  pixels {side} / features: {sizes[f'pixels {side}'] / sizes['features']:.1f}x")

    # Step time on 2 s windows (debug): cached features vs pixels through the backbone in the step
    cfg = with_video_backbone(DEBUG, tower)
    pix_cfg = dataclasses.replace(DEBUG, video=dataclasses.replace(DEBUG.video, frame_size=224))
    cached = vdata.WindowDataset(vdata.build_cache(clips, cfg, codec, tmp / "cache", **quiet), cfg.video)
    pixels = vdata.WindowDataset(vdata.build_cache(clips, pix_cfg, codec, tmp / "cache", **quiet))
    backbone = ImageBackbone(tower, cfg.video.backbone_sha256)
    torch.manual_seed(0)
    net = VmasNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    idx = list(range(min(4, len(cached))))

    def step(batch: dict) -> float:
        t = time.perf_counter()
        if "frames" in batch:  # computed: the frozen backbone runs in the step
            frames = batch.pop("frames")  # (B, F, 3, 224, 224) uint8
            b, f = frames.shape[:2]
            hwc = frames.reshape(b * f, *frames.shape[2:]).permute(0, 2, 3, 1).contiguous()
            batch["features"] = backbone.features(hwc).view(b, f, -1)
        loss = net.losses(batch, generator=torch.Generator().manual_seed(0))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    times = {"cached": [], "computed": []}
    for i in range(args.steps + 1):  # the first of each is a warm-up
        for name, ds in (("cached", cached), ("computed", pixels)):
            dt = step(ds.batch(idx))
            if i:
                times[name].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"step (batch {len(idx)} x 16 frames, debug LM): cached {med['cached'] * 1e3:.1f} ms, computed "
          f"{med['computed'] * 1e3:.1f} ms (medians of {args.steps}); computed / cached = "
          f"{med['computed'] / med['cached']:.1f}x")
    print("  all steps (s):", {k: [round(x, 4) for x in v] for k, v in times.items()})


if __name__ == "__main__":
    main()
