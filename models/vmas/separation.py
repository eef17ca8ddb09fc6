"""Optional vocal/dialogue removal for training soundtracks (`scorecut train --remove-vocals`).

Users' edits often carry dialogue or a singer over the music; the model should learn the music.
Scorecut ships no separator: the user installs a maintained one, Demucs (`pip install demucs`, its
`demucs.api.Separator`), with its model weights (in Demucs's cache, or a local folder given as
`--separator-repo DIR`). Asked for and missing, training stops before decoding anything and says
what to install. The soundtrack then reaches the codec as the sum of every stem but "vocals".
Beats are still tracked on the full soundtrack (a voice rarely moves the beat).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SEPARATOR = "demucs"


class SeparatorUnavailable(RuntimeError):
    """Vocal removal was asked for but cannot run here; the message says what to install."""


@dataclass(frozen=True)
class SeparationOptions:
    model: str = "htdemucs"  # a Demucs model name (htdemucs, htdemucs_ft, mdx_extra, ...)
    repo: str = ""  # a local folder of Demucs weights; "" = Demucs's own cache

    def cache_tag(self) -> str:
        """What sets these shards apart from shards of the full soundtracks."""
        return f"no-vocals-{SEPARATOR}-{self.model}"


def separator_installed() -> bool:
    return importlib.util.find_spec(SEPARATOR) is not None


def load_vocal_remover(opts: SeparationOptions, device: str = "cpu") -> Callable[[np.ndarray, int], np.ndarray]:
    """remove(wav (N,) mono float32, sample_rate) -> (N,) without the vocals stem."""
    if not separator_installed():
        raise SeparatorUnavailable(
            "--remove-vocals needs a source separator and none is installed: install Demucs "
            "(`pip install demucs`) with its model weights (or give a local folder of them with --separator-repo), "
            "or train without --remove-vocals")
    from demucs.api import Separator  # the maintained Demucs's programmatic interface
    from scipy.signal import resample_poly

    try:
        sep = Separator(model=opts.model, repo=Path(opts.repo) if opts.repo else None, device=device, progress=False)
    except Exception as exc:  # Demucs raises its own kinds for missing models and weights
        raise SeparatorUnavailable(f"Demucs cannot load the model {opts.model!r} ({exc}): install its weights "
                                   "or give their folder with --separator-repo") from None
    if "vocals" not in sep.model.sources:
        raise SeparatorUnavailable(f"the Demucs model {opts.model!r} has no vocals stem: choose one that has")

    def remove(wav: np.ndarray, sample_rate: int) -> np.ndarray:
        _, stems = sep.separate_tensor(torch.from_numpy(np.asarray(wav, np.float32))[None], sample_rate)
        music = sum(v for k, v in stems.items() if k != "vocals").mean(0).cpu().numpy()  # (N',) at its rate
        g = np.gcd(sample_rate, sep.samplerate)
        out = resample_poly(music, sample_rate // g, sep.samplerate // g).astype(np.float32)
        return np.pad(out, (0, max(0, len(wav) - len(out))))[: len(wav)]

    return remove


class VocalsRemoved:
    """A codec whose `encode` hears the soundtrack without its vocals (everything else is the codec's)."""

    def __init__(self, codec, remove: Callable[[np.ndarray, int], np.ndarray]):
        self._codec, self._remove = codec, remove

    def __getattr__(self, name):
        return getattr(self._codec, name)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, 1, N) at the codec's rate -> codes of the music alone."""
        rows = [torch.from_numpy(self._remove(w[0].float().cpu().numpy(), self._codec.sample_rate)) for w in wav]
        return self._codec.encode(torch.stack(rows)[:, None].to(wav.device))
