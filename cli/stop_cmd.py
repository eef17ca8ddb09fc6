"""`scorecut stop`: stop the background server that `scorecut score` (or `watch`) started.

Only a server recorded in this user's pidfile is stopped, and only while that pid still answers
as a Scorecut server at its address: a pid the OS handed to another program since is left alone.
A server someone started by hand (`scorecut serve`) is theirs to stop (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

STOP_WAIT_S = 20.0  # the server finishes or cancels its running job, then exits


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None, metavar="ADDR",
                   help="the server's address (default $SCORECUT_SERVER or 127.0.0.1 on the default port)")


def run(args: argparse.Namespace) -> int:
    from scorecut.plugins.client import server_address

    from .local_server import _answers, pid_alive, pidfile_path, read_pidfile

    address = server_address(args.server)
    record = read_pidfile(address)
    if not record:
        if _answers(address, None):
            print(f"scorecut stop: the server at {address} was not started by `scorecut score` for you; "
                  "stop it where it runs (Ctrl-C in its terminal, or its service manager)", file=sys.stderr)
            return 1
        print(f"scorecut stop: no background server at {address}")
        return 0
    pid = int(record["pid"])
    if not pid_alive(pid) or not _answers(address, None):
        pidfile_path(address).unlink(missing_ok=True)
        print(f"scorecut stop: no background server at {address} (it had already stopped)")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and pid_alive(pid) and _answers(address, None, 0.5):
        time.sleep(0.2)
    if _answers(address, None, 0.5):
        print(f"scorecut stop: the server at {address} (pid {pid}) did not stop within {STOP_WAIT_S:.0f} s; "
              f"its log: {record.get('log')}", file=sys.stderr)
        return 1
    pidfile_path(address).unlink(missing_ok=True)
    print(f"scorecut stop: stopped the background server at {address} (pid {pid})")
    return 0
