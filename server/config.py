"""The model server's configuration: where it listens, what it may read, and its limits.

User folders come from platformdirs (which honours the XDG_* variables on Linux, so tests and
users can move them). `ServerConfig` is frozen; `scorecut serve` builds one from its flags.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from scorecut.v1 import DEFAULT_PORT  # the contract's; clients look there too

from .picture_decoder import DECODE_CHOICES

APP_NAME = "scorecut"
DEFAULT_HOST = "127.0.0.1"  # loopback only unless the user asks otherwise (and sets a token)
DEFAULT_MAX_DURATION_S = 1800.0  # 30 minutes of output per job
DEFAULT_MAX_CLIPS = 200
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3  # 4 GiB: an hour of camera-original H.264 fits
DEFAULT_MAX_QUEUE = 8  # jobs waiting behind the running one
DEFAULT_CACHE_MAX_BYTES = 4 * 1024**3  # finished results kept on disk before the oldest go
DEFAULT_UPLOAD_QUOTA_BYTES = 16 * 1024**3  # all uploads kept; the least recently used go first
DEFAULT_MAX_STREAMS = 32  # Score and UploadMedia calls at once; more are refused, not queued
DEFAULT_STREAM_IDLE_S = 60.0  # a stream that neither sends nor reads this long is ended
DEFAULT_RESULT_MEMORY_BYTES = 256 * 1024**2  # all results being sent at once, in memory
MIN_TOKEN_CHARS = 16  # a shorter token can be guessed by trying


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_model_dir() -> Path:
    """Where installed model checkpoints live (`scorecut models add` puts them here)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "models"


def default_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME))


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


@dataclass(frozen=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    device: str = "auto"  # "auto" | "cpu" | "cuda"; auto picks cuda when present
    decode: str = "auto"  # what decodes the pictures: "auto" (as the models' device), "cpu" or "cuda"
    token: str = ""  # "" = no token; required when binding a non-loopback address
    tls_cert: Path | None = None  # PEM certificate chain; TLS when both are given
    tls_key: Path | None = None  # PEM private key
    media_roots: tuple[Path, ...] = field(default_factory=lambda: (Path.home(),))  # path refs under these only
    cache_dir: Path = field(default_factory=default_cache_dir)
    model_dir: Path = field(default_factory=default_model_dir)
    log_dir: Path = field(default_factory=default_log_dir)
    upload_dir: Path | None = None  # None = cache_dir/"uploads" (uploads can always be re-sent)
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_clips: int = DEFAULT_MAX_CLIPS
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_queue: int = DEFAULT_MAX_QUEUE
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES
    grace_s: float = 5.0  # how long running streams may finish on shutdown
    upload_quota_bytes: int = DEFAULT_UPLOAD_QUOTA_BYTES
    max_streams: int = DEFAULT_MAX_STREAMS
    stream_idle_s: float = DEFAULT_STREAM_IDLE_S
    result_memory_bytes: int = DEFAULT_RESULT_MEMORY_BYTES

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def uploads(self) -> Path:
        return self.upload_dir or self.cache_dir / "uploads"

    @property
    def results(self) -> Path:
        return self.cache_dir / "results"

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    def problems(self) -> list[str]:
        """What keeps this configuration from starting, each with what to do."""
        out = []
        if not is_loopback_host(self.host) and not self.token:
            out.append(f"refusing to listen on {self.host} without a token: anyone who can reach it "
                       "could use this machine; add --token SECRET (clients send it), or use "
                       "--host 127.0.0.1")
        if self.token and len(self.token) < MIN_TOKEN_CHARS:
            out.append(f"the token is {len(self.token)} characters; use at least {MIN_TOKEN_CHARS} "
                       "(a short one can be guessed), e.g. python -c 'import secrets; print(secrets.token_urlsafe())'")
        if (self.tls_cert is None) != (self.tls_key is None):
            out.append("TLS needs both --tls-cert and --tls-key")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not Path(path).is_file():
                out.append(f"TLS file not found: {path}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            out.append(f"unknown device {self.device!r}; use auto, cpu or cuda")
        if self.decode not in DECODE_CHOICES:
            out.append(f"unknown picture decoder {self.decode!r}; use --decode {', '.join(DECODE_CHOICES)}")
        if not 0 <= self.port < 65536:
            out.append(f"port {self.port} is out of range 0-65535")
        for name, value in (("--max-duration", self.max_duration_s), ("--max-clips", self.max_clips),
                            ("--max-upload-mb", self.max_upload_bytes), ("--max-queue", self.max_queue)):
            if value <= 0:
                out.append(f"{name} must be positive")
        return out
