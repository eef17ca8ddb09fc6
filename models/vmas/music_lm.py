"""The music transformer: MusicGen's decoder, exactly, plus VMAS's video conditioning.

Architecture (transformers' `MusicgenForCausalLM`, weight for weight; pretrained.py loads one):
- input at step t: the sum of K codebook embeddings (`embed_tokens`, vocab = cardinality + 1,
  the last id `special` is both the start token and the delay pattern's "no token"), plus
  MusicGen's sinusoidal table at absolute position t (cos half first, then sin; frequencies
  10000^(-i / (D/2 - 1))), no embedding scale (transformers computes one and never applies it),
  plus the visual-beat activation through `beat_proj` (new; zero-initialised on a pretrained base);
- each layer: pre-LayerNorm causal self-attention, pre-LayerNorm cross-attention, pre-LayerNorm
  FFN fc1 -> activation -> fc2; every projection without bias, as in MusicGen;
- final LayerNorm, K heads without bias -> logits (B, K, T, cardinality); a beat head (new).

Conditioning (`Memory`): the decoder cross-attends to ONE sequence, [text | video], with a joint
mask. The text part is the T5 encoding projected by MusicGen's enc_to_dec_proj
(text_conditioning.py), or, when there is no text or it is dropped, the null slot: one zero
vector. That is transformers' unconditional input (zero encoder states, all masked: attention then
averages zero values) in one column, so the null condition is MusicGen's exactly and a row never
has nothing to attend to. The video part (already in the decoder's width) gets the video tokens'
times as sinusoids. Each layer's cross-attention weighs the video columns' attention weights by a
learned per-head gate, `video_gate` (softmax over the joint sequence with video weights scaled by
the gate): at 0 (how a pretrained base starts) the video columns get no weight at all, so step 0
is text-only MusicGen bit for bit whatever the video; at 1 it is plain joint attention. A gate is
needed because zero video states alone would still take attention weight from the text.

Decoding uses a preallocated static KV cache (gpt-fast style): `decoding(...)` sizes it once;
`set_memory` projects a window's memory for cross-attention once (padded to a fixed width so a
compiled step keeps its shapes); each `forward(..., state=, pos=)` writes its keys at `pos` and
attends over the whole cache with a position mask, so the step has static shapes.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import LMConfig

ACTIVATIONS = {  # transformers' ACT2FN names -> functions
    "gelu": F.gelu,
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "swish": F.silu,
}
# Parameters VMAS adds to MusicGen's decoder; everything else is MusicGen's (`base_parameter_names`).
NEW_PARAMETERS = ("beat_proj.weight", "beat_proj.bias", "beat_head.weight", "beat_head.bias")
VIDEO_GATE = "encoder_attn.video_gate"  # one per layer: layers.{i}.encoder_attn.video_gate


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """positions (...,) float, in token steps -> (..., dim): [sin | cos], the video tokens' times."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs  # (..., half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def musicgen_positions(pos: torch.Tensor, dim: int) -> torch.Tensor:
    """pos (T,) absolute steps -> (T, dim) float32: MusicGen's table, same ops in the same order."""
    half = dim // 2
    scale = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.int64, device=pos.device).float() * -scale)
    angles = pos.to(torch.int64).float()[:, None] * freqs[None, :]  # (T, half)
    table = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    if dim % 2 == 1:
        table = torch.cat([table, table.new_zeros(table.shape[0], 1)], dim=1)
    return table


@dataclass
class Memory:
    """What the decoder cross-attends to: columns [0, n_text) text (or the null slot), then video."""

    states: torch.Tensor  # (B, S, D)
    mask: torch.Tensor  # (B, S) bool, True = attend
    n_text: int

    @property
    def batch(self) -> int:
        return self.states.shape[0]

    def rows(self, n: int) -> Memory:
        """Each row repeated to `n` rows (a batch-1 memory for n candidates)."""
        if self.batch == n:
            return self
        if n % self.batch:
            raise ValueError(f"a memory of {self.batch} rows cannot fill {n} rows")
        r = n // self.batch
        return Memory(self.states.repeat_interleave(r, 0), self.mask.repeat_interleave(r, 0), self.n_text)

    def padded(self, n_text: int, n_video: int) -> Memory:
        """The same memory with its text part padded to n_text and its video part to n_video
        columns (zero states, masked out): attention is unchanged."""
        b, _, d = self.states.shape
        t, v = self.n_text, self.states.shape[1] - self.n_text
        if t > n_text or v > n_video:
            raise ValueError(f"a memory of {t}+{v} columns does not fit {n_text}+{n_video}")
        def pads(n):
            return (self.states.new_zeros(b, n, d), self.mask.new_zeros(b, n))
        (pt, mt), (pv, mv) = pads(n_text - t), pads(n_video - v)
        states = torch.cat([self.states[:, :t], pt, self.states[:, t:], pv], dim=1)
        mask = torch.cat([self.mask[:, :t], mt, self.mask[:, t:], mv], dim=1)
        return Memory(states, mask, n_text)

    @property
    def n_video(self) -> int:
        return self.states.shape[1] - self.n_text

    @staticmethod
    def stack(memories: list[Memory]) -> Memory:
        """Rows of several memories in one batch (e.g. conditional rows, then the null rows)."""
        t = max(m.n_text for m in memories)
        v = max(m.n_video for m in memories)
        padded = [m.padded(t, v) for m in memories]
        return Memory(torch.cat([m.states for m in padded]), torch.cat([m.mask for m in padded]), t)


class KVCache(nn.Module):
    """Keys and values of one layer for `max_len` steps, allocated once."""

    def __init__(self, batch: int, n_heads: int, max_len: int, head_dim: int, dtype, device):
        super().__init__()
        shape = (batch, n_heads, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        # Fixed addresses: a compiled step (CUDA graphs) may then write into them in place.
        torch._dynamo.mark_static_address(self.k)
        torch._dynamo.mark_static_address(self.v)

    def update(self, pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """pos (T,) steps; k, v (B, H, T, hd) -> the whole cache (B, H, max_len, hd) each."""
        self.k.index_copy_(2, pos, k)
        self.v.index_copy_(2, pos, v)
        return self.k, self.v


class SelfAttention(nn.Module):
    """MusicGen's causal self-attention: separate q/k/v/out projections, no biases."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim, bias=False) for _ in range(4))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)  # (B, H, T, hd)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, cache: KVCache | None):
        b, t, d = x.shape
        q, k, v = self._heads(self.q_proj(x)), self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        if cache is None:  # training / full pass: causal over the T given steps
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        else:  # decode: attend to every cached step up to each query's position
            k, v = cache.update(pos, k, v)  # (B, H, L, hd)
            mask = torch.arange(k.shape[2], device=x.device)[None, :] <= pos[:, None]  # (T, L)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class CrossAttention(nn.Module):
    """MusicGen's cross-attention over the joint [text | video] memory, video weighed by a gate."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.video_gate = nn.Parameter(torch.ones(n_heads))  # 0 on a pretrained base (see the module doc)

    def project(self, states: torch.Tensor):
        """states (B, S, D) -> keys, values (B, H, S, hd); computed once per window when decoding."""
        b, s, d = states.shape
        def split(x):
            return x.view(b, s, self.n_heads, d // self.n_heads).transpose(1, 2)
        return split(self.k_proj(states)), split(self.v_proj(states))

    def forward(self, x: torch.Tensor, kv, mask: torch.Tensor, n_text: int):
        """x (B, T, D); kv from `project`; mask (B, S) bool, True = attend."""
        b, t, d = x.shape
        k, v = kv
        hd = d // self.n_heads
        q = self.q_proj(x).view(b, t, self.n_heads, hd).transpose(1, 2)  # (B, H, T, hd)
        scores = (q.float() @ k.float().transpose(-1, -2)) * hd**-0.5  # (B, H, T, S)
        s = k.shape[2]
        gate = self.video_gate.float().clamp(min=0)[:, None].expand(self.n_heads, s - n_text)  # (H, Sv)
        col = torch.cat([gate.new_ones(self.n_heads, n_text), gate], dim=1)  # (H, S) weight per column
        live = mask[:, None, None, :]  # (B, 1, 1, S)
        # The shift is the max over attended columns (a constant per row: it cancels exactly).
        m = scores.masked_fill(~live, float("-inf")).amax(-1, keepdim=True).detach()
        w = torch.exp((scores - m).masked_fill(~live, float("-inf"))) * col[None, :, None, :]
        y = (w @ v.float()) / w.sum(-1, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)
        return self.out_proj(y.to(x.dtype).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """One MusicGen decoder layer (names as in transformers, so weights map one to one)."""

    def __init__(self, cfg: LMConfig):
        super().__init__()
        if cfg.activation not in ACTIVATIONS:
            raise ValueError(f"unsupported FFN activation {cfg.activation!r}: one of {', '.join(ACTIVATIONS)}")
        self.self_attn_layer_norm = nn.LayerNorm(cfg.dim)
        self.self_attn = SelfAttention(cfg.dim, cfg.n_heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(cfg.dim)
        self.encoder_attn = CrossAttention(cfg.dim, cfg.n_heads)
        self.final_layer_norm = nn.LayerNorm(cfg.dim)
        self.fc1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.fc2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)
        self.act = ACTIVATIONS[cfg.activation]
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, pos, cache, cross_kv, mem_mask, n_text):
        x = x + self.drop(self.self_attn(self.self_attn_layer_norm(x), pos, cache))
        x = x + self.drop(self.encoder_attn(self.encoder_attn_layer_norm(x), cross_kv, mem_mask, n_text))
        return x + self.drop(self.fc2(self.act(self.fc1(self.final_layer_norm(x)))))


@dataclass
class DecodeState:
    """Static caches for one decoding session: self-attention KV and the projected memory."""

    caches: list[KVCache]
    cross_kv: list[tuple[torch.Tensor, torch.Tensor]]
    mem_mask: torch.Tensor  # (B, S) bool
    n_text: int = 1
    width: tuple[int, int] | None = None  # (text, video) columns every window is padded to


class MusicLM(nn.Module):
    """MusicGen's decoder over `n_q` codebooks of `cardinality` entries, with VMAS's conditioning."""

    def __init__(self, cfg: LMConfig, n_q: int, cardinality: int):
        super().__init__()
        if cfg.dim % cfg.n_heads:
            raise ValueError(f"the LM width {cfg.dim} is not a multiple of its {cfg.n_heads} heads")
        self.cfg = cfg
        self.n_q, self.card, self.dim = n_q, cardinality, cfg.dim
        self.special = cardinality  # MusicGen's pad = bos id: the start token and the "no token" of the delay
        self.embed_tokens = nn.ModuleList(nn.Embedding(cardinality + 1, cfg.dim) for _ in range(n_q))
        self.beat_proj = nn.Linear(1, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.layer_norm = nn.LayerNorm(cfg.dim)
        self.lm_heads = nn.ModuleList(nn.Linear(cfg.dim, cardinality, bias=False) for _ in range(n_q))
        self.beat_head = nn.Linear(cfg.dim, 1)

    # -- parameters ---------------------------------------------------------------------------

    @staticmethod
    def is_new_parameter(name: str) -> bool:
        """True for a parameter VMAS adds (beat stream, beat head, video gates), not MusicGen's."""
        return name in NEW_PARAMETERS or name.endswith(VIDEO_GATE)

    def base_parameter_names(self) -> list[str]:
        """Names of the parameters a MusicGen decoder provides (frozen when fine-tuning)."""
        return [n for n, _ in self.named_parameters() if not self.is_new_parameter(n)]

    @torch.no_grad()
    def zero_new_parameters(self) -> None:
        """New conditioning starts inert: no beat stream, video gates closed (step 0 = MusicGen)."""
        self.beat_proj.weight.zero_()
        self.beat_proj.bias.zero_()
        for layer in self.layers:
            layer.encoder_attn.video_gate.zero_()

    # -- conditioning -------------------------------------------------------------------------

    def memory(self, batch: int, *, text: torch.Tensor | None = None, text_mask: torch.Tensor | None = None,
               video: torch.Tensor | None = None, video_steps: torch.Tensor | None = None,
               keep_text: torch.Tensor | None = None, keep_video: torch.Tensor | None = None) -> Memory:
        """The joint cross-attention memory of `batch` rows.

        text (B or 1, St, D) projected text states with text_mask (B or 1, St) bool; None = the
        null slot. video (B or 1, Sv, D) video states in the LM width, video_steps (Sv,) their
        times in token steps from the window start; None = no video columns. keep_text,
        keep_video (B,) bool, False = that part dropped in that row (training dropout, or the
        null rows of guidance); None = kept. A row without text reads the null slot.
        """
        device = self.layer_norm.weight.device
        dtype = self.layer_norm.weight.dtype
        ones = torch.ones(batch, dtype=torch.bool, device=device)
        if text is None:
            states = torch.zeros(batch, 1, self.dim, dtype=dtype, device=device)
            mask = torch.ones(batch, 1, dtype=torch.bool, device=device)
        else:
            keep = ones if keep_text is None else keep_text.to(device)
            mask = text_mask.to(device).expand(batch, -1) & keep[:, None]  # (B, St)
            mask[:, 0] |= ~keep  # a dropped row attends to column 0 alone, zeroed: the null slot
            states = text.to(device, dtype).expand(batch, -1, -1) * (mask & keep[:, None])[..., None]
        n_text = states.shape[1]
        if video is not None:
            keep = ones if keep_video is None else keep_video.to(device)
            v = video.to(dtype).expand(batch, -1, -1) + sinusoid(video_steps.to(device), self.dim).to(dtype)
            v = v * keep[:, None, None]  # (B, Sv, D)
            states = torch.cat([states, v], dim=1)
            mask = torch.cat([mask, keep[:, None].expand(batch, v.shape[1])], dim=1)
        return Memory(states, mask, n_text)

    # -- the network --------------------------------------------------------------------------

    def embed(self, tokens: torch.Tensor, beat: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """tokens (B, K, T) delayed ids; beat (B, T) activation 0..1; pos (T,) absolute steps."""
        x = sum(self.embed_tokens[q](tokens[:, q]) for q in range(self.n_q))  # (B, T, D)
        x = x + musicgen_positions(pos, self.dim).to(x.dtype)
        return self.drop(x + self.beat_proj(beat[..., None].to(x.dtype)))

    def forward(self, tokens, beat, memory: Memory | None = None, *, state: DecodeState | None = None,
                pos: torch.Tensor | None = None):
        """tokens (B, K, T), beat (B, T) -> logits (B, K, T, card), hidden (B, T, D).

        Full pass: `memory`. Cached pass: `state` from `decoding` and `pos` (T,) the absolute
        steps of these tokens.
        """
        t = tokens.shape[-1]
        if pos is None:
            pos = torch.arange(t, device=tokens.device)
        x = self.embed(tokens, beat, pos)
        for i, layer in enumerate(self.layers):
            if state is None:
                x = layer(x, pos, None, layer.encoder_attn.project(memory.states), memory.mask, memory.n_text)
            else:
                x = layer(x, pos, state.caches[i], state.cross_kv[i], state.mem_mask, state.n_text)
        h = self.layer_norm(x)  # (B, T, D)
        logits = torch.stack([head(h) for head in self.lm_heads], dim=1)  # (B, K, T, card)
        return logits, h

    def beat_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, D) -> (B, T) logits of the music's beat activation."""
        return self.beat_head(hidden)[..., 0]

    @contextmanager
    def decoding(self, batch: int, max_len: int, memory: Memory | None = None):
        """Preallocate the caches for `max_len` steps once; project the memory when given.

        One state serves many windows: `set_memory` swaps the conditioning, and positions restart
        at 0 (steps past the current position are masked out, so stale keys are never read).
        """
        if max_len > self.cfg.max_steps:
            raise ValueError(f"{max_len} steps exceed the model's window of {self.cfg.max_steps}")
        p = self.layer_norm.weight
        hd = self.dim // self.cfg.n_heads
        caches = [KVCache(batch, self.cfg.n_heads, max_len, hd, p.dtype, p.device) for _ in self.layers]
        state = DecodeState(caches, [], torch.ones(batch, 1, dtype=torch.bool, device=p.device))
        if memory is not None:
            self.set_memory(state, memory)
        yield state

    def set_memory(self, state: DecodeState, memory: Memory) -> None:
        """Project a (new) memory into the state's cross-attention keys and values.

        The first memory fixes the state's width; later ones are padded to it (masked columns),
        so a compiled step sees the same shapes in every window.
        """
        if state.width is None or memory.n_text > state.width[0] or memory.n_video > state.width[1]:
            state.width = (memory.n_text, memory.n_video)
        memory = memory.padded(*state.width)
        state.cross_kv = [layer.encoder_attn.project(memory.states) for layer in self.layers]
        state.mem_mask, state.n_text = memory.mask, memory.n_text


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
