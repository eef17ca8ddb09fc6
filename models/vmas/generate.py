"""Generation: codes for any length, by a sliding window over the model's training window.

The first window is generated from the video alone. Each next window starts `overlap` frames
before the previous one ended and is prompted with those frames' codes, so the music runs on
across the seam; the visual-beat stream is computed once for the whole segment at the token rate
and sliced per window, so the beat grid the music follows is one continuous grid. Each window
cross-attends to the video tokens inside it, with times relative to the window start as in
training. Candidates (a batch) are re-ranked at the end by how well the beats the beat head
hears in them meet the video's visual beats.

Guidance: the batch runs twice, with and without the video (null memory, no beat stream), and
the logits are mixed `uncond + scale * (cond - uncond)`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from ..interface import ProgressFn, check_cancelled, no_progress
from .beats import pick_peaks, rerank
from .delay import revert_delay
from .model import VmasNet
from .music_lm import sample_logits
from .video_encoder import VideoTokens


@dataclass(frozen=True)
class GenerateOptions:
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 250  # MusicGen's default
    top_p: float = 0.0  # 0 = off
    cfg_scale: float = 3.0  # classifier-free guidance; 1 = none (video-conditioned only)
    candidates: int = 1  # generated in one batch, best beat agreement first
    overlap: float = 0.5  # share of the window kept as the next window's prompt
    seed: int = 0


def _window_video(vt: VideoTokens, start_s: float, end_s: float, frame_rate: float):
    """The video tokens inside [start_s, end_s), times in token steps from start_s."""
    sel = (vt.times_s >= start_s) & (vt.times_s < end_s)
    if not bool(sel.any()):  # a window shorter than a token: take the nearest one
        sel = (vt.times_s - start_s).abs() == (vt.times_s - start_s).abs().min()
    return vt.tokens[:, sel], (vt.times_s[sel] - start_s) * frame_rate


@torch.no_grad()
def _generate_window(net: VmasNet, state, video, video_steps, beat: torch.Tensor, prompt: torch.Tensor,
                     n_frames: int, opts: GenerateOptions, g: torch.Generator,
                     cancel: threading.Event | None, step_fn=None) -> torch.Tensor:
    """prompt (C, K, P) codes -> (C, K, n_frames) codes, the first P being the prompt.

    state: the decode state from `lm.decoding`, shared by all windows (one allocation, and a
    compiled step sees the same cache tensors every time). step_fn: the one-token decode step
    (a compiled `lm.forward`); None = `lm.forward`.
    """
    lm, k = net.lm, net.cfg.codec.n_q
    c, p = prompt.shape[0], prompt.shape[-1]
    device = next(net.parameters()).device
    guided = opts.cfg_scale != 1.0
    rows = 2 * c if guided else c
    keep = torch.tensor([True] * c + [False] * (rows - c), device=device)
    memory, mask = lm.memory(video.expand(rows, -1, -1) if video is not None else None, video_steps, keep)
    lm.set_memory(state, memory, mask)
    length = n_frames + k - 1  # delayed steps
    beat_in = torch.nn.functional.pad(beat, (0, length - beat.shape[0]))[None].expand(rows, -1) * keep[:, None]
    grid = torch.full((c, k, length), lm.special, dtype=torch.long, device=device)
    steps = torch.arange(length, device=device)[None, :]
    q_idx = torch.arange(k, device=device)[:, None]
    frame = steps - q_idx  # (K, L) the frame each grid cell holds
    for q in range(k):
        grid[:, q, q : q + p] = prompt[:, q]
    known = (frame < p) | (frame >= n_frames)  # prompt cells and "no token" cells (K, L)

    def logits_at(x: torch.Tensor, pos: torch.Tensor, state, fn=lm.forward) -> torch.Tensor:
        out, _ = fn(x.repeat(rows // c, 1, 1), beat_in[:, pos], state=state, pos=pos)  # (rows, K, T, card)
        out = out[:, :, -1]
        if guided:
            cond, uncond = out[:c], out[c:]
            return uncond + opts.cfg_scale * (cond - uncond)
        return out

    start = torch.full((c, k, 1), lm.special, dtype=torch.long, device=device)
    inputs = torch.cat([start, grid[..., :-1]], dim=-1)  # input at step t is grid[t-1]
    first = min(p, length - 1)  # steps 0..first have all their inputs known: one prefill call
    logits = logits_at(inputs[..., : first + 1], torch.arange(first + 1, device=device), state)
    for t in range(first, length):
        if t % 16 == 0:
            check_cancelled(cancel)
        if t > first:
            logits = logits_at(grid[..., t - 1 : t], torch.tensor([t], device=device), state, step_fn or lm.forward)
        ids = sample_logits(logits, opts.temperature, opts.top_k, opts.top_p, generator=g)  # (C, K)
        grid[:, :, t] = torch.where(known[:, t][None], grid[:, :, t], ids)
    return revert_delay(grid, n_frames)


@torch.no_grad()
def generate_codes(net: VmasNet, vt: VideoTokens, visual_beat: torch.Tensor, n_frames: int,
                   opts: GenerateOptions = GenerateOptions(), progress: ProgressFn = no_progress,
                   cancel: threading.Event | None = None, step_fn=None) -> torch.Tensor:
    """vt of the whole segment (batch 1), visual_beat (T,) at the token rate -> codes (C, K, n_frames).

    Candidates come back in generation order; `rerank_candidates` puts the best first.
    """
    cfg = net.cfg
    fr, k, w = cfg.codec.frame_rate, cfg.codec.n_q, cfg.window_frames
    overlap = min(w - 1, max(0, int(round(w * opts.overlap))))
    device = next(net.parameters()).device
    g = torch.Generator(device=device).manual_seed(opts.seed)
    codes = torch.zeros(opts.candidates, k, 0, dtype=torch.long, device=device)
    visual_beat = visual_beat.to(device)
    rows = opts.candidates * (2 if opts.cfg_scale != 1.0 else 1)
    with net.lm.decoding(rows, min(w, n_frames) + k - 1) as state:
        while codes.shape[-1] < n_frames:
            end = codes.shape[-1]
            start = 0 if end == 0 else end - overlap
            stop = min(n_frames, start + w)
            video, steps = _window_video(vt, start / fr, stop / fr, fr)
            out = _generate_window(net, state, video, steps, visual_beat[start:stop], codes[..., start:end],
                                   stop - start, opts, g, cancel, step_fn)
            codes = torch.cat([codes, out[..., end - start :]], dim=-1)
            progress("compose", codes.shape[-1] / n_frames)
    return codes


@torch.no_grad()
def candidate_beats(net: VmasNet, codes: torch.Tensor) -> list[np.ndarray]:
    """Beat times (seconds) the beat head hears in each candidate (C, K, T), window by window."""
    fr, w = net.cfg.codec.frame_rate, net.cfg.window_frames
    act = torch.cat([net.beat_activation(codes[..., s : s + w]) for s in range(0, codes.shape[-1], w)], dim=-1)
    return [pick_peaks(a, fr, min_gap_s=0.2, threshold=0.5) for a in act.cpu().numpy()]  # (C, T) curves


def rerank_candidates(net: VmasNet, codes: torch.Tensor, visual_beats_s) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Candidates (C, K, T) reordered by beat agreement with the visual beats; their beat times too."""
    beats = candidate_beats(net, codes)
    order = rerank(beats, visual_beats_s)
    return codes[order], [beats[i] for i in order]
