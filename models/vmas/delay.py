"""The codebook delay pattern (MusicGen): codebook k is shifted k steps right.

With K codebooks the LM predicts all K tokens of a step at once; shifting codebook k by k steps
lets codebook k of frame t be predicted after codebooks 0..k-1 of that frame were seen, at the
cost of K-1 extra steps. `S` marks a position with no token (the special id, = cardinality).

    codes (K=3, T=4)            delayed (K=3, T+K-1=6)
    k0: a0 a1 a2 a3             k0: a0 a1 a2 a3 S  S
    k1: b0 b1 b2 b3     ->      k1: S  b0 b1 b2 b3 S
    k2: c0 c1 c2 c3             k2: S  S  c0 c1 c2 c3

`revert_delay` reads the diagonal back; `delay_valid_mask` marks the positions holding a token,
which are the only ones the loss counts. Pure functions of tensors; no state.
"""

from __future__ import annotations

import torch


def apply_delay(codes: torch.Tensor, special: int) -> torch.Tensor:
    """codes (B, K, T) -> delayed (B, K, T + K - 1), `special` where codebook k has no token."""
    b, k, t = codes.shape
    out = codes.new_full((b, k, t + k - 1), special)  # (B, K, T+K-1)
    for q in range(k):
        out[:, q, q : q + t] = codes[:, q]
    return out


def revert_delay(delayed: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
    """delayed (B, K, L) -> codes (B, K, T) with T = L - K + 1 (or `n_frames` when given)."""
    b, k, length = delayed.shape
    t = length - k + 1 if n_frames is None else n_frames
    if t < 0 or t + k - 1 > length:
        raise ValueError(f"a delayed grid of {length} steps cannot hold {t} frames of {k} codebooks")
    return torch.stack([delayed[:, q, q : q + t] for q in range(k)], dim=1)  # (B, K, T)


def delay_valid_mask(k: int, t: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(K, T + K - 1) bool: True where the delayed grid of T frames holds a real token."""
    steps = torch.arange(t + k - 1, device=device)[None, :]  # (1, L)
    q = torch.arange(k, device=device)[:, None]  # (K, 1)
    return (steps >= q) & (steps < q + t)
