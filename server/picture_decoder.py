"""Which decoder the server's analysis asks for: `scorecut serve --decode auto|cpu|cuda`.

"auto" follows the model device: a server whose models run on CUDA decodes the pictures there too
(NVDEC), one on the CPU decodes on the CPU. A request for "cuda" that this machine cannot meet at
all (FFmpeg built without CUDA, no NVIDIA driver) comes to "cpu" when the server starts, and the
server says why; one that only some files cannot meet (a codec NVDEC lacks) falls back per file in
the analysis (models/analysis/decode.py: open_pictures), which notes it on the analysis.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

DECODE_CHOICES = ("auto", "cpu", "cuda")  # what --decode accepts


@dataclass(frozen=True)
class PictureDecoder:
    """The decoder the analysis will ask for, and why it is not what was asked when it is not."""

    name: str  # "cpu" or "cuda": what analyze_segment(decoder=...) gets
    note: str = ""  # "" when the choice was met; otherwise why the CPU decodes instead


def nvdec_unavailable() -> str:
    """Why this machine cannot decode on the GPU at all ("" when it may: then each file's codec
    decides, as the analysis opens it)."""
    try:
        from av.codec.hwaccel import hwdevices_available
    except ImportError as exc:  # a PyAV without hardware decoding
        return f"this PyAV has no hardware decoding ({exc})"
    if "cuda" not in hwdevices_available():
        return "the FFmpeg inside PyAV was built without CUDA"
    # The driver's control node exists wherever the NVIDIA driver is loaded (Linux); elsewhere
    # opening the first file says whether a GPU answers.
    if sys.platform.startswith("linux") and not Path("/dev/nvidiactl").exists():
        return "no NVIDIA driver is loaded (no /dev/nvidiactl)"
    return ""


def picture_decoder(decode: str, device: str) -> PictureDecoder:
    """What `--decode decode` comes to on a server whose models run on `device` ("cpu", "cuda:0")."""
    if decode not in DECODE_CHOICES:
        raise ValueError(f"unknown picture decoder {decode!r}; use {', '.join(DECODE_CHOICES)}")
    wanted = ("cuda" if device.startswith("cuda") else "cpu") if decode == "auto" else decode
    if wanted == "cpu":
        return PictureDecoder("cpu")
    why = nvdec_unavailable()
    if why:
        return PictureDecoder("cpu", f"pictures cannot be decoded on the GPU here: {why}; the CPU decodes them")
    return PictureDecoder("cuda")
