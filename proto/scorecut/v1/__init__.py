"""The scorecut.v1 wire contract (generated code beside scorecut.proto)."""

DEFAULT_PORT = 50777  # where a Scorecut server listens unless told otherwise, and where clients look
# StemChunk.sample_format -> bytes per sample; all little-endian, interleaved
SAMPLE_FORMATS = {"s16le": 2, "s24le": 3, "f32le": 4}
DEFAULT_SAMPLE_FORMAT = "s24le"  # 24-bit: what post-production expects; ScoreOptions "" means this
