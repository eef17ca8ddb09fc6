"""The frozen pretrained image encoder under the video encoder: a CLIP or SigLIP vision tower.

Loaded with `transformers` from a local folder (`--video-backbone DIR`: a CLIP/SigLIP model or
just its vision tower, as published, with its `preprocessor_config.json`). Each frame goes
through the model's own preprocessing at its native resolution, then the tower; the pooled output
(post-layernorm CLS for CLIP, the attention-pooling head for SigLIP) is the frame's feature.

The preprocessing follows the folder's image processor rule for rule (resize the shortest edge or
to a fixed size, centre crop, rescale, normalize): the resize by PIL, exactly as transformers'
portable (PIL) processor does it, the rest on whole batches in torch. The tests compare the
result with the transformers processor on the same frames.

A backbone is known by the sha256 of its weight files (`weights_sha256`): the feature cache and
checkpoints name it, so features of another backbone are never mixed in.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# model_type in config.json -> the transformers class that loads its vision tower
VISION_MODELS = {"clip": "CLIPVisionModel", "clip_vision_model": "CLIPVisionModel",
                 "siglip": "SiglipVisionModel", "siglip_vision_model": "SiglipVisionModel"}
WEIGHT_SUFFIXES = (".safetensors", ".bin")
RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL's resampling codes, as image processors store them


class BackboneError(ValueError):
    """The folder is not a usable image backbone; the message says what to give instead."""


@dataclass(frozen=True)
class Preprocess:
    """An image processor's rules, read from the backbone's folder."""

    shortest_edge: int  # resize so the shorter side is this (aspect kept); 0 = resize to `size`
    size: tuple[int, int]  # (height, width) of a fixed-size resize when shortest_edge is 0
    crop: tuple[int, int] | None  # (height, width) of the centre crop; None = no crop
    resample: str  # "bicubic" | "bilinear"
    rescale: float  # 8-bit values are multiplied by this (1/255)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def out_size(self) -> tuple[int, int]:
        """(height, width) of the tensors the tower reads."""
        return self.crop or self.size

    @property
    def decode_short_edge(self) -> int:
        """Pixels of the shorter side frames need before preprocessing (the resize's target)."""
        return self.shortest_edge or max(self.size)

    def resized_hw(self, h: int, w: int) -> tuple[int, int]:
        """(height, width) after the resize of an (h, w) frame; transformers' rounding (int())."""
        if not self.shortest_edge:
            return self.size
        s = self.shortest_edge
        return (s, int(s * w / h)) if h <= w else (int(s * h / w), s)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, H, W, 3) uint8 RGB -> (N, 3, h, w) float32, what the tower reads."""
        h, w = self.resized_hw(frames.shape[1], frames.shape[2])
        x = _resize_pil(frames, h, w, self.resample).permute(0, 3, 1, 2).float()  # (N, 3, h, w) 0..255
        if self.crop is not None:
            ch, cw = self.crop
            if ch > h or cw > w:  # the processor pads a too-small picture with zeros, centred
                top, left = -(-(ch - h) // 2) if ch > h else 0, -(-(cw - w) // 2) if cw > w else 0
                x = F.pad(x, (left, max(0, cw - w - left), top, max(0, ch - h - top)))
                h, w = x.shape[2], x.shape[3]
            top, left = (h - ch) // 2, (w - cw) // 2
            x = x[:, :, top : top + ch, left : left + cw]
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x * self.rescale - mean) / std


def _resize_pil(frames: torch.Tensor, h: int, w: int, mode: str) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, h, w, 3) uint8, resized by PIL as transformers' processor does.

    PIL resizes 8-bit pictures in two separable passes with rounding between them, in an order
    it chooses itself: only PIL matches it exactly (about 1 ms a frame at CLIP's sizes).
    """
    from PIL import Image

    if tuple(frames.shape[1:3]) == (h, w):
        return frames
    filt = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}[mode]
    out = [np.asarray(Image.fromarray(f).resize((w, h), filt)) for f in frames.numpy()]
    return torch.from_numpy(np.stack(out))


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def weights_sha256(folder: Path) -> str:
    """sha256 over the folder's weight files (names and bytes, in name order): its identity.

    Remembered per process while the files' sizes and times stay the same (a CLIP-L is 1.7 GB).
    """
    files = weight_files(folder)
    if not files:
        raise BackboneError(f"{folder} holds no weights (*.safetensors or *.bin): give the folder of a "
                            "CLIP or SigLIP model saved with transformers")
    stamp = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _hash_files(stamp)


@functools.lru_cache(maxsize=8)
def _hash_files(stamp: tuple[tuple[str, int, int], ...]) -> str:
    files = [Path(name) for name, _, _ in stamp]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
    return h.hexdigest()


def _model_type(folder: Path) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise BackboneError(f"no image backbone folder at {folder}: give --video-backbone the local folder of a "
                            "CLIP or SigLIP model (config.json, weights, preprocessor_config.json)")
    try:
        kind = json.loads((folder / "config.json").read_text()).get("model_type", "")
    except (OSError, ValueError) as exc:
        raise BackboneError(f"{folder}/config.json cannot be read ({exc}): give the folder of a CLIP or SigLIP "
                            "model saved with transformers") from None
    if kind not in VISION_MODELS:
        raise BackboneError(f"{folder} holds a {kind or 'unknown'} model; the video backbone must be CLIP or "
                            f"SigLIP (model_type one of {', '.join(VISION_MODELS)})")
    return kind


def check_backbone(video) -> None:
    """BackboneError unless the backbone a VideoConfig names is at its path, with the same weights."""
    if not video.backbone:
        return
    folder = Path(video.backbone)
    _model_type(folder)
    _require_same(folder, weights_sha256(folder), video.backbone_sha256)


def _require_same(folder: Path, have: str, want: str) -> None:
    if want and have != want:
        raise BackboneError(f"the image backbone at {folder} is not the one this model was trained with "
                            f"(its weights' sha256 is {have[:12]}…, the model needs {want[:12]}…): put the "
                            "original backbone there")


def read_preprocess(folder: Path) -> Preprocess:
    """The folder's image processor as Preprocess rules (its class defaults fill what the file omits)."""
    from transformers import AutoImageProcessor

    folder = Path(folder)
    if not (folder / "preprocessor_config.json").is_file():
        raise BackboneError(f"{folder} has no preprocessor_config.json: the backbone's own preprocessing is "
                            "needed; copy the whole model folder as published")
    p = AutoImageProcessor.from_pretrained(str(folder.resolve()), local_files_only=True)
    resample = RESAMPLE.get(int(p.resample))
    if resample is None:
        raise BackboneError(f"{folder}: the image processor resamples with PIL filter {p.resample}; "
                            f"only {', '.join(RESAMPLE.values())} are supported")
    size = p.size
    if not p.do_resize or not (size.shortest_edge or (size.height and size.width)) or size.longest_edge:
        raise BackboneError(f"{folder}: the image processor's resize rule {dict(size)} is not one a CLIP or "
                            "SigLIP processor uses (shortest_edge, or height and width)")
    crop = None
    if getattr(p, "do_center_crop", False):
        crop = (int(p.crop_size.height), int(p.crop_size.width))
    mean = tuple(float(v) for v in np.broadcast_to(p.image_mean if p.do_normalize else 0.0, 3))
    std = tuple(float(v) for v in np.broadcast_to(p.image_std if p.do_normalize else 1.0, 3))
    return Preprocess(shortest_edge=int(size.shortest_edge or 0),
                      size=(int(size.height or 0), int(size.width or 0)), crop=crop, resample=resample,
                      rescale=float(p.rescale_factor) if p.do_rescale else 1.0, mean=mean, std=std)


def backbone_width(folder: Path) -> int:
    """Width of the pooled feature the folder's tower gives, from its config alone."""
    kind = _model_type(folder)
    cfg = json.loads((Path(folder) / "config.json").read_text())
    vision = cfg.get("vision_config", cfg) if kind in ("clip", "siglip") else cfg
    return int(vision.get("hidden_size", 768))  # transformers' default for both when omitted


def with_video_backbone(cfg, folder: str | Path):
    """cfg (a VmasConfig) whose video encoder stands on the backbone in `folder`: its path, its
    weights' sha256 and its feature width filled in (`--video-backbone DIR`)."""
    folder = Path(folder).expanduser().resolve()
    width = backbone_width(folder)  # checks that it is a CLIP/SigLIP folder first
    video = dataclasses.replace(cfg.video, backbone=str(folder), backbone_sha256=weights_sha256(folder),
                                backbone_width=width)
    return dataclasses.replace(cfg, video=video)


class ImageBackbone(nn.Module):
    """A frozen CLIP/SigLIP vision tower: frames (N, H, W, 3) uint8 -> pooled features (N, F)."""

    def __init__(self, folder: str | Path, expect_sha256: str = ""):
        super().__init__()
        import transformers

        folder = Path(folder).expanduser()
        kind = _model_type(folder)
        self.name, self.sha256 = folder.name, weights_sha256(folder)
        _require_same(folder, self.sha256, expect_sha256)
        self.preprocess = read_preprocess(folder)
        log = transformers.utils.logging
        verbosity, bars = log.get_verbosity(), log.is_progress_bar_enabled()
        log.set_verbosity_error()  # a full CLIP folder's text weights are left out on purpose: no report
        log.disable_progress_bar()
        try:
            cls = getattr(transformers, VISION_MODELS[kind])
            self.tower = cls.from_pretrained(str(folder.resolve()), local_files_only=True).eval()
        finally:
            log.set_verbosity(verbosity)
            if bars:
                log.enable_progress_bar()
        self.tower.requires_grad_(False)
        self.width = int(self.tower.config.hidden_size)

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (N, 3, h, w) preprocessed -> (N, F) pooled features."""
        p = next(self.tower.parameters())
        return self.tower(pixel_values=pixels.to(p.device, p.dtype)).pooler_output

    @torch.no_grad()
    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, H, W, 3) uint8 -> (N, F) float32: preprocessing, then the tower."""
        return self(self.preprocess(frames)).float()
