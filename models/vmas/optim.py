"""The optimizer of training: AdamW whose weight decay falls only on matrices, and the LR schedule.

Decay pulls weights towards zero. That is a prior for the matrices of linear and convolution
layers (LoRA's factors included), and wrong for everything else: a norm's gain decayed towards 0
shrinks its layer, an embedding row decays only when its token is rare, a bias or the contrastive
temperature's log-scale has no reason to sit near 0. So those get no decay.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DECAYED_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d)


def decay_split(model: nn.Module) -> tuple[list[str], list[str]]:
    """Names of the trainable parameters (decayed, not decayed), in the model's order."""
    decayed, plain = [], []
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            name = f"{mod_name}.{p_name}" if mod_name else p_name
            (decayed if isinstance(module, DECAYED_MODULES) and p_name == "weight" else plain).append(name)
    return decayed, plain


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters: two groups, decay on matrices only."""
    params = dict(model.named_parameters())
    decayed, plain = decay_split(model)
    groups = [{"params": [params[n] for n in decayed], "weight_decay": weight_decay},
              {"params": [params[n] for n in plain], "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=(0.9, 0.95))


def lr_at(step: int, base: float, warmup: int, total: int) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to 10 % at `total`."""
    if step <= warmup:
        return base * step / max(1, warmup)
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
