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
    """Gain-shape quantisation of `hop`-sample frames, for tests and the debug config.

    Codebook 0 is the frame's level (RMS in dB, uniform over LEVEL_RANGE_DB); codebooks 1.. are a
    residual VQ of the frame's unit-norm DCT spectrum with fixed codebooks drawn from a seed.
    Level tokens make loudness and onsets (beats) legible to the LM, as real codecs' first
    codebook does; the spectral shape is coarse.
    """

    LEVEL_RANGE_DB = 60.0  # levels from -60 dBFS (code 0, silence) to 0 dBFS

    def __init__(self, cfg: CodecConfig):
        self.sample_rate, self.frame_rate = cfg.sample_rate, cfg.frame_rate
        self.n_q, self.cardinality, self.hop = cfg.n_q, cfg.cardinality, cfg.hop
        n = torch.arange(self.hop, dtype=torch.float64)
        dct = torch.cos(torch.pi / self.hop * (n[None, :] + 0.5) * n[:, None])  # (k, n) DCT-II
        dct[0] *= 1 / 2**0.5
        self.basis = (dct * (2 / self.hop) ** 0.5).T.float()  # (n, k) orthonormal: x @ basis = spectrum
        g = torch.Generator().manual_seed(cfg.seed)
        tilt = 1.0 / (1.0 + torch.arange(self.hop) / 8.0)  # music lives in the low bins: favour them
        books = torch.randn(max(0, self.n_q - 1), self.cardinality, self.hop, generator=g) * tilt
        books = books / books.norm(dim=-1, keepdim=True)
        self.codebooks = books * (0.5 ** torch.arange(books.shape[0], dtype=torch.float32))[:, None, None]

    def _frames(self, wav: torch.Tensor) -> torch.Tensor:
        b, _, n = wav.shape
        pad = (-n) % self.hop
        x = torch.nn.functional.pad(wav[:, 0].float().cpu(), (0, pad))
        return x.view(b, -1, self.hop)  # (B, T, hop)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        frames = self._frames(wav)  # (B, T, hop)
        rms = frames.pow(2).mean(-1).sqrt()  # (B, T)
        db = 20 * torch.log10(rms.clamp(min=1e-6))
        level = ((db + self.LEVEL_RANGE_DB) / self.LEVEL_RANGE_DB * (self.cardinality - 1)).round()
        codes = [level.clamp(0, self.cardinality - 1).long()]
        residual = torch.nn.functional.normalize(frames @ self.basis, dim=-1)  # (B, T, hop) unit shape
        for book in self.codebooks:  # (card, hop)
            idx = (residual @ book.T - 0.5 * book.pow(2).sum(-1)).argmax(-1)  # nearest codeword
            residual = residual - book[idx]
            codes.append(idx)
        return torch.stack(codes, dim=1)  # (B, K, T)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        codes = codes.cpu().clamp(0, self.cardinality - 1)
        db = codes[:, 0].float() / (self.cardinality - 1) * self.LEVEL_RANGE_DB - self.LEVEL_RANGE_DB
        rms = torch.where(codes[:, 0] > 0, 10 ** (db / 20), torch.zeros_like(db))  # (B, T)
        if self.n_q > 1:
            shape = sum(self.codebooks[q - 1][codes[:, q]] for q in range(1, self.n_q))  # (B, T, hop)
            shape = torch.nn.functional.normalize(shape, dim=-1)
        else:  # level only: white spectrum
            shape = torch.full((*codes[:, 0].shape, self.hop), self.hop**-0.5)
        frames = (shape * (rms * self.hop**0.5)[..., None]) @ self.basis.T  # (B, T, hop)
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
            raise CodecUnavailable("the EnCodec codec needs the `transformers` package: "
                                   "pip install 'scorecut[vmas]' (or transformers)") from None
        self._adopt(EncodecModel.from_pretrained(str(folder), local_files_only=True), cfg, str(folder), device)

    @classmethod
    def from_model(cls, model, cfg: CodecConfig, where: str, device: str = "cpu") -> EncodecCodec:
        """An `EncodecModel` already loaded (the audio_encoder of a MusicGen folder, pretrained.py)."""
        codec = cls.__new__(cls)
        codec._adopt(model, cfg, where, device)
        return codec

    def _adopt(self, model, cfg: CodecConfig, folder: str, device: str) -> None:
        self.model = model.to(device).eval()
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
    if cfg.kind == "musicgen":  # the audio_encoder inside a MusicGen folder (cfg.path)
        from .pretrained import load_musicgen_codec

        return load_musicgen_codec(cfg, device)
    raise CodecUnavailable(f"unknown codec kind {cfg.kind!r}")
