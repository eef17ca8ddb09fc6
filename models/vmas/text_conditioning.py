"""Text conditioning of MusicGen: T5 encoder + MusicGen's enc_to_dec_proj, into the decoder's width.

`TextConditioner.encode(prompts)` gives states (B, S, D) and a mask (B, S) bool, exactly what
transformers' MusicgenForConditionalGeneration feeds its decoder's cross-attention: the T5 last
hidden state, projected by enc_to_dec_proj (when T5's width differs from the decoder's, else
as is), zeroed where the prompt is padding. `MusicLM.memory(text=..., text_mask=...)` puts it in
the joint memory. T5 runs in float32 (it runs once per request; half precision T5 is known to
overflow) and the states are cast to the decoder's dtype.
"""

from __future__ import annotations

import torch
from torch import nn


class TextConditioner(nn.Module):
    def __init__(self, encoder: nn.Module, proj: nn.Module, tokenizer, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.encoder, self.proj, self.tokenizer, self.dtype = encoder.eval(), proj.eval(), tokenizer, dtype
        for p in self.parameters():  # frozen: MusicGen's fine-tuning never trains T5
            p.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """prompts (B strings) -> states (B, S, D) in the decoder's width and dtype, mask (B, S) bool."""
        if isinstance(prompts, str):
            raise TypeError("encode takes a list of prompts, not one string")
        batch = self.tokenizer(list(prompts), padding=True, return_tensors="pt")
        ids = batch["input_ids"].to(self.device)
        mask = batch["attention_mask"].to(self.device)
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, S, Dt)
        states = self.proj(hidden) * mask[..., None]  # (B, S, D); padding zeroed as transformers does
        return states.to(self.dtype), mask.bool()
