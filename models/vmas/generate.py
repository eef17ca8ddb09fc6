"""Generation: codes for any length, by a sliding window over the model's window.

API (for a VMAS net and for a pretrained MusicGen with text-only memory alike):

    generate(lm, condition, n_frames, window_frames=..., opts=GenerateOptions(...),
             generator=None, cancel=None, progress=no_progress, step_fn=None) -> codes (C, K, n_frames)

- `lm`: a `MusicLM` (a VMAS net's `net.lm`, or `load_musicgen(...).lm`).
- `condition`: a `WindowCondition` used for every window (e.g. a text prompt:
  `WindowCondition(base.text_memory([prompt]), base.null_memory())`), or a function
  `(start_frame, stop_frame) -> WindowCondition` called once per window (VMAS: the video tokens
  inside the window, its beat stream). `cond` holds the conditional rows, `null` the rows of
  guidance's unconditional half (None only when `opts.cfg_scale == 1`); each has 1 row (shared by
  the candidates) or C rows. `beat` (stop - start,) is the visual-beat stream of the conditional
  rows (the null rows get none), None = no beat stream.
- `window_frames`: codec frames per window (MusicGen: 30 s = 1500; VMAS: its training window).
  The first window starts from nothing. Each next window starts `overlap` of a window before the
  previous one ended and is prompted with those frames' codes (continuation, as MusicGen continues
  an audio prompt), so the music runs on across the seam; positions restart at 0 per window as in
  training.
- `generator`: the sampling generator (on the LM's device); None = seeded from `opts.seed`.
- `cancel`: checked every 16 steps (raises Cancelled); `progress("compose", fraction)` per window.
- `step_fn`: the one-token decode step, e.g. `torch.compile(lm.forward, mode="reduce-overhead")`;
  None = `lm.forward`. The KV cache is allocated once for all windows and each window's memory is
  padded to the first one's width, so a compiled step keeps static shapes.

Guidance: the conditional and null rows run in one batch and the logits are mixed
`null + scale * (cond - null)`, as transformers' ClassifierFreeGuidanceLogitsProcessor does.

`generate_codes(net, video_tokens, visual_beat, n_frames, ...)` is the VMAS wrapper: each window
cross-attends to the video tokens inside it (times relative to the window start, as in
training) and the visual-beat stream, computed once for the whole segment at the token rate and
sliced per window, so the beat grid the music follows is one continuous grid; the null rows
drop text and video. Candidates are re-ranked at the end (`rerank_candidates`) by how well the
beats the beat head hears in them meet the video's visual beats.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..interface import ProgressFn, check_cancelled, no_progress
from .beats import pick_peaks, rerank
from .delay import revert_delay
from .model import VmasNet
from .music_lm import Memory, MusicLM, sample_logits
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


@dataclass
class WindowCondition:
    """The conditioning of one window: conditional rows, guidance's null rows, the beat stream."""

    cond: Memory
    null: Memory | None = None
    beat: torch.Tensor | None = None  # (n_frames of the window,) activation 0..1, conditional rows only


ConditionFn = Callable[[int, int], WindowCondition]


def _window_video(vt: VideoTokens, start_s: float, end_s: float, frame_rate: float):
    """The video tokens inside [start_s, end_s), times in token steps from start_s."""
    sel = (vt.times_s >= start_s) & (vt.times_s < end_s)
    if not bool(sel.any()):  # a window shorter than a token: take the nearest one
        sel = (vt.times_s - start_s).abs() == (vt.times_s - start_s).abs().min()
    return vt.tokens[:, sel], (vt.times_s[sel] - start_s) * frame_rate


@torch.no_grad()
def _generate_window(lm: MusicLM, state, cond: WindowCondition, prompt: torch.Tensor, n_frames: int,
                     opts: GenerateOptions, g: torch.Generator | None, cancel: threading.Event | None,
                     step_fn=None) -> torch.Tensor:
    """prompt (C, K, P) codes -> (C, K, n_frames) codes, the first P being the prompt.

    state: the decode state from `lm.decoding`, shared by all windows (one allocation, and a
    compiled step sees the same cache tensors every time).
    """
    k = lm.n_q
    c, p = prompt.shape[0], prompt.shape[-1]
    device = prompt.device
    guided = opts.cfg_scale != 1.0
    if guided and cond.null is None:
        raise ValueError("guidance (cfg_scale != 1) needs the null rows: give WindowCondition.null")
    memory = Memory.stack([cond.cond.rows(c), cond.null.rows(c)]) if guided else cond.cond.rows(c)
    rows = memory.batch
    lm.set_memory(state, memory)
    length = n_frames + k - 1  # delayed steps
    beat_in = torch.zeros(rows, length, device=device)
    if cond.beat is not None:
        n = min(length, cond.beat.shape[0])
        beat_in[:c, :n] = cond.beat[:n].to(device)
    grid = torch.full((c, k, length), lm.special, dtype=torch.long, device=device)
    steps = torch.arange(length, device=device)[None, :]
    q_idx = torch.arange(k, device=device)[:, None]
    frame = steps - q_idx  # (K, L) the frame each grid cell holds
    for q in range(k):
        grid[:, q, q : q + p] = prompt[:, q]
    known = (frame < p) | (frame >= n_frames)  # prompt cells and "no token" cells (K, L)

    def logits_at(x: torch.Tensor, pos: torch.Tensor, fn) -> torch.Tensor:
        out, _ = fn(x.repeat(rows // c, 1, 1), beat_in[:, pos], state=state, pos=pos)  # (rows, K, T, card)
        out = out[:, :, -1]
        if guided:
            cond_logits, null_logits = out[:c], out[c:]
            return null_logits + opts.cfg_scale * (cond_logits - null_logits)
        return out

    start = torch.full((c, k, 1), lm.special, dtype=torch.long, device=device)
    inputs = torch.cat([start, grid[..., :-1]], dim=-1)  # input at step t is grid[t-1]
    first = min(p, length - 1)  # steps 0..first have all their inputs known: one prefill call
    logits = logits_at(inputs[..., : first + 1], torch.arange(first + 1, device=device), lm.forward)
    for t in range(first, length):
        if t % 16 == 0:
            check_cancelled(cancel)
        if t > first:
            logits = logits_at(grid[..., t - 1 : t], torch.tensor([t], device=device), step_fn or lm.forward)
        ids = sample_logits(logits, opts.temperature, opts.top_k, opts.top_p, generator=g)  # (C, K)
        grid[:, :, t] = torch.where(known[:, t][None], grid[:, :, t], ids)
    return revert_delay(grid, n_frames)


@torch.no_grad()
def generate(lm: MusicLM, condition: WindowCondition | ConditionFn, n_frames: int, *, window_frames: int,
             opts: GenerateOptions = GenerateOptions(), generator: torch.Generator | None = None,
             cancel: threading.Event | None = None, progress: ProgressFn = no_progress,
             step_fn=None) -> torch.Tensor:
    """Codes (C, K, n_frames) for C = opts.candidates, window by window (see the module doc)."""
    k, w = lm.n_q, int(window_frames)
    if w < 1 or n_frames < 1:
        raise ValueError(f"need at least one frame and a window of at least one frame, not {n_frames} / {w}")
    overlap = min(w - 1, max(0, round(w * opts.overlap)))
    device = lm.layer_norm.weight.device
    g = generator if generator is not None else torch.Generator(device=device).manual_seed(opts.seed)
    codes = torch.zeros(opts.candidates, k, 0, dtype=torch.long, device=device)
    rows = opts.candidates * (2 if opts.cfg_scale != 1.0 else 1)
    with lm.decoding(rows, min(w, n_frames) + k - 1) as state:
        while codes.shape[-1] < n_frames:
            end = codes.shape[-1]
            start = 0 if end == 0 else end - overlap
            stop = min(n_frames, start + w)
            cond = condition(start, stop) if callable(condition) else condition
            out = _generate_window(lm, state, cond, codes[..., start:end], stop - start, opts, g, cancel, step_fn)
            codes = torch.cat([codes, out[..., end - start :]], dim=-1)
            progress("compose", codes.shape[-1] / n_frames)
    return codes


@torch.no_grad()
def generate_codes(net: VmasNet, vt: VideoTokens, visual_beat: torch.Tensor, n_frames: int,
                   opts: GenerateOptions = GenerateOptions(), progress: ProgressFn = no_progress,
                   cancel: threading.Event | None = None, step_fn=None,
                   text: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """vt of the whole segment (batch 1), visual_beat (T,) at the token rate -> codes (C, K, n_frames).

    text: (states, mask) of a prompt from `TextConditioner.encode` (a MusicGen-based net), or None.
    Candidates come back in generation order; `rerank_candidates` puts the best first.
    """
    fr = net.cfg.codec.frame_rate
    visual_beat = visual_beat.to(net.lm.layer_norm.weight.device)
    text_states, text_mask = text if text is not None else (None, None)

    def condition(start: int, stop: int) -> WindowCondition:
        video, steps = _window_video(vt, start / fr, stop / fr, fr)
        cond = net.memory(video, steps, 1, text_states=text_states, text_mask=text_mask)
        return WindowCondition(cond, net.lm.memory(1), visual_beat[start:stop])

    return generate(net.lm, condition, n_frames, window_frames=net.cfg.window_frames, opts=opts,
                    cancel=cancel, progress=progress, step_fn=step_fn)


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
