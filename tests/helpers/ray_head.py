"""A Ray head of the tests' own, on loopback, started with `ray start --head --block`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.servers import free_port, isolated_env

RAY = Path(sys.executable).with_name("ray")


@contextmanager
def ray_head(home: Path, cpus: int, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, dict]]:
    """Yields (the head's address, the environment that reaches it); the head and its processes
    end with the block (`ray start --block` takes them down on SIGTERM)."""
    env = isolated_env(home) | (extra_env or {})
    port = free_port()
    cmd = [str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
           "--num-cpus", str(cpus), "--include-dashboard", "false", "--disable-usage-stats",
           "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port())]
    with open(home / "ray.log", "ab") as log:
        head = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while subprocess.run([str(RAY), "status", "--address", address], env=env, capture_output=True).returncode:
            assert head.poll() is None, (home / "ray.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(1)
        yield address, env
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
