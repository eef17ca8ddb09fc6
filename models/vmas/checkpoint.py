"""VMAS checkpoints: one `torch.save` file with the config, weights, optimizer state and step,
a `<file>.sha256` beside it, and `config.json` for people. Loading checks the hash and refuses
anything that is not an intact VMAS checkpoint, with a message saying what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .config import VmasConfig

FORMAT = "scorecut-vmas"
VERSION = 1


class CheckpointError(ValueError):
    """The checkpoint is missing, corrupted or not a VMAS checkpoint; the message says what to do."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: Path, cfg: VmasConfig, model: torch.nn.Module | dict, step: int,
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write atomically (temporary name, then rename), then the sha256 and config.json beside it.

    model: the network or its state dict; optimizer None = a serving copy without training state.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = model if isinstance(model, dict) else model.state_dict()
    state = {"format": FORMAT, "version": VERSION, "config": cfg.to_dict(), "step": int(step),
             "model": weights, "optimizer": optimizer.state_dict() if optimizer is not None else None}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    digest = sha256_file(tmp)
    os.replace(tmp, path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    (path.parent / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    return path


def load_checkpoint(path: Path, map_location: str = "cpu") -> dict:
    """The checkpoint's dict (`config` as a VmasConfig); CheckpointError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no VMAS checkpoint at {path}: train one with `scorecut train` or give the "
                              "path of RUN/checkpoint.pt")
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        want = sidecar.read_text().split()[0] if sidecar.read_text().split() else ""
        if sha256_file(path) != want:
            raise CheckpointError(f"{path} is corrupted (its sha256 does not match {sidecar.name}): copy it "
                                  "again or train a new one")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"{path} is corrupted or not a VMAS checkpoint ({type(exc).__name__}): copy it "
                              "again or train a new one") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a VMAS checkpoint: give a RUN/checkpoint.pt written by `scorecut train`")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} is a VMAS checkpoint of format version {state.get('version')}; this "
                              f"Scorecut reads version {VERSION}")
    state["config"] = VmasConfig.from_dict(state["config"])
    return state
