"""Reading result WAVs in tests with the stdlib `wave` module (the format every host reads) + numpy."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples (frames, channels) float64 in -1..1, sample rate) of an integer PCM WAV."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate, frames = w.getsampwidth(), w.getnchannels(), w.getframerate(), w.getnframes()
        raw = w.readframes(frames)
    if width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints / float(1 << 23)
    elif width == 2:
        data = np.frombuffer(raw, "<i2") / 32768.0
    else:
        raise ValueError(f"unexpected sample width {width}")
    return data.reshape(-1, channels), rate


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def error_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Energy of (estimate - reference) relative to the reference's, in dB."""
    noise = float(np.sum((estimate - reference) ** 2))
    signal = float(np.sum(reference**2))
    return 10 * np.log10(max(noise, 1e-30) / max(signal, 1e-30))
