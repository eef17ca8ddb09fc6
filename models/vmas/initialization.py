"""How the layers a fine-tune adds to MusicGen start (GPT-2's scheme, as MusicGen and nanoGPT use).

PyTorch's defaults (Kaiming-uniform scaled by fan-in) give every residual branch a unit-scale
output, so a deep stack's residual stream grows with depth and the first steps are spent
shrinking it. Instead: linear and embedding weights N(0, 0.02), biases 0, LayerNorm 1 and 0;
the projections that write back into a residual stream (attention and MLP outputs) N(0, 0.02 /
sqrt(2 * layers)), so the stream's variance stays put however deep the stack is.

Applied to what a fine-tune adds outside MusicGen (video encoder, video projection, contrastive
heads), which must meet a pretrained decoder's scale; the new parts inside the decoder start
inert as pretrained.py sets them (video gates and beat stream at zero), so step 0 is MusicGen.
A run from scratch (`debug`) keeps PyTorch's defaults, which train its 2-layer toy faster.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

STD = 0.02
RESIDUAL_OUT = re.compile(r"(^|\.)(out_proj|out|fc2|mlp\.2)$")  # layers whose output is added to a residual


@torch.no_grad()
def init_weights(module: nn.Module, n_layers: int, skip: tuple[str, ...] = ()) -> None:
    """Initialise every Linear, Embedding and LayerNorm under `module` (names under `skip` left alone)."""
    out_std = STD / math.sqrt(2 * max(1, n_layers))
    for name, m in module.named_modules():
        if any(name == s or name.startswith(s + ".") for s in skip):
            continue
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, out_std if RESIDUAL_OUT.search(name) else STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, STD)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
