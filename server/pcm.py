"""Float stems to little-endian interleaved PCM bytes, the form StemChunk carries.

Clients write these bytes into WAV files as they are, so they need no numeric library.
"""

from __future__ import annotations

import numpy as np

# The contract's formats (bytes per sample) and default, named here for the server's modules.
from scorecut.v1 import DEFAULT_SAMPLE_FORMAT, SAMPLE_FORMATS

__all__ = ["CHUNK_BYTES", "DEFAULT_SAMPLE_FORMAT", "SAMPLE_FORMATS", "chunk_frames", "encode"]
CHUNK_BYTES = 256 * 1024  # per StemChunk: large enough to stream near wire speed, small for memory


def encode(audio: np.ndarray, sample_format: str) -> bytes:
    """(channels, frames) float32 in -1..1 -> interleaved little-endian PCM bytes.

    Integers are scaled by 2**(bits-1), a power of two, so float32 scaling is exact, and
    clipped to the integer range (+1.0 maps to the largest value, never wraps)."""
    if sample_format == "f32le":
        return np.ascontiguousarray(np.asarray(audio, dtype="<f4").T).tobytes()
    if sample_format not in ("s16le", "s24le"):
        raise ValueError(f"unknown sample format {sample_format!r}")
    full = 32768.0 if sample_format == "s16le" else 8388608.0
    # (frames, channels)
    scaled = np.multiply(np.asarray(audio, np.float32).T, np.float32(full), dtype=np.float32, order="C")
    np.clip(scaled, -full, full - 1, out=scaled)
    np.rint(scaled, out=scaled)
    if sample_format == "s16le":
        return scaled.astype("<i2").tobytes()
    ints = scaled.astype("<i4").ravel()  # (frames * channels,)
    little = ints.view(np.uint8).reshape(-1, 4)  # (samples, 4 bytes), least significant first
    out = np.empty((ints.size, 3), np.uint8)
    for b in range(3):  # the 3 low bytes of each; a column at a time is ~3x faster than one 3-byte copy
        out[:, b] = little[:, b]
    return out.tobytes()


def chunk_frames(channels: int, sample_format: str) -> int:
    """Whole frames per chunk of about CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // (channels * SAMPLE_FORMATS[sample_format]))
