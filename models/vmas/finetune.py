"""What a training run trains: the whole network from scratch, or adapters on a frozen MusicGen.

`prepare` builds the run's network, codec and config. From scratch (no `init`) every weight
trains. With `init` ("musicgen" = the folder `scorecut models add musicgen` installed, or the path
of a MusicGen folder) the music LM's shape and weights are MusicGen's decoder (pretrained.py),
frozen; what trains is listed by `FinetuneConfig`: low-rank adapters (peft's LoRA) on the
decoder's attention projections, or its whole cross-attention, plus the new parts (video
projection, beat stream, temporal video layers, heads). The config's size (`--config`) sizes
those new parts and the adapters' rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .config import VmasConfig

LORA_RANKS = {"debug": 4, "small": 16, "medium": 32}  # adapter rank per size


@dataclass(frozen=True)
class FinetuneConfig:
    """Which parts of a MusicGen-based VMAS train (all else is the frozen base)."""

    adapters: str = "lora"  # "lora": low-rank adapters on attention | "cross": the whole cross-attention
    lora_rank: int = 16  # r of every adapter
    lora_alpha: float = 32.0  # adapters' output is scaled by alpha / r (peft's convention)
    lora_targets: tuple[str, ...] = ()  # attention projections adapted (module names; filled by prepare)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> FinetuneConfig:
        return FinetuneConfig(**{**d, "lora_targets": tuple(d["lora_targets"])})


@dataclass
class RunSetup:
    """What `prepare` made: the run's config, network (on the CPU), codec and base record."""

    cfg: VmasConfig
    net: torch.nn.Module
    codec: object
    base: dict | None = None  # checkpoint.base_record of the MusicGen a fine-tune needs
    finetune: dict | None = None  # FinetuneConfig.to_dict()
    trained_weights: Callable[[], dict] = dict  # the weights the checkpoint keeps


def prepare(cfg: VmasConfig, opts, device: str, log) -> RunSetup:
    """The run's network, codec and config; from scratch when opts.init is empty."""
    from .codec import load_codec
    from .model import VmasNet

    if opts.init:
        return _prepare_finetune(cfg, opts, device, log)
    codec = load_codec(cfg.codec, opts.model_dir, device=device)  # EnCodec encodes on the GPU when there is one
    torch.manual_seed(opts.seed)
    net = VmasNet(cfg)
    return RunSetup(cfg, net, codec, trained_weights=net.state_dict)


def _prepare_finetune(cfg: VmasConfig, opts, device: str, log) -> RunSetup:
    raise NotImplementedError("fine-tuning MusicGen is not built yet")
