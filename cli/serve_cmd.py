"""`scorecut serve`: run the model server on this machine (loopback by default)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from scorecut.server import config as c  # light: platformdirs only

    parser.add_argument("--host", default=c.DEFAULT_HOST,
                        help="address to listen on (default %(default)s; another address needs --token)")
    parser.add_argument("--port", type=int, default=c.DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where models run (default: cuda when present, else cpu)")
    parser.add_argument("--decode", default="auto", choices=c.DECODE_CHOICES,
                        help="what decodes the pictures for the analysis: cuda (the GPU's NVDEC, falling back to "
                             "the CPU where the machine or a file's codec cannot) or cpu (default: as --device)")
    parser.add_argument("--token", default="", help="require this bearer token from clients")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    parser.add_argument("--media-root", type=Path, action="append", dest="media_roots", metavar="DIR",
                        help="a folder path references may point into (repeatable; default: your home)")
    parser.add_argument("--max-duration", type=float, default=c.DEFAULT_MAX_DURATION_S, metavar="S",
                        help="longest output per job in seconds (default %(default)g)")
    parser.add_argument("--max-clips", type=int, default=c.DEFAULT_MAX_CLIPS, metavar="N",
                        help="most clips per job (default %(default)s)")
    parser.add_argument("--max-upload-mb", type=float, default=c.DEFAULT_MAX_UPLOAD_BYTES / 1e6, metavar="N",
                        help="largest upload in megabytes, fractions allowed (default %(default).0f)")
    parser.add_argument("--max-queue", type=int, default=c.DEFAULT_MAX_QUEUE, metavar="N",
                        help="jobs that may wait behind the running one (default %(default)s)")
    parser.add_argument("--cache-dir", type=Path, help="results and uploads (default: the user cache folder)")
    parser.add_argument("--model-dir", type=Path, help="installed model checkpoints (default: the user data folder)")
    parser.add_argument("--ray", metavar="ADDRESS", default="",
                        help="run the jobs on a Ray cluster (Ray Serve replicas): local, auto or the cluster's "
                             "address; needs pip install 'scorecut[ray]'")
    parser.add_argument("--replicas", type=int, default=1, metavar="N", help="with --ray: model workers (default 1)")
    parser.add_argument("--gpus-per-replica", type=float, default=0.0, metavar="G",
                        help="with --ray: GPUs Ray gives each replica (default 0: CPU)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        type=str.upper, help="log detail (default %(default)s)")


def config_from_args(args):
    from scorecut.server.config import ServerConfig, default_cache_dir, default_model_dir

    return ServerConfig(
        # A server `scorecut score` started gets its user's secret through the environment (never
        # the command line, which other users can read): it is that user's own.
        host=args.host, port=args.port, device=args.device, decode=args.decode,
        token=args.token or _started_secret(),
        tls_cert=args.tls_cert, tls_key=args.tls_key,
        media_roots=tuple(p.expanduser().resolve() for p in (args.media_roots or [Path.home()])),
        cache_dir=(args.cache_dir or default_cache_dir()).expanduser(),
        model_dir=(args.model_dir or default_model_dir()).expanduser(),
        max_duration_s=args.max_duration, max_clips=args.max_clips,
        max_upload_bytes=int(args.max_upload_mb * 1e6), max_queue=args.max_queue)


def _started_secret() -> str:
    import os

    from scorecut.plugins.client.local_secret import SECRET_ENV

    return os.environ.pop(SECRET_ENV, "")


def run(args) -> int:
    if args.ray:
        if args.decode == "cuda":
            print("scorecut serve: --decode cuda is not available with --ray yet: Ray's replicas decode the "
                  "pictures on their CPUs; leave --decode out (or use --decode cpu)", file=sys.stderr)
            return 2
        from scorecut.server.ray_serve import RayOptions, serve_on_ray

        return serve_on_ray(config_from_args(args), RayOptions(args.ray, args.replicas, args.gpus_per_replica),
                            log_level=args.log_level)
    from scorecut.server.app import serve

    return serve(config_from_args(args), log_level=args.log_level)
