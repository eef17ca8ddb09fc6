"""Model sizes of VMAS as frozen dataclasses: `debug` (tests, seconds on CPU), `small`, `medium`.

The paper publishes no sizes; ours follow MusicGen (small = 300M-class decoder over 4 EnCodec
codebooks at 50 Hz) because VMAS builds on the same token-LM recipe. Override a field with
`dataclasses.replace`; `get_config(name)` returns a named size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodecConfig:
    """The audio codec whose discrete codes the music LM models."""

    kind: str = "encodec"  # "encodec" (a local EnCodec folder) | "musicgen" (its folder, in path) | "tiny"
    sample_rate: int = 32_000  # Hz, mono
    frame_rate: int = 50  # codec frames (token steps) per second
    n_q: int = 4  # K codebooks per frame
    cardinality: int = 2048  # entries per codebook
    path: str = ""  # encodec: folder or file with the weights, "" = <model dir>/encodec_32khz; musicgen: its folder
    seed: int = 0  # tiny: the seed its fixed codebooks are drawn from

    @property
    def hop(self) -> int:
        """Audio samples per codec frame."""
        return self.sample_rate // self.frame_rate


@dataclass(frozen=True)
class VideoConfig:
    """The temporal video encoder: a per-frame encoder, then temporal layers linear in frame count.

    Per frame: a frozen pretrained image backbone (CLIP/SigLIP from a local folder, features
    cached in the training shards, a trained projection to `dim`) or, for `debug` only, a small CNN
    trained from scratch on letterboxed pixels. `with_video_backbone(cfg, DIR)` (backbone.py)
    fills the three backbone fields from a folder.
    """

    fps: float = 8.0  # frames sampled per second (the paper samples densely; 8 fps is ours)
    frame_size: int = 112  # square side in pixels that frames are resized to
    cnn_channels: tuple[int, ...] = (32, 64, 128, 256)  # one stride-2 stage each
    dim: int = 512  # width of the video tokens
    n_layers: int = 4  # temporal (windowed attention) layers
    n_heads: int = 8
    window: int = 16  # tokens per attention window; cost is O(frames * window)
    merge: int = 2  # consecutive frames averaged into one token (token merging): 4 tokens/s
    chunk_frames: int = 256  # frames through the per-frame encoder at once: bounds memory on long videos
    backbone: str = ""  # "" = the CNN from scratch; else a local CLIP/SigLIP folder (transformers)
    backbone_sha256: str = ""  # sha256 of the backbone's weights: shards and checkpoints are tied to it
    backbone_width: int = 0  # width of the backbone's pooled feature per frame
    scratch_cnn: bool = False  # without a backbone, train the CNN from scratch: `debug` only (tests)


@dataclass(frozen=True)
class LMConfig:
    """The music decoder: MusicGen's architecture (see music_lm.py); from a MusicGen folder's
    config.json when fine-tuning its weights (`musicgen_folder.lm_config_from_musicgen`)."""

    dim: int = 1024  # MusicGen-small's width and heads
    n_layers: int = 18  # 18 blocks with cross-attention: about 320M parameters, MusicGen-small's scale
    n_heads: int = 16
    ffn_dim: int = 4096  # hidden width of each block's fc1/fc2
    activation: str = "gelu"  # transformers' name of the FFN activation (MusicGen: exact-erf "gelu")
    dropout: float = 0.0  # residual dropout; MusicGen trains without it at this scale; so do we
    max_steps: int = 512  # longest token sequence: size of the position table and the static KV cache


@dataclass(frozen=True)
class VmasConfig:
    name: str = "small"
    codec: CodecConfig = field(default_factory=CodecConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    window_s: float = 10.0  # training clip length; generation slides a window this long
    embed_dim: int = 512  # joint video-music space of the contrastive loss
    cfg_dropout: float = 0.2  # share of training clips whose video is dropped (for guidance)
    text_dropout: float = 0.2  # share whose text prompt is dropped, drawn independently of the video's
    contrastive_weight: float = 0.5  # weight of InfoNCE beside the token cross-entropy
    beat_weight: float = 0.5  # weight of the beat-activation head's loss
    beat_sigma_s: float = 0.03  # seconds: width of a beat's bump in activation curves
    # Training defaults (the CLI may override steps; the rest live here so a run is reproducible)
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 500
    batch_size: int = 16
    grad_accum: int = 1
    grad_clip: float = 1.0

    @property
    def window_frames(self) -> int:
        """Codec frames in one training window."""
        return int(round(self.window_s * self.codec.frame_rate))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> VmasConfig:
        video = dict(d["video"])
        video["cnn_channels"] = tuple(video["cnn_channels"])
        return VmasConfig(
            **{k: v for k, v in d.items() if k not in ("codec", "video", "lm")},
            codec=CodecConfig(**d["codec"]),
            video=VideoConfig(**video),
            lm=LMConfig(**d["lm"]),
        )


DEBUG = VmasConfig(
    name="debug",
    # A tiny fixed codec at 8 kHz, 25 frames/s: a 2 s clip is 50 steps of 2 codebooks.
    codec=CodecConfig(kind="tiny", sample_rate=8_000, frame_rate=25, n_q=2, cardinality=32),
    video=VideoConfig(fps=8.0, frame_size=32, cnn_channels=(8, 16), dim=32, n_layers=1,
                      n_heads=2, window=8, merge=1, chunk_frames=64, scratch_cnn=True),
    lm=LMConfig(dim=64, n_layers=2, n_heads=4, ffn_dim=128, max_steps=128),
    window_s=2.0,
    embed_dim=32,
    cfg_dropout=0.1,
    lr=3e-3,
    warmup_steps=5,
    batch_size=4,
)

SMALL = VmasConfig()  # LM about 320M parameters (MusicGen-small scale), video encoder about 13M

MEDIUM = VmasConfig(
    name="medium",
    video=VideoConfig(dim=768, n_layers=6, n_heads=12, frame_size=160,
                      cnn_channels=(48, 96, 192, 384)),
    lm=LMConfig(dim=1536, n_layers=36, n_heads=24, ffn_dim=6144, max_steps=1024),  # about 1.4B, MusicGen-medium's scale
    window_s=20.0,
    embed_dim=768,
    lr=1.5e-4,
    batch_size=32,
)

CONFIGS = {c.name: c for c in (DEBUG, SMALL, MEDIUM)}


def get_config(name: str) -> VmasConfig:
    """A named size; ValueError says which names exist."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown VMAS config {name!r}; choose one of: {', '.join(CONFIGS)}") from None
