"""Find the local Scorecut server, or start one detached from this terminal and reuse it later.

`scorecut score` calls `ensure_local_server(address)` when nothing answers at a loopback address.
The server runs in its own session (it outlives the command and ignores the terminal's Ctrl-C),
logs to the platformdirs log folder, and is recorded in a pidfile in the state folder. A lockfile
next to it makes concurrent `score` commands start one server, not two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from scorecut.plugins.client import ScorecutClient, ServerUnavailable, is_loopback, split_address
from scorecut.plugins.client.locks import file_lock
from scorecut.v1 import DEFAULT_PORT

APP_NAME = "scorecut"
START_TIMEOUT_S = 120.0  # a cold start imports torch and the models; slow disks take a while


@dataclass(frozen=True)
class LocalServer:
    address: str
    pid: int | None  # None when a server we did not start answers there
    log_path: Path | None
    started: bool  # True when this call started it


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME)) / "servers"


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME))


def _slug(address: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in address)


def pidfile_path(address: str) -> Path:
    return state_dir() / f"{_slug(address)}.json"


def read_pidfile(address: str) -> dict | None:
    try:
        return json.loads(pidfile_path(address).read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    if os.name == "nt":  # no signal 0 there; the health check decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def started_server_log(address: str) -> Path | None:
    """The log of the running server that `scorecut score` started at `address`, if one did."""
    record = read_pidfile(address) or {}
    try:
        pid, log = int(record["pid"]), Path(record["log"])
    except (KeyError, TypeError, ValueError):
        return None
    return log if pid_alive(pid) else None


def _spawn(address: str, log_path: Path) -> subprocess.Popen:
    host, port = split_address(address)
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", host or "127.0.0.1",
           "--port", str(port or DEFAULT_PORT)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True  # own session: no SIGHUP/SIGINT from our terminal
    from scorecut.plugins.client.local_secret import SECRET_ENV, ensure_secret

    env = {**os.environ, SECRET_ENV: ensure_secret()}  # the user's own server: it requires the secret
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=str(Path.home()), close_fds=True, env=env, **kwargs)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _answers(address: str, token: str | None, timeout: float = 1.0) -> bool:
    with ScorecutClient(address, token=token) as client:  # fresh: no reconnect backoff carried over
        return client.ping(timeout=timeout)


def ensure_local_server(address: str, *, token: str | None = None, timeout_s: float = START_TIMEOUT_S,
                        notify=lambda message: None) -> LocalServer:
    """The server answering at loopback `address`, started detached when none does.

    Raises ServerUnavailable (with the server log's tail) when it cannot be started.
    """
    if not is_loopback(address):
        raise ServerUnavailable(f"no Scorecut server answers at {address}; start it there with "
                                "`scorecut serve --host ... --token ...`, or check the address")
    if _answers(address, token, 2.0):
        record = read_pidfile(address) or {}
        return LocalServer(address, record.get("pid"), None, False)
    with file_lock(state_dir() / f"{_slug(address)}.lock"):
        record = read_pidfile(address)
        if _answers(address, token, 2.0):  # another command started it while we waited for the lock
            return LocalServer(address, (record or {}).get("pid"), None, False)
        starting = record and time.time() - float(record.get("started", 0)) < timeout_s
        if starting and pid_alive(int(record["pid"])) and _wait(address, token, record, None, timeout_s):
            return LocalServer(address, int(record["pid"]), Path(record["log"]), False)
        log_path = log_dir() / f"server-{_slug(address)}.log"
        notify(f"starting a local Scorecut server at {address} (log: {log_path})")
        proc = _spawn(address, log_path)
        record = {"pid": proc.pid, "address": address, "log": str(log_path), "started": time.time()}
        path = pidfile_path(address)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)  # recorded at once, so a crash of ours still leaves it findable
        if not _wait(address, token, record, proc, timeout_s):
            if proc.poll() is None:
                proc.terminate()
            path.unlink(missing_ok=True)
            raise ServerUnavailable(
                f"the local Scorecut server did not start at {address}; its log ({log_path}) ends:\n"
                f"{_log_tail(log_path)}\nfix what it says, or run `scorecut serve` yourself to see why"
            )
        return LocalServer(address, proc.pid, log_path, True)


def _wait(address: str, token: str | None, record: dict, proc: subprocess.Popen | None, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(address, token):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        if proc is None and not pid_alive(int(record["pid"])):
            return False
        time.sleep(0.2)
    return False
