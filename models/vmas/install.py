"""Installing a trained VMAS checkpoint into the model folder, and verifying an installed one.

`install` checks the checkpoint (sha256, format), writes a serving copy (the moving average of
the weights, no optimizer state; a fine-tune keeps the name and sha256 of its MusicGen base) to
`<model dir>/vmas/checkpoint.pt` (atomically, with its sha256), and copies a local
EnCodec folder to `<model dir>/encodec_32khz` when the model uses one. `verify` loads what is
installed exactly as the server will and generates one second of music from a still picture.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from .checkpoint import load_checkpoint, save_checkpoint, serving_weights, sha256_file

CODEC_FOLDER = "encodec_32khz"


def install(checkpoint: Path, model_dir: Path, codec_dir: Path | None = None) -> Path:
    """Install `checkpoint` (CheckpointError / FileNotFoundError say what is wrong); returns its new path."""
    from .serving import installed_checkpoint

    state = load_checkpoint(Path(checkpoint))
    cfg = state["config"]
    if cfg.codec.kind == "encodec":
        source = Path(codec_dir) if codec_dir else (Path(cfg.codec.path) if cfg.codec.path else None)
        if source is None or not (source / "config.json").is_file():
            raise FileNotFoundError(
                "this model decodes with the 32 kHz EnCodec: give its folder (config.json and weights) "
                "with --codec DIR")
        target = Path(model_dir) / CODEC_FOLDER
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
        cfg = dataclasses.replace(cfg, codec=dataclasses.replace(cfg.codec, path=""))  # found in the model folder
    dest = installed_checkpoint(Path(model_dir))
    # The serving copy: the run's moving average as the weights, no training state; a fine-tune
    # keeps the record of the MusicGen base it needs.
    return save_checkpoint(dest, cfg, serving_weights(state), state["step"], optimizer=None, base=state["base"],
                           finetune=state["finetune"])


def verify(model_dir: Path | None = None, checkpoint: str = "", device: str = "cpu") -> dict:
    """Load as the server does and make 1 s of music; ModelUnavailable when it cannot."""
    import numpy as np
    import torch

    from .beats import activation
    from .generate import GenerateOptions, generate_codes
    from .serving import installed_checkpoint, load

    t0 = time.perf_counter()
    model = load(device=device, checkpoint=checkpoint, model_dir=model_dir)
    path = Path(model.checkpoint)
    cfg = model.net.cfg
    seconds = 1.0
    video = model.frame_input.blank(int(seconds * cfg.video.fps))[None]  # (1, N, ...) black, through the served path
    n = int(seconds * cfg.codec.frame_rate)
    with torch.no_grad():
        vt = model.net.video(video.to(next(model.net.parameters()).device))
        beat = torch.from_numpy(activation([0.5], n, cfg.codec.frame_rate, cfg.beat_sigma_s))
        codes = generate_codes(model.net, vt, beat, n, GenerateOptions(seed=0))
    wav = model.codec.decode(codes)[0, 0].cpu().numpy()
    return {
        "checkpoint": str(path), "installed": path == installed_checkpoint(model_dir) if model_dir else False,
        "sha256": sha256_file(path), "config": cfg.name,
        "parameters": sum(p.numel() for p in model.net.parameters()),
        "sample_rate": model.codec.sample_rate, "samples": int(wav.shape[-1]),
        "finite": bool(np.isfinite(wav).all()), "seconds": round(time.perf_counter() - t0, 3),
    }
