"""The scorecut.v1 wire contract (generated code beside scorecut.proto) and the facts both of its
ends use: the stem names, the default port, the sample formats, and the sha256 that names media (UploadHeader,
HasMedia, MediaRef.media_id)."""

import hashlib

# The stems a model can give besides the mix, in the order they are listed, streamed and stacked on a
# timeline (bottom first: rhythm under the tune). GetInfo says which of them each model gives.
STEMS = ("drums", "bass", "harmony", "melody")
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
