"""Float stems to little-endian interleaved PCM bytes, the form StemChunk carries.

Clients write these bytes into WAV files as they are, so they need no numeric library.
"""

from __future__ import annotations

import numpy as np

SAMPLE_FORMATS = {"s16le": 2, "s24le": 3, "f32le": 4}  # bytes per sample
DEFAULT_SAMPLE_FORMAT = "s24le"  # 24-bit: what post-production expects
CHUNK_BYTES = 256 * 1024  # per StemChunk: large enough to stream near wire speed, small for memory


def encode(audio: np.ndarray, sample_format: str) -> bytes:
    """(channels, frames) float32 in -1..1 -> interleaved little-endian PCM bytes."""
    frames_first = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T)  # (frames, channels)
    if sample_format == "f32le":
        return frames_first.astype("<f4", copy=False).tobytes()
    clipped = np.clip(frames_first, -1.0, 1.0)
    if sample_format == "s16le":
        return np.round(clipped * 32767.0).astype("<i2").tobytes()
    if sample_format == "s24le":
        scaled = clipped.astype(np.float64)  # float64: exact rounding at 24 bits
        scaled *= 8388607.0
        ints = np.rint(scaled, out=scaled).astype("<i4").ravel()  # (frames * channels,)
        out = np.empty((ints.size, 3), np.uint8)
        out[:] = ints.view(np.uint8).reshape(-1, 4)[:, :3]  # the 3 low bytes of each (faster than tobytes on the view)
        return out.tobytes()
    raise ValueError(f"unknown sample format {sample_format!r}")


def chunk_frames(channels: int, sample_format: str) -> int:
    """Whole frames per chunk of about CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // (channels * SAMPLE_FORMATS[sample_format]))
