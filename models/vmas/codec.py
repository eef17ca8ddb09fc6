"""Audio codecs: waveform <-> K streams of discrete codes, the music LM's vocabulary.

`Codec` is the interface. `EncodecCodec` is the 32 kHz EnCodec of MusicGen through the
maintained implementation in Hugging Face `transformers` (`EncodecModel`), loaded from a local
folder only (config.json + weights, e.g. a copy of facebook/encodec_32khz); nothing is
downloaded. `TinyCodec` is for tests and the `debug` config: fixed codebooks drawn from a seed,
no weights, no dependency; it keeps coarse energy and timing, not fidelity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from .config import CodecConfig


class Codec(Protocol):
    sample_rate: int  # Hz, mono
    frame_rate: int  # code frames per second
    n_q: int  # codebooks
    cardinality: int  # codes per codebook

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, 1, N) float at sample_rate -> codes (B, K, ceil(N / hop)) long."""
        ...

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, K, T) -> wav (B, 1, T * hop) float."""
        ...


class CodecUnavailable(RuntimeError):
    """The codec's weights are not here; the message says where they are looked for."""


class TinyCodec:
    """Frames of `hop` samples, a fixed orthogonal transform, residual VQ with seeded codebooks."""

    def __init__(self, cfg: CodecConfig):
        self.sample_rate, self.frame_rate = cfg.sample_rate, cfg.frame_rate
        self.n_q, self.cardinality, self.hop = cfg.n_q, cfg.cardinality, cfg.hop
        g = torch.Generator().manual_seed(cfg.seed)
        self.basis, _ = torch.linalg.qr(torch.randn(self.hop, self.hop, generator=g))  # (hop, hop)
        # Stage q quantises what stages < q left over, so its codewords shrink by half per stage.
        scale = 0.05 * 0.5 ** torch.arange(self.n_q, dtype=torch.float32)
        self.codebooks = torch.randn(self.n_q, self.cardinality, self.hop, generator=g) * scale[:, None, None]
        self.codebooks[:, 0] = 0.0  # silence has an exact code

    def _frames(self, wav: torch.Tensor) -> torch.Tensor:
        b, _, n = wav.shape
        pad = (-n) % self.hop
        x = torch.nn.functional.pad(wav[:, 0].float(), (0, pad))
        return x.view(b, -1, self.hop)  # (B, T, hop)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        residual = self._frames(wav) @ self.basis  # (B, T, hop)
        codes = []
        for q in range(self.n_q):
            book = self.codebooks[q]  # (card, hop)
            dist = (residual[..., None, :] - book).pow(2).sum(-1)  # (B, T, card)
            idx = dist.argmin(-1)  # (B, T)
            residual = residual - book[idx]
            codes.append(idx)
        return torch.stack(codes, dim=1)  # (B, K, T)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        codes = codes.cpu().clamp(0, self.cardinality - 1)
        z = sum(self.codebooks[q][codes[:, q]] for q in range(self.n_q))  # (B, T, hop)
        frames = z @ self.basis.T
        return frames.reshape(codes.shape[0], 1, -1)  # (B, 1, T*hop)


class EncodecCodec:
    """MusicGen's EnCodec via `transformers.EncodecModel`, from local files only."""

    def __init__(self, cfg: CodecConfig, path: str | Path, device: str = "cpu"):
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        if not (folder / "config.json").is_file():
            raise CodecUnavailable(
                f"no EnCodec weights at {folder}: put the 32 kHz EnCodec folder (config.json and "
                "model.safetensors) there, or set the codec path in the model config")
        try:
            from transformers import EncodecModel
        except ImportError:
            raise CodecUnavailable("the EnCodec codec needs the `transformers` package: pip install transformers") from None
        self.model = EncodecModel.from_pretrained(str(folder), local_files_only=True).to(device).eval()
        mc = self.model.config
        self.sample_rate = int(mc.sampling_rate)
        self.hop = int(torch.tensor(mc.upsampling_ratios).prod())
        self.frame_rate = self.sample_rate // self.hop
        self.cardinality = int(mc.codebook_size)
        self.bandwidth = float(max(mc.target_bandwidths))
        self.n_q = int(self.model.quantizer.get_num_quantizers_for_bandwidth(self.bandwidth))
        want = (cfg.sample_rate, cfg.frame_rate, cfg.n_q, cfg.cardinality)
        have = (self.sample_rate, self.frame_rate, self.n_q, self.cardinality)
        if want != have:
            raise CodecUnavailable(f"the EnCodec at {folder} gives (rate, frame rate, codebooks, "
                                   f"cardinality) {have}, the model was built for {want}")
        self.device = device

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        out = self.model.encode(wav.to(self.device).float(), bandwidth=self.bandwidth)
        return out.audio_codes[0]  # (chunks=1, B, K, T) -> (B, K, T)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        wav = self.model.decode(codes[None].to(self.device), [None]).audio_values  # (B, 1, N)
        return wav[..., : codes.shape[-1] * self.hop].float().cpu()


def load_codec(cfg: CodecConfig, model_dir: Path | None = None, device: str = "cpu") -> Codec:
    """The codec a config names; CodecUnavailable says what is missing."""
    if cfg.kind == "tiny":
        return TinyCodec(cfg)
    if cfg.kind == "encodec":
        path = cfg.path or (str(Path(model_dir) / "encodec_32khz") if model_dir else "")
        if not path:
            raise CodecUnavailable("no EnCodec folder given: set the codec path or install it in the model folder")
        return EncodecCodec(cfg, path, device)
    raise CodecUnavailable(f"unknown codec kind {cfg.kind!r}")
