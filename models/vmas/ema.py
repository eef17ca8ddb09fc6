"""An exponential moving average of the trained weights: what a run serves.

Only the trainable parameters are averaged (a frozen base never moves). The decay warms up as
min(decay, (1 + n) / (10 + n)) after n updates, so a short fine-tune's average is not stuck
near the initial weights. The shadow is kept in float32 beside the fp32 master weights.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


class Ema:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.shadow = {n: p.detach().float().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for n, p in self.params.items():
            self.shadow[n].lerp_(p.detach().float(), 1.0 - d)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates,
                "weights": {n: t.clone().cpu() for n, t in self.shadow.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        for n, t in state["weights"].items():
            self.shadow[n].copy_(t)

    @contextmanager
    def applied(self):
        """The model carries the averaged weights inside the block (validation, samples), then its own."""
        saved = {n: p.detach().clone() for n, p in self.params.items()}
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(self.shadow[n].to(p.dtype))
        try:
            yield
        finally:
            with torch.no_grad():
                for n, p in self.params.items():
                    p.copy_(saved[n])
