"""The scorecut.v1 wire contract (generated code beside scorecut.proto) and the facts both of its
ends use: the stem names, the hit kinds, the default port, the sample formats, the sha256 that names media
(UploadHeader, HasMedia, MediaRef.media_id), and how a timecode tag becomes ClipMedia.start_timecode_s."""

import hashlib

# The stems a model can give besides the mix, in the order they are listed, streamed and stacked on a
# timeline (bottom first: rhythm under the tune). GetInfo says which of them each model gives.
STEMS = ("drums", "bass", "harmony", "melody")
# HitPoint.kind: a downbeat with an accent; a break to the next downbeat; a new section ("" = "hit")
HIT_KINDS = ("hit", "stop", "section")
DEFAULT_PORT = 50777  # where a Scorecut server listens unless told otherwise, and where clients look
# StemChunk.sample_format -> bytes per sample; all little-endian, interleaved
SAMPLE_FORMATS = {"s16le": 2, "s24le": 3, "f32le": 4}
DEFAULT_SAMPLE_FORMAT = "s24le"  # 24-bit: what post-production expects; ScoreOptions "" means this
HASH_BLOCK_BYTES = 1 << 20  # 1 MiB reads: large enough that hashing, not the reads, sets the pace


def sha256_stream(f) -> str:
    """The hex sha256 of what remains to be read from the binary file object `f`."""
    digest = hashlib.sha256()
    while block := f.read(HASH_BLOCK_BYTES):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path) -> str:
    """The hex sha256 of a file's bytes: the id of uploaded media, and score.json's stem hashes."""
    with open(path, "rb") as f:
        return sha256_stream(f)


def timecode_seconds(text: str, fps: float) -> float | None:
    """Seconds since midnight of an SMPTE timecode "HH:MM:SS:FF" ("HH:MM:SS;FF" drop-frame) counted
    at `fps` frames per second; None when it cannot be read."""
    drop = ";" in text
    parts = text.replace(";", ":").replace(".", ":").split(":")
    if len(parts) != 4 or fps <= 0:
        return None
    try:
        h, m, s, f = (int(p) for p in parts)
    except ValueError:
        return None
    nominal = int(round(fps))
    frames = ((h * 60 + m) * 60 + s) * nominal + f
    if drop and nominal in (30, 60):  # 29.97/59.94 drop-frame: 2 (4) frame numbers skipped per minute
        skip = 2 if nominal == 30 else 4
        minutes = h * 60 + m
        frames -= skip * (minutes - minutes // 10)
    return frames / fps  # frame count at the real rate (29.97 counts 30 numbers a second, slower)


def media_timecode_s(container, video, fps: float) -> float | None:
    """ClipMedia.start_timecode_s from an open PyAV `container`: the first `timecode` tag on its
    picture stream `video` (None: none), on any stream (a mov's tmcd track) or on the container,
    counted at `fps`; None when the media carries none."""
    tags = ([video.metadata] if video is not None else []) + [s.metadata for s in container.streams]
    for meta in tags + [container.metadata]:
        text = meta.get("timecode")
        if text:
            return timecode_seconds(text, fps)
    return None
