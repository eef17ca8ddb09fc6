"""`scorecut watch DIR`: score every video that lands in DIR (see plugins/watchfolder)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", metavar="DIR", help="the folder to watch; results go to DIR/scored/")
    p.add_argument("--once", action="store_true", help="score what is there now, then exit")
    p.add_argument("--server", default=None,
                   help="model server host:port (default $SCORECUT_SERVER or 127.0.0.1 on the default port)")
    p.add_argument("--token", default=os.environ.get("SCORECUT_TOKEN"), help="bearer token for a remote server")
    p.add_argument("--polling", action="store_true", help="poll instead of filesystem events (network shares)")
    p.add_argument("--stable-seconds", type=float, default=2.0, metavar="S",
                   help="how long a file must stay unchanged before it is taken (default 2)")
    p.add_argument("--move-done", action="store_true", help="move originals to DIR/done/ once scored")
    p.add_argument("--jobs", type=_files_at_once, default=None, metavar="N",
                   help="files scored at once (default: jobs in DIR/scorecut.toml, else 1); more helps when the "
                        "server runs several jobs at once")


def _files_at_once(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of files at once; give 1 or more (e.g. --jobs 2)")
    return n


def run(args: argparse.Namespace) -> int:
    from scorecut.plugins.client import server_address
    from scorecut.plugins.watchfolder import Watcher, WatchSettings
    from scorecut.plugins.watchfolder.options import OptionsError

    folder = Path(args.folder).expanduser()
    server = server_address(args.server)
    _setup_logging(folder)
    settings = WatchSettings(folder=folder, server=server, token=args.token, polling=args.polling,
                             once=args.once, stable_s=args.stable_seconds, move_done=args.move_done,
                             jobs=args.jobs)
    try:
        watcher = Watcher(settings, start_server=_local_starter(server, args.token))
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: watcher.stop())
        return watcher.run()
    except OptionsError as exc:
        print(f"scorecut watch: {exc}", file=sys.stderr)
        return 2


def _local_starter(address: str, token: str | None):
    """Starts this user's background server at a loopback address, as `scorecut score` does."""
    from scorecut.plugins.client import is_loopback

    if not is_loopback(address):
        return None

    def start() -> None:
        from .local_server import ensure_local_server

        ensure_local_server(address, token=token, notify=logging.getLogger("scorecut.watch").info)

    return start


def _setup_logging(folder: Path) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    state = folder / ".scorecut"
    if folder.is_dir():
        state.mkdir(exist_ok=True)
        handlers.append(logging.FileHandler(state / "watch.log", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(message)s")
