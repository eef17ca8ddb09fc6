"""The temporal video encoder: many densely sampled frames, cheaply.

Frames (8 per second by default) each give one vector: the pooled feature of a frozen pretrained
image backbone (CLIP/SigLIP, computed outside this module by features.py and cached in the
training shards), normalized and projected to `dim` by trained layers; or, in the `debug` config,
a small CNN trained from scratch on the pixels. Consecutive frames are then averaged into tokens
(token merging, factor `merge`) and mixed by windowed self-attention whose windows shift by half
on every other layer (Swin-style), so cost and memory grow linearly with the number of frames.
Per-frame work runs in chunks of `chunk_frames`, which bounds memory for a 10-minute video.

Input: (B, N, 3, H, W) uint8 pixels (CNN) or (B, N, F) backbone features; `input_key` names it.
Output: time-aligned video tokens (B, S, D) with their times in seconds, and a pooled clip
embedding (B, D) for the contrastive loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import VideoConfig
from .music_lm import sinusoid


@dataclass
class VideoTokens:
    tokens: torch.Tensor  # (B, S, D)
    times_s: torch.Tensor  # (S,) seconds from the clip start, each token's centre
    pooled: torch.Tensor  # (B, D)


class FrameCNN(nn.Module):
    """(N, 3, H, W) in -0.5..0.5 -> (N, dim): stride-2 conv stages, then global average pooling."""

    def __init__(self, channels: tuple[int, ...], dim: int):
        super().__init__()
        layers, c_in = [], 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(min(8, c), c), nn.GELU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.proj = nn.Linear(c_in, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.body(x).mean(dim=(2, 3)))


class FeatureProjection(nn.Module):
    """(N, F) frozen-backbone features -> (N, dim): layer norm (backbones differ in scale), linear."""

    def __init__(self, width: int, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(x))


class WindowBlock(nn.Module):
    """Pre-norm self-attention inside windows of `window` tokens, offset by `shift`, then an MLP."""

    def __init__(self, dim: int, n_heads: int, window: int, shift: int):
        super().__init__()
        self.n_heads, self.window, self.shift = n_heads, window, shift
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        w, h = self.window, self.n_heads
        right = (-(s + self.shift)) % w
        y = F.pad(self.ln1(x), (0, 0, self.shift, right))  # (B, S', D), S' a multiple of w
        valid = F.pad(torch.ones(b, s, dtype=torch.bool, device=x.device), (self.shift, right))
        n = y.shape[1] // w
        q, k, v = self.qkv(y).view(b * n, w, 3, h, d // h).permute(2, 0, 3, 1, 4)  # (B*n, H, w, hd)
        mask = valid.view(b * n, 1, 1, w)  # padding is never attended to
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B*n, H, w, hd)
        a = a.transpose(1, 2).reshape(b, n * w, d)[:, self.shift : self.shift + s]
        x = x + self.out(a)
        return x + self.mlp(self.ln2(x))


class VideoEncoder(nn.Module):
    def __init__(self, cfg: VideoConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.backbone:  # the backbone itself stays outside: frozen, its features come cached
            if cfg.backbone_width <= 0:
                raise ValueError("a video config with a backbone needs its width: make it with backbone_for()")
            self.backbone: nn.Module = FeatureProjection(cfg.backbone_width, cfg.dim)
        else:
            self.backbone = FrameCNN(cfg.cnn_channels, cfg.dim)
        self.blocks = nn.ModuleList(
            WindowBlock(cfg.dim, cfg.n_heads, cfg.window, (i % 2) * (cfg.window // 2)) for i in range(cfg.n_layers)
        )
        self.ln = nn.LayerNorm(cfg.dim)

    @property
    def input_key(self) -> str:
        """What a batch holds for this encoder: "features" (backbone) or "frames" (pixels)."""
        return "features" if self.cfg.backbone else "frames"

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        """video (B, N, 3, H, W) uint8 or float 0..1 pixels, or (B, N, F) features -> (B, N, D), in chunks."""
        b, n = video.shape[:2]
        flat = video.reshape(b * n, *video.shape[2:])
        p = next(self.parameters())
        out = []
        for i in range(0, b * n, self.cfg.chunk_frames):
            x = flat[i : i + self.cfg.chunk_frames].to(p.device)
            if not self.cfg.backbone:
                x = (x.float() / 255.0 if x.dtype == torch.uint8 else x.float()) - 0.5  # pixels centred on 0
            out.append(self.backbone(x.to(p.dtype)))
        return torch.cat(out).view(b, n, -1)

    def temporal(self, feats: torch.Tensor) -> VideoTokens:
        """feats (B, N, D) per-frame features -> tokens at fps / merge, linear in N."""
        b, n, d = feats.shape
        m = self.cfg.merge
        right = (-n) % m
        if right:  # the last token averages the frames there are
            feats = torch.cat([feats, feats[:, -1:].expand(b, right, d)], dim=1)
        x = feats.view(b, -1, m, d).mean(dim=2)  # (B, S, D)
        s = x.shape[1]
        times = (torch.arange(s, device=x.device) * m + (m - 1) / 2) / self.cfg.fps  # (S,) seconds
        x = x + sinusoid(times * self.cfg.fps, d).to(x.dtype)
        for block in self.blocks:
            x = block(x)
        x = self.ln(x)
        return VideoTokens(tokens=x, times_s=times, pooled=x.mean(dim=1))

    def forward(self, video: torch.Tensor) -> VideoTokens:
        return self.temporal(self.frame_features(video))

    @torch.no_grad()
    def encode_stream(self, chunks) -> VideoTokens:
        """Inference over a long video: `chunks` yields per-frame input (N_i, ...); only features are kept."""
        feats = [self.frame_features(c[None]) for c in chunks]  # each (1, N_i, D)
        return self.temporal(torch.cat(feats, dim=1))
