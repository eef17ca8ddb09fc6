"""Building and running the gRPC server: services, policy, readiness, graceful shutdown."""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import wire
from .config import ServerConfig
from .jobs import JobQueue
from .limits import StreamLimits, rpc_threads, stream_limit
from .picture_decoder import PictureDecoder, picture_decoder
from .policy import TokenInterceptor
from .servicer import ScorecutServicer

log = logging.getLogger("scorecut.server")
SERVICE_NAME = wire.SERVICE  # health is reported for the contract's service name
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # upload chunks and stem chunks stay far below this


def setup_logging(log_dir: Path, level: str = "INFO") -> Path:
    """Log to a rotating file in the user's log folder and to stderr."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "server.log"
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    to_file = logging.handlers.RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=3)
    to_stderr = logging.StreamHandler(sys.stderr)
    root = logging.getLogger("scorecut")
    root.handlers.clear()
    for handler in (to_file, to_stderr):
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(level.upper())
    return path


OPEN_FILES_WANTED = 65536  # a call holds its media open (up to --max-clips files) while it lasts


def raise_open_file_limit() -> int:
    """Lift this process's soft limit on open files toward its hard limit (often 1024 by default:
    32 streams of 200-clip requests would need more); returns the limit in force."""
    try:
        import resource
    except ImportError:  # not on Windows
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d; many long calls at once may be refused", soft)
    return soft


def resolve_device(device: str) -> str:
    """"auto" -> "cuda:0" when a CUDA device is usable, else "cpu"."""
    if device == "cpu":
        return "cpu"
    # Without the NVIDIA driver's device node there is no CUDA: skip importing torch, which would
    # add seconds to start-up for nothing.
    if device == "auto" and not Path("/dev/nvidiactl").exists() and sys.platform.startswith("linux"):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return device if device.startswith("cuda:") else "cuda:0"
    if device.startswith("cuda"):
        raise SystemExit("no CUDA device is usable here (torch sees none); use --device cpu or auto")
    return "cpu"


class ScorecutServer:
    """The running server: gRPC, the health service, the job queue."""

    def __init__(self, config: ServerConfig, device: str, jobs=None):
        self.device = device
        if jobs is None:
            self.decoder = picture_decoder(config.decode, device)
            if self.decoder.note:
                log.warning("--decode %s: %s", config.decode, self.decoder.note)
            jobs = JobQueue(config.max_queue, device, config.model_dir, decoder=self.decoder.name)
        else:  # another queue with JobQueue's interface (server/ray_serve.py: Ray Serve replicas) decodes
            # as it does (Ray replicas: on their CPUs)
            self.decoder = PictureDecoder(getattr(jobs, "decoder", "cpu"))
        # From here the config names the decoder the jobs use ("cpu" or "cuda"): the analysis key has it.
        self.config = config = replace(config, decode=self.decoder.name)
        self.jobs = jobs
        self.servicer = ScorecutServicer(config, device, self.jobs)
        self.health = health.HealthServicer()
        self.limits = StreamLimits(stream_limit(config.max_streams, config.max_queue), config.stream_idle_s)
        interceptors = ([TokenInterceptor(config.token)] if config.token else []) + [self.limits]
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=rpc_threads(config.max_streams, config.max_queue),
                                       thread_name_prefix="rpc"),
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.so_reuseport", 0)])  # a second server on a taken port must fail, not share it
        wire.add_service(self.servicer, self.grpc)  # the generated registration, with fast chunks
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        if config.tls:
            key_pair = (Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())
            creds = grpc.ssl_server_credentials([key_pair])
            self.port = self.grpc.add_secure_port(config.address, creds)
        else:
            self.port = self.grpc.add_insecure_port(config.address)
        self._stopped = threading.Event()

    def start(self) -> None:
        self.jobs.start()
        # The model list imports every model's code: look it up now, beside the worker's warm-up.
        threading.Thread(target=self.servicer.catalog, name="scorecut-catalog", daemon=True).start()
        self.grpc.start()
        for service in ("", SERVICE_NAME):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self) -> None:
        """Not serving, no new calls, jobs cancelled, running streams given `grace_s`, cache written."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("shutting down (jobs run: %d)", self.jobs.jobs_run)
        self.health.enter_graceful_shutdown()  # NOT_SERVING for anyone still asking
        self.jobs.shutdown(timeout_s=self.config.grace_s)
        self.grpc.stop(self.config.grace_s).wait()
        self.servicer.close()
        self.limits.close()
        log.info("stopped")


def _port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (port 0 asks for any free one: never)."""
    import socket

    if not port:
        return False
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, port, type=socket.SOCK_STREAM)
    except OSError:
        return False  # an unknown host: gRPC's bind says so
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds: TIME_WAIT is free
            try:
                probe.bind(addr)
            except OSError as error:
                import errno

                if error.errno == errno.EADDRINUSE:
                    return True
    return False


def serve(config: ServerConfig, log_level: str = "INFO", jobs=None) -> int:
    """Run until SIGINT/SIGTERM. Returns the process exit status."""
    problems = config.problems()
    if problems:
        for p in problems:
            print(f"scorecut serve: {p}", file=sys.stderr)
        return 2
    log_path = setup_logging(config.log_dir, log_level)
    raise_open_file_limit()
    device = resolve_device(config.device) if jobs is None else jobs.device  # Ray: where the replicas run
    if _port_in_use(config.host, config.port):  # said in one line, before gRPC logs its own bind error
        print(f"scorecut serve: cannot listen on {config.address}: the address is in use; is another server "
              "running there? stop it (`scorecut stop`) or choose another --port", file=sys.stderr)
        return 1
    try:
        server = ScorecutServer(config, device, jobs)
    except RuntimeError:  # grpc: the port could not be bound
        print(f"scorecut serve: cannot listen on {config.address}: the address is in use or not on this "
              "machine; is another server running there? choose another --port or --host", file=sys.stderr)
        return 1
    if server.port == 0:
        print(f"scorecut serve: cannot listen on {config.address}; is another server running there? "
              "choose another --port", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    shown_host = config.host if ":" not in config.host else f"[{config.host}]"
    log.info("serving on %s:%d, device %s, pictures decoded on %s, media roots %s, log %s, pid %d", shown_host,
             server.port, device, server.decoder.name, ", ".join(map(str, config.media_roots)), log_path, os.getpid())
    print(f"scorecut serving on {shown_host}:{server.port} (device {device}{', TLS' if config.tls else ''})",
          flush=True)
    while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
        pass
    server.stop()
    return 0
