"""A WAV file written as PCM arrives, its RIFF header patched when the length is known.

Integer PCM with one or two channels uses the plain PCM header (format tag 1), which every host
reads (Blender, Resolve, DAWs, Python 3.11's `wave`). More channels use WAVE_FORMAT_EXTENSIBLE with
a channel mask, as the format requires; float PCM uses format tag 3 with a `fact` chunk.
"""

from __future__ import annotations

import hashlib
import struct
from typing import BinaryIO

from scorecut.v1 import SAMPLE_FORMATS as _WIDTHS  # the contract's: bytes per sample

# sample_format -> (bytes per sample, WAV format tag: 1 integer PCM, 3 IEEE float)
SAMPLE_FORMATS = {name: (width, 3 if name.startswith("f") else 1) for name, width in _WIDTHS.items()}

_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: the format tag followed by a fixed GUID tail.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_CHANNEL_MASKS = {1: 0x4, 2: 0x3, 3: 0x7, 4: 0x33, 5: 0x37, 6: 0x3F, 7: 0x13F, 8: 0x63F}


def wav_header(frames: int, channels: int, sample_rate: int, sample_format: str, extra_chunks: bytes = b"") -> bytes:
    """The RIFF/WAVE header for `frames` frames of interleaved PCM that follows it; `extra_chunks`
    (whole, word-aligned chunks such as BWF `bext`) go between the format and the data."""
    width, tag = SAMPLE_FORMATS[sample_format]
    block_align = width * channels
    data_bytes = frames * block_align
    pad = data_bytes & 1  # RIFF chunks are word-aligned
    extensible = channels > 2
    fmt = struct.pack(
        "<HHIIHH",
        _WAVE_FORMAT_EXTENSIBLE if extensible else tag,
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        width * 8,
    )
    if extensible:
        mask = _CHANNEL_MASKS.get(channels, 0)
        fmt += struct.pack("<HHI", 22, width * 8, mask) + struct.pack("<H", tag) + _GUID_TAIL
    elif tag == 3:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM formats carry it
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if tag == 3 or extensible:
        chunks += b"fact" + struct.pack("<II", 4, frames)
    chunks += extra_chunks
    riff_size = 4 + len(chunks) + 8 + data_bytes + pad
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + chunks + b"data" + struct.pack("<I", data_bytes)


class StreamingWav:
    """Writes one stem's PCM chunks to `file` in order; `finish()` patches the header.

    The header's size depends only on the channel count and format, so a placeholder of the right
    size is written first and overwritten at the end.
    """

    def __init__(self, file: BinaryIO, channels: int, sample_rate: int, sample_format: str,
                 extra_chunks: bytes = b""):
        if sample_format not in SAMPLE_FORMATS:
            raise ValueError(f"unsupported sample format {sample_format!r}")
        if channels < 1 or sample_rate < 1:
            raise ValueError(f"bad audio layout: {channels} channels at {sample_rate} Hz")
        self.file = file
        self.channels = channels
        self.sample_rate = sample_rate
        self.sample_format = sample_format
        self.block_align = SAMPLE_FORMATS[sample_format][0] * channels
        self.frames = 0
        self.pcm_sha256 = hashlib.sha256()  # of the PCM bytes, as the manifest states them
        self.extra_chunks = extra_chunks
        self._header_len = len(wav_header(0, channels, sample_rate, sample_format, extra_chunks))
        file.write(b"\0" * self._header_len)

    def write(self, offset_frames: int, pcm: bytes) -> None:
        if offset_frames != self.frames:
            raise ValueError(f"audio arrived out of order: expected frame {self.frames}, got {offset_frames}")
        if len(pcm) % self.block_align:
            raise ValueError("an audio chunk ends mid-frame")
        self.file.write(pcm)
        self.pcm_sha256.update(pcm)
        self.frames += len(pcm) // self.block_align

    def finish(self) -> None:
        """Pad to an even length, write the real header, flush to disk."""
        if (self.frames * self.block_align) & 1:
            self.file.write(b"\0")
        self.file.seek(0)
        header = wav_header(self.frames, self.channels, self.sample_rate, self.sample_format, self.extra_chunks)
        assert len(header) == self._header_len
        self.file.write(header)
        self.file.flush()
