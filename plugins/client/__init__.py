"""The Scorecut client library, shared by the CLI, the watch folder and the host plugins.

Pure Python on grpcio + protobuf (no numpy, torch or PyAV) so the Blender extension and the
Resolve script can carry it. See ClientAPI in the docs: build clips and options, call
`ScorecutClient.score`, get the job's folder (mix.wav, <stem>.wav, score.json) back.
"""

from scorecut.v1 import STEMS, sha256_file  # the contract's stem names; its media hash, for naming content

from .client import ScorecutClient, is_loopback, split_address
from .fragments import parse_media_fragment, parse_time_range
from .hits import DirectionError, marker_hits, parse_hit, parse_reroll, section_at
from .landing import Landing, land_take, sweep, take_midi
from .output import Draft, JobWriter, write_job
from .request import build_request
from .types import (
    DEFAULT_ADDRESS,
    DEFAULT_PORT,
    ENV_SERVER,
    ClipSpec,
    InvalidRequest,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobOptions,
    JobResult,
    ScorecutClientError,
    ServerUnavailable,
    server_address,
)

__all__ = [
    "STEMS",
    "DEFAULT_ADDRESS", "DEFAULT_PORT", "ENV_SERVER", "ClipSpec", "DirectionError", "Draft", "InvalidRequest",
    "JobCancelled", "marker_hits", "parse_hit", "parse_reroll", "section_at",
    "JobEvent", "JobFailed", "JobOptions", "JobResult", "JobWriter", "Landing", "ScorecutClient",
    "ScorecutClientError", "ServerUnavailable", "build_request", "is_loopback", "land_take", "parse_media_fragment",
    "parse_time_range", "server_address", "sha256_file", "split_address", "sweep", "take_midi", "write_job",
]
