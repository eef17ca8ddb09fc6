"""VMAS checkpoints: one `torch.save` file with the config, the trained weights, their moving
average, the optimizer state and step, a `<file>.sha256` beside it, and `config.json` for people.

A model trained from scratch stores all its weights. A fine-tune of MusicGen stores only what it
trained (adapters, video projection, temporal layers, heads) and names the base it needs: its
folder name and the sha256 of its weights. Loading such a checkpoint needs that exact base
installed; a missing or different base is refused by name (`require_base`). Loading checks the
file's hash and refuses anything that is not an intact VMAS checkpoint, saying what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .config import VmasConfig

FORMAT = "scorecut-vmas"
VERSION = 2  # 2: trained weights only for fine-tunes, `base`, `finetune`, `ema`
READABLE = (1, 2)
BASE_FIX = "install it with `scorecut models add musicgen DIR` (DIR: the MusicGen folder the run was trained on)"


class CheckpointError(ValueError):
    """The checkpoint is missing, corrupted or not a VMAS checkpoint; the message says what to do."""


class BaseMismatch(CheckpointError):
    """The checkpoint fine-tunes a base that is not installed, or another base is."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: Path, cfg: VmasConfig, model: torch.nn.Module | dict, step: int,
                    optimizer: torch.optim.Optimizer | dict | None = None, *, ema: dict | None = None,
                    base: dict | None = None, finetune: dict | None = None) -> Path:
    """Write atomically (temporary name, then rename), then the sha256 and config.json beside it.

    model: the weights to keep (a state dict), or a network whose whole state dict is kept
    (from scratch). optimizer None = a serving copy without training state. ema: the moving
    average's state (`Ema.state_dict()`). base: {"name", "sha256"} of the MusicGen a fine-tune
    needs; finetune: its adapter settings (FinetuneConfig.to_dict()).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = model if isinstance(model, dict) else model.state_dict()
    if isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer.state_dict()
    state = {"format": FORMAT, "version": VERSION, "config": cfg.to_dict(), "step": int(step),
             "model": weights, "optimizer": optimizer, "ema": ema, "base": base, "finetune": finetune}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    digest = sha256_file(tmp)
    os.replace(tmp, path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    about = {**cfg.to_dict(), "base": base, "finetune": finetune}
    (path.parent / "config.json").write_text(json.dumps(about, indent=2) + "\n")
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
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise CheckpointError(f"{path} is corrupted or not a VMAS checkpoint ({type(exc).__name__}): copy it "
                              "again or train a new one") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a VMAS checkpoint: give a RUN/checkpoint.pt written by `scorecut train`")
    if state.get("version") not in READABLE:
        raise CheckpointError(f"{path} is a VMAS checkpoint of format version {state.get('version')}; this "
                              f"Scorecut reads versions {', '.join(map(str, READABLE))}: update Scorecut")
    for key in ("ema", "base", "finetune"):
        state.setdefault(key, None)
    state["config"] = VmasConfig.from_dict(state["config"])
    return state


def serving_weights(state: dict) -> dict:
    """The weights to serve: the moving average when the run kept one, else the trained ones."""
    ema = state.get("ema")
    if not ema:
        return state["model"]
    return {**state["model"], **ema["weights"]}


def base_record(name: str, sha256: str) -> dict:
    """What a fine-tune's checkpoint says about its base."""
    return {"kind": "musicgen", "name": name, "sha256": sha256}


def require_base(state: dict, have: dict | None, where: Path | None, checkpoint: Path | str) -> None:
    """Refuse a fine-tune whose base is missing (have None) or different (have: base_record of the
    installed one), naming both."""
    base = state.get("base")
    if not base:
        return
    need = f"the MusicGen base {base['name']!r} (sha256 {base['sha256'][:12]}…)"
    if have is None:
        raise BaseMismatch(f"{checkpoint} fine-tunes {need}, which is not installed (looked in {where}): "
                           f"{BASE_FIX}")
    if have["sha256"] != base["sha256"]:
        raise BaseMismatch(f"{checkpoint} fine-tunes {need}, but {where} holds a different MusicGen, "
                           f"{have['name']!r} (sha256 {have['sha256'][:12]}…): {BASE_FIX}, or train again on "
                           "the installed one")
