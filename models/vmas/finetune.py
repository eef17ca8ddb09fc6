"""What a training run trains: the whole network from scratch, or adapters on a frozen MusicGen.

`prepare` builds the run's network, codec and config. From scratch (no `init`) every weight
trains. With `init` ("musicgen" = the folder `scorecut models add musicgen` installed, or the path
of a MusicGen folder) the music LM is MusicGen's decoder (pretrained.py), its shape and weights
the folder's, frozen. What trains (`trainable_names`):
- low-rank adapters (peft's LoRA, B = 0 at the start) on the decoder's self- and cross-attention
  projections, or with adapters="cross" the whole cross-attention instead;
- what VMAS adds: the video projection and the video gates of the cross-attention, the beat
  stream and beat head, the temporal video layers (above a frozen backbone, whose features come
  cached), the contrastive heads and temperature.
All of them start so that step 0 is MusicGen (gates closed, LoRA's B zero, beat stream zero).
`--config` sizes the new parts and the adapters' rank (LORA_RANKS).

`load_finetuned` rebuilds a fine-tune for serving from its checkpoint and the installed base,
refusing a missing or different base by name, and merges the adapters into the weights.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import VmasConfig
from .initialization import init_weights

LORA_RANKS = {"debug": 4, "small": 16, "medium": 32}  # adapter rank per size
ATTENTION_PROJECTIONS = r"layers\.\d+\.(self_attn|encoder_attn)\.(q|k|v|out)_proj"  # in the LM
CROSS_ATTENTION = re.compile(r"layers\.\d+\.encoder_attn\.(q|k|v|out)_proj\.weight")
ADAPTERS = ("lora", "cross")


@dataclass(frozen=True)
class FinetuneConfig:
    """Which parts of a MusicGen-based VMAS train besides the new ones (all else is the frozen base)."""

    adapters: str = "lora"  # "lora": low-rank adapters on attention | "cross": the whole cross-attention
    lora_rank: int = 16  # r of every adapter
    lora_alpha: float = 32.0  # adapters' output is scaled by alpha / r (peft's convention)
    lora_targets: str = ATTENTION_PROJECTIONS  # regex (full match) of the LM's adapted Linear layers

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> FinetuneConfig:
        return FinetuneConfig(**d)


@dataclass
class RunSetup:
    """What `prepare` made: the run's config, network (on the CPU), codec and base record."""

    cfg: VmasConfig
    net: torch.nn.Module
    codec: object
    base: dict | None = None  # checkpoint.base_record of the MusicGen a fine-tune needs
    finetune: dict | None = None  # FinetuneConfig.to_dict()
    trained_weights: Callable[[], dict] = dict  # the weights the checkpoint keeps


def base_folder(init: str, model_dir: Path | None) -> Path:
    """The MusicGen folder `--init` names: "musicgen" = the installed one, else a path."""
    from .musicgen_install import ADD_FIX, installed_folder

    if init == "musicgen":
        folder = installed_folder(model_dir)
        if folder is None or not (folder / "config.json").is_file():
            raise FileNotFoundError(f"--init musicgen: no MusicGen is installed in {model_dir or 'the model folder'}: "
                                    f"{ADD_FIX}, or give the folder itself with --init DIR")
        return folder
    folder = Path(init).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"--init {init}: not a MusicGen folder (no config.json there); give "
                                "`musicgen` for the installed one or the path of a transformers-format MusicGen folder")
    return folder


def fit_window(cfg: VmasConfig, max_steps: int) -> float:
    """The config's window, shortened to a whole number of grains when the base's position table
    (max_steps, the delay pattern's K - 1 steps included) cannot hold it."""
    from .sampler import grain

    fr = cfg.codec.frame_rate
    if cfg.window_frames + cfg.codec.n_q - 1 <= max_steps:
        return cfg.window_s
    _, per_grain = grain(cfg.video.fps, fr)
    grains = (max_steps - cfg.codec.n_q + 1) // per_grain
    if grains < 1:
        raise ValueError(f"the base's {max_steps} positions cannot hold one training window")
    return grains * per_grain / fr


def add_adapters(net, ft: FinetuneConfig) -> None:
    """Freeze MusicGen's weights and open what trains (see the module doc), in place."""
    lm = net.lm
    if ft.adapters not in ADAPTERS:
        raise ValueError(f"unknown adapters {ft.adapters!r}: use {' or '.join(ADAPTERS)}")
    base = set(lm.base_parameter_names())
    if ft.adapters == "lora":
        from peft import LoraConfig, inject_adapter_in_model

        # peft replaces each matched Linear by a LoRA layer holding it as `base_layer`.
        inject_adapter_in_model(LoraConfig(r=ft.lora_rank, lora_alpha=ft.lora_alpha, lora_dropout=0.0,
                                           target_modules=ft.lora_targets, bias="none"), lm)
    # Outside the LM (video encoder, video projection, contrastive heads) everything is new and
    # keeps its own setting: trained, or frozen where the video encoder froze it.
    for name, p in net.lm.named_parameters():
        if "lora_" in name or (ft.adapters == "cross" and CROSS_ATTENTION.fullmatch(name)):
            p.requires_grad_(True)
        else:
            p.requires_grad_(_base_name(name) not in base)  # MusicGen's own: frozen; VMAS's: trained


def _base_name(name: str) -> str:
    """A parameter's name as MusicGen's LM has it (peft inserts `base_layer.`)."""
    return name.replace(".base_layer.", ".")


def trainable_names(net) -> list[str]:
    return [n for n, p in net.named_parameters() if p.requires_grad]


def prepare(cfg: VmasConfig, opts, device: str, log) -> RunSetup:
    """The run's network, codec and config; from scratch when opts.init is empty."""
    from .codec import load_codec
    from .model import VmasNet

    if getattr(opts, "video_backbone", ""):
        from .backbone import with_video_backbone

        cfg = with_video_backbone(cfg, opts.video_backbone)
    if opts.init:
        return _prepare_finetune(cfg, opts, device, log)
    codec = load_codec(cfg.codec, opts.model_dir, device=device)  # EnCodec encodes on the GPU when there is one
    torch.manual_seed(opts.seed)
    net = VmasNet(cfg)
    return RunSetup(cfg, net, codec, trained_weights=net.state_dict)


def _prepare_finetune(cfg: VmasConfig, opts, device: str, log) -> RunSetup:
    from .checkpoint import base_record
    from .model import VmasNet
    from .pretrained import load_musicgen

    folder = base_folder(opts.init, opts.model_dir)
    base = load_musicgen(folder, device=device)  # float32 master weights; autocast computes in bf16
    # The LM's shape and the codec are the base's; the codec is found again from the base at serving.
    cfg = dataclasses.replace(cfg, lm=base.lm_config, codec=dataclasses.replace(base.codec_config, path=""))
    window = fit_window(cfg, base.lm_config.max_steps)
    if window != cfg.window_s:
        log(f"training windows of {window:g} s: the base's {base.lm_config.max_steps} positions hold no more")
        cfg = dataclasses.replace(cfg, window_s=window)
    ft = FinetuneConfig(adapters=opts.adapters, lora_rank=opts.lora_rank or LORA_RANKS.get(cfg.name, 16))
    ft = dataclasses.replace(ft, lora_alpha=2.0 * ft.lora_rank)
    torch.manual_seed(opts.seed)
    net = VmasNet(cfg, lm=base.lm.cpu().float())
    init_weights(net, cfg.video.n_layers, skip=("lm",))  # MusicGen's decoder keeps its weights
    add_adapters(net, ft)
    names = trainable_names(net)
    n_trained = sum(p.numel() for p in net.parameters() if p.requires_grad)
    n_frozen = sum(p.numel() for p in net.parameters() if not p.requires_grad)
    log(f"fine-tuning {base.info.name} ({folder}): {n_trained:,} trained parameters, {n_frozen:,} frozen")
    params = dict(net.named_parameters())

    def trained() -> dict:
        return {n: params[n].detach().clone() for n in names}

    return RunSetup(cfg, net, base.codec, base=base_record(base.info.name, base.base_sha256),
                    finetune=ft.to_dict(), trained_weights=trained)


def merge_adapters(module: torch.nn.Module) -> None:
    """Fold every LoRA layer into its Linear (W + B A * alpha / r) and put the plain Linear back."""
    from peft.tuners.lora import LoraLayer

    for name, child in list(module.named_modules()):
        if isinstance(child, LoraLayer):
            child.merge()
            parent_name, _, attr = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            setattr(parent, attr, child.get_base_layer())


def load_finetuned(state: dict, model_dir: Path | None, device: str, checkpoint: Path | str):
    """(net, codec) of a fine-tune, on the installed base; BaseMismatch names a missing or other base."""
    from .checkpoint import base_record, require_base, serving_weights
    from .model import VmasNet
    from .musicgen_install import installed_folder
    from .pretrained import load_musicgen, read_musicgen_info, weights_sha256

    folder = installed_folder(model_dir)
    have = None
    if folder is not None and (folder / "config.json").is_file():
        have = base_record(read_musicgen_info(folder).name, weights_sha256(folder))
    require_base(state, have, folder, checkpoint)
    base = load_musicgen(folder, device="cpu")
    cfg = state["config"]
    net = VmasNet(cfg, lm=base.lm.float())
    add_adapters(net, FinetuneConfig.from_dict(state["finetune"]))
    weights = serving_weights(state)
    _, unexpected = net.load_state_dict(weights, strict=False)
    if unexpected or set(weights) != set(trainable_names(net)):
        from .checkpoint import CheckpointError

        raise CheckpointError(f"{checkpoint} does not fit the network its config describes "
                              f"({len(unexpected)} unknown weights): train it again with this Scorecut")
    merge_adapters(net.lm)
    return net.to(device).eval().requires_grad_(False), base.codec
