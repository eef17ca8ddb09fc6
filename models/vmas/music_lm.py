"""The music transformer: decoder-only over K codebooks, cross-attending to video tokens.

Input at step t is the sum of K codebook embeddings (delayed layout, see delay.py), a sinusoidal
position, and the visual-beat activation at that step (the aligned conditioning stream). Every
block is pre-norm self-attention (causal), cross-attention to the video memory, and an MLP.
K linear heads give the next step's K token distributions; a beat head gives the music's beat
activation at each step (supervised by beats tracked in the training audio).

Decoding uses a preallocated static KV cache (gpt-fast style): `decoding(...)` sizes it once and
projects the video memory for cross-attention once; each `forward(..., state=, pos=)` writes its
keys at `pos` and attends over the whole cache with a position mask, so the step has static shapes.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import VmasConfig


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """positions (...,) float, in token steps -> (..., dim) sinusoidal embedding."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs  # (..., half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class KVCache(nn.Module):
    """Keys and values of one layer for `max_len` steps, allocated once."""

    def __init__(self, batch: int, n_heads: int, max_len: int, head_dim: int, dtype, device):
        super().__init__()
        shape = (batch, n_heads, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def update(self, pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """pos (T,) steps; k, v (B, H, T, hd) -> the whole cache (B, H, max_len, hd) each."""
        self.k.index_copy_(2, pos, k)
        self.v.index_copy_(2, pos, v)
        return self.k, self.v


class SelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None, cache: KVCache | None):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is None:  # training / full pass: causal over the T given steps
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        else:  # decode: attend to every cached step up to each query's position
            k, v = cache.update(pos, k, v)  # (B, H, L, hd)
            mask = torch.arange(k.shape[2], device=x.device)[None, :] <= pos[:, None]  # (T, L)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def project(self, memory: torch.Tensor):
        """memory (B, S, D) -> keys, values (B, H, S, hd); computed once per window when decoding."""
        b, s, d = memory.shape
        k, v = self.kv(memory).view(b, s, 2, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: torch.Tensor, kv, mem_mask: torch.Tensor):
        """x (B, T, D); mem_mask (B, S) bool, True = attend."""
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)  # (B, H, T, hd)
        k, v = kv
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mem_mask[:, None, None, :])
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim: int, n_heads: int, ffn_mult: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, n_heads)
        self.cross = CrossAttention(dim, n_heads)
        self.mlp = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.GELU(), nn.Linear(ffn_mult * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pos, cache, cross_kv, mem_mask):
        x = x + self.drop(self.attn(self.ln1(x), pos, cache))
        x = x + self.drop(self.cross(self.ln2(x), cross_kv, mem_mask))
        return x + self.drop(self.mlp(self.ln3(x)))


@dataclass
class DecodeState:
    """Static caches for one decoding window: self-attention KV and projected video memory."""

    caches: list[KVCache]
    cross_kv: list[tuple[torch.Tensor, torch.Tensor]]
    mem_mask: torch.Tensor  # (B, S) bool


class MusicLM(nn.Module):
    def __init__(self, cfg: VmasConfig):
        super().__init__()
        c, lm = cfg.codec, cfg.lm
        self.cfg = cfg
        self.n_q, self.card, self.dim = c.n_q, c.cardinality, lm.dim
        self.special = c.cardinality  # the "no token" id of the delay pattern, also the start token
        self.emb = nn.ModuleList(nn.Embedding(c.cardinality + 1, lm.dim) for _ in range(c.n_q))
        self.beat_proj = nn.Linear(1, lm.dim)
        self.video_proj = nn.Linear(cfg.video.dim, lm.dim)
        self.null_memory = nn.Parameter(torch.randn(1, 1, lm.dim) * 0.02)  # what "no video" reads
        self.blocks = nn.ModuleList(Block(lm.dim, lm.n_heads, lm.ffn_mult, lm.dropout) for _ in range(lm.n_layers))
        self.ln_f = nn.LayerNorm(lm.dim)
        self.heads = nn.ModuleList(nn.Linear(lm.dim, c.cardinality) for _ in range(c.n_q))
        self.beat_head = nn.Linear(lm.dim, 1)

    def memory(self, video_tokens: torch.Tensor | None, video_steps: torch.Tensor | None,
               keep: torch.Tensor):
        """Cross-attention memory: a null token then the video tokens.

        video_tokens (B, S, Dv); video_steps (S,) their times in token steps from the window
        start; keep (B,) bool, False = video dropped (training dropout, or the unconditional half
        of guidance). Returns memory (B, 1+S, D) and mask (B, 1+S) bool.
        """
        b = keep.shape[0]
        null = self.null_memory.expand(b, 1, self.dim)
        if video_tokens is None:
            return null, torch.ones(b, 1, dtype=torch.bool, device=keep.device)
        v = self.video_proj(video_tokens) + sinusoid(video_steps, self.dim)  # (B, S, D)
        mask = torch.cat([torch.ones_like(keep)[:, None], keep[:, None].expand(b, v.shape[1])], 1)
        return torch.cat([null, v], dim=1), mask

    def embed(self, tokens: torch.Tensor, beat: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """tokens (B, K, T) delayed ids; beat (B, T) activation 0..1; start (T,) step positions."""
        x = sum(self.emb[q](tokens[:, q]) for q in range(self.n_q))  # (B, T, D)
        return x + sinusoid(start, self.dim) + self.beat_proj(beat[..., None])

    def forward(self, tokens, beat, memory=None, mem_mask=None, *, state: DecodeState | None = None,
                pos: torch.Tensor | None = None):
        """tokens (B, K, T), beat (B, T) -> logits (B, K, T, card), hidden (B, T, D).

        Full pass: memory (B, S, D) with mem_mask (B, S). Cached pass: `state` from `decoding`
        and `pos` (T,) the absolute steps of these tokens.
        """
        t = tokens.shape[-1]
        if pos is None:
            pos = torch.arange(t, device=tokens.device)
        x = self.embed(tokens, beat, pos)
        for i, block in enumerate(self.blocks):
            if state is None:
                x = block(x, pos, None, block.cross.project(memory), mem_mask)
            else:
                x = block(x, pos, state.caches[i], state.cross_kv[i], state.mem_mask)
        h = self.ln_f(x)  # (B, T, D)
        logits = torch.stack([head(h) for head in self.heads], dim=1)  # (B, K, T, card)
        return logits, h

    def beat_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, D) -> (B, T) logits of the music's beat activation."""
        return self.beat_head(hidden)[..., 0]

    @contextmanager
    def decoding(self, batch: int, max_len: int, memory: torch.Tensor | None = None,
                 mem_mask: torch.Tensor | None = None):
        """Preallocate the caches for `max_len` steps once; project the memory when given.

        One state serves many windows: `set_memory` swaps the video, and positions restart at 0
        (steps past the current position are masked out, so stale keys are never read).
        """
        if max_len > self.cfg.lm.max_steps:
            raise ValueError(f"{max_len} steps exceed the model's window of {self.cfg.lm.max_steps}")
        p = next(self.parameters())
        hd = self.dim // self.cfg.lm.n_heads
        caches = [KVCache(batch, self.cfg.lm.n_heads, max_len, hd, p.dtype, p.device) for _ in self.blocks]
        state = DecodeState(caches, [], torch.ones(batch, 1, dtype=torch.bool, device=p.device))
        if memory is not None:
            self.set_memory(state, memory, mem_mask)
        yield state

    def set_memory(self, state: DecodeState, memory: torch.Tensor, mem_mask: torch.Tensor) -> None:
        """Project a (new) video memory (B, S, D) into the state's cross-attention keys and values."""
        state.cross_kv = [blk.cross.project(memory) for blk in self.blocks]
        state.mem_mask = mem_mask


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """logits (..., card) -> ids (...,). temperature 0 = greedy; top_k 0 / top_p 0 = off.

    Samples by the exponential-race trick (argmax of p / Exp(1)), which needs no host sync.
    """
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0 < top_p < 1:
        sorted_logits, idx = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p  # keep the smallest set reaching top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)
    probs = logits.softmax(-1)
    race = torch.empty_like(probs).exponential_(1.0, generator=generator)
    return (probs / race).argmax(-1)
