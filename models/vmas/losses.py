"""The three training objectives of VMAS.

- `token_ce`: autoregressive cross-entropy over the K codebooks, only where the delayed grid
  holds a token.
- `info_nce`: symmetric contrastive matching between pooled video and music embeddings of a
  batch (matching pairs on the diagonal) with a learned temperature (CLIP-style log scale).
- `beat_bce`: the beat head against the music's beat activation (beats tracked in the audio).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOGIT_SCALE_INIT = math.log(1 / 0.07)  # CLIP's starting temperature 0.07
LOGIT_SCALE_MAX = math.log(100.0)  # clamp: a temperature below 0.01 makes the loss unstable


def token_ce(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """logits (B, K, L, card), targets (B, K, L) ids, valid (K, L) bool -> mean CE (nats)."""
    b = logits.shape[0]
    mask = valid[None].expand(b, *valid.shape)  # (B, K, L)
    return F.cross_entropy(logits[mask].float(), targets[mask])


def info_nce(video: torch.Tensor, music: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """video, music (B, E) embeddings of matching pairs; logit_scale () log inverse temperature."""
    if video.shape[0] < 2:
        return video.new_zeros(())  # nothing to contrast against
    v = F.normalize(video.float(), dim=-1)
    m = F.normalize(music.float(), dim=-1)
    logits = logit_scale.clamp(max=LOGIT_SCALE_MAX).exp() * v @ m.T  # (B, B)
    labels = torch.arange(v.shape[0], device=v.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def beat_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits, target (B, T) -> BCE; beats are rare, so positives weigh by their rarity."""
    pos = target.float().mean().clamp(min=1e-3)
    weight = torch.where(target > 0.5, 0.5 / pos, 0.5 / (1 - pos).clamp(min=1e-3))
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), weight=weight)
