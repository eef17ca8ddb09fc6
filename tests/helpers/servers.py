"""Real server processes for tests: free loopback ports, isolated user folders, readiness."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """Environment whose platformdirs folders (config, cache, logs, models) are under `home`."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("SCORECUT_SERVER", None)
    return env


def wait_serving(address: str, timeout_s: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    """Block until the standard health service answers SERVING at `address`."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with grpc.insecure_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no SERVING answer from {address} within {timeout_s} s")


@dataclass
class ServerProcess:
    """A `scorecut serve` subprocess on a free loopback port."""

    port: int
    home: Path
    media_root: Path
    args: list[str]
    proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--media-root", str(self.media_root), *self.args]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=isolated_env(self.home), stdout=log, stderr=subprocess.STDOUT)
        wait_serving(self.address, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(tmp_path_factory, media_root: Path, *args: str) -> ServerProcess:
    home = tmp_path_factory.mktemp("server-home")
    return ServerProcess(free_port(), home, media_root, list(args)).start()
