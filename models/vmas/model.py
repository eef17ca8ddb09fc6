"""The whole VMAS network: video encoder + music LM + the contrastive heads, and its training loss.

A batch (from data.py) holds, per clip: frames (B, N, 3, H, W) uint8 at the video fps (or, with a
frozen backbone, its cached "features" (B, N, F): `VideoEncoder.input_key` says which), codec codes
(B, K, T), the music's beat activation (B, T) and the video's beat activation (B, T), both at the
codec frame rate. It may also hold a text prompt's conditioning, "text_states" (B, St, D) and
"text_mask" (B, St) bool, from `TextConditioner.encode` (a MusicGen base); without them every
clip reads the null text slot.

The LM is built from `cfg.lm` (from scratch: the `debug` config), or given: `VmasNet(cfg, lm=
base.lm)` with a pretrained MusicGen (pretrained.py; `cfg.lm` and `cfg.codec` must then be the
folder's, `base.lm_config` and `base.codec_config`).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import VmasConfig
from .delay import apply_delay, delay_valid_mask
from .losses import LOGIT_SCALE_INIT, beat_bce, info_nce, token_ce
from .music_lm import Memory, MusicLM
from .video_encoder import VideoEncoder, VideoTokens


class MusicEmbedder(nn.Module):
    """Codes (B, K, T) -> (B, E): a music-only summary (it never sees the video, unlike the LM)."""

    def __init__(self, cfg: VmasConfig):
        super().__init__()
        d = cfg.video.dim
        self.emb = nn.ModuleList(nn.Embedding(cfg.codec.cardinality, d) for _ in range(cfg.codec.n_q))
        self.conv = nn.Sequential(nn.Conv1d(d, d, 3, stride=2, padding=1), nn.GELU(),
                                  nn.Conv1d(d, d, 3, stride=2, padding=1), nn.GELU())
        self.proj = nn.Linear(d, cfg.embed_dim)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = sum(self.emb[q](codes[:, q]) for q in range(codes.shape[1]))  # (B, T, d)
        return self.proj(self.conv(x.transpose(1, 2)).mean(dim=2))


class VmasNet(nn.Module):
    def __init__(self, cfg: VmasConfig, lm: MusicLM | None = None):
        super().__init__()
        self.cfg = cfg
        self.video = VideoEncoder(cfg.video)
        self.lm = lm if lm is not None else MusicLM(cfg.lm, cfg.codec.n_q, cfg.codec.cardinality)
        if (self.lm.cfg, self.lm.n_q, self.lm.card) != (cfg.lm, cfg.codec.n_q, cfg.codec.cardinality):
            raise ValueError("the music LM given does not have the config's shape: build the config with the "
                             "base's lm_config and codec_config")
        self.video_proj = nn.Linear(cfg.video.dim, self.lm.dim)  # video tokens into the LM's memory width
        self.music_embed = MusicEmbedder(cfg)
        self.video_embed = nn.Linear(cfg.video.dim, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(LOGIT_SCALE_INIT))

    def memory(self, video_tokens: torch.Tensor | None, video_steps: torch.Tensor | None, batch: int, *,
               keep_video: torch.Tensor | None = None, text_states: torch.Tensor | None = None,
               text_mask: torch.Tensor | None = None, keep_text: torch.Tensor | None = None) -> Memory:
        """The LM's joint memory: [text or null | projected video tokens].

        video_tokens (B or 1, S, Dv), video_steps (S,) token steps from the window start; keep_*
        (B,) bool, False = that part dropped in that row.
        """
        video = self.video_proj(video_tokens) if video_tokens is not None else None
        return self.lm.memory(batch, text=text_states, text_mask=text_mask, video=video, video_steps=video_steps,
                              keep_text=keep_text, keep_video=keep_video)

    def lm_inputs(self, codes: torch.Tensor):
        """codes (B, K, T) -> (inputs, targets) (B, K, L): targets delayed, inputs one step behind."""
        special = self.lm.special
        targets = apply_delay(codes, special)  # (B, K, L)
        start = torch.full_like(targets[..., :1], special)
        return torch.cat([start, targets[..., :-1]], dim=-1), targets

    def beat_stream(self, visual_beat: torch.Tensor, length: int, keep: torch.Tensor) -> torch.Tensor:
        """(B, T) visual activation -> (B, L) LM conditioning; zero where the video is dropped."""
        t = visual_beat.shape[1]
        out = torch.nn.functional.pad(visual_beat, (0, max(0, length - t)))[:, :length]
        return out * keep[:, None].to(out.dtype)

    def losses(self, batch: dict, generator: torch.Generator | None = None, keep: torch.Tensor | None = None):
        """Training losses of a batch: dict of scalar tensors, `loss` the weighted total."""
        cfg = self.cfg
        codes = batch["codes"]  # (B, K, T)
        b, k, t = codes.shape
        vt: VideoTokens = self.video(batch[self.video.input_key])  # pixels or backbone features
        if keep is None:  # classifier-free guidance: drop the video of some clips
            keep = torch.rand(b, generator=generator) >= cfg.cfg_dropout
        keep = keep.to(codes.device)
        text, text_mask = batch.get("text_states"), batch.get("text_mask")
        keep_text = None
        if text is not None:  # and, independently, the text of some
            keep_text = (torch.rand(b, generator=generator) >= cfg.text_dropout).to(codes.device)
        memory = self.memory(vt.tokens, vt.times_s * cfg.codec.frame_rate, b, keep_video=keep,
                             text_states=text, text_mask=text_mask, keep_text=keep_text)
        inputs, targets = self.lm_inputs(codes)
        beat = self.beat_stream(batch["visual_beat"], inputs.shape[-1], keep)
        logits, hidden = self.lm(inputs, beat, memory)
        ce = token_ce(logits, targets, delay_valid_mask(k, t, codes.device))
        # Step s+1 has read codebook 0 of frame s: the earliest step that can know frame s's beat.
        n = min(t, inputs.shape[-1] - 1)
        beat_loss = beat_bce(self.lm.beat_logits(hidden[:, 1 : 1 + n]), batch["music_beat"][:, :n])
        nce = info_nce(self.video_embed(vt.pooled), self.music_embed(codes), self.logit_scale)
        total = ce + cfg.contrastive_weight * nce + cfg.beat_weight * beat_loss
        return {"loss": total, "ce": ce, "contrastive": nce, "beat": beat_loss}

    @torch.no_grad()
    def beat_activation(self, codes: torch.Tensor) -> torch.Tensor:
        """The beat head's activation (B, T) 0..1 heard in codes (B, K, T) alone.

        Text and video are dropped (null memory, no beat stream), as in guidance's null rows,
        so the beats come from the music and can be compared with the video's afterwards.
        """
        b, _, t = codes.shape
        inputs, _ = self.lm_inputs(codes)
        beat = torch.zeros(b, inputs.shape[-1], device=codes.device)
        _, hidden = self.lm(inputs, beat, self.lm.memory(b))  # the null condition
        n = min(t, inputs.shape[-1] - 1)
        out = torch.zeros(b, t, device=codes.device)
        out[:, :n] = self.lm.beat_logits(hidden[:, 1 : 1 + n]).sigmoid()
        return out

    @torch.no_grad()
    def match_scores(self, frames: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """frames (Bv, N, 3, H, W), codes (Bm, K, T) -> (Bv, Bm) cosine similarities."""
        v = torch.nn.functional.normalize(self.video_embed(self.video(frames).pooled), dim=-1)
        m = torch.nn.functional.normalize(self.music_embed(codes), dim=-1)
        return v @ m.T
