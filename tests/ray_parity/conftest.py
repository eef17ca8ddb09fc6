"""The server suite against Scorecut on Ray: the same test functions, the servers they get swapped.

Each module here re-exports one server test module (`from tests.test_server_jobs import *`), so a
test written for the single-node server runs against a Ray deployment too, unchanged. One Ray head
on loopback serves the whole package (`ray start --head --block`); it, the shared server and this
process's Ray connection are package fixtures, gone before the rest of the suite runs. It declares 4
logical CPUs on this 2-core machine: the shared 2-replica server and a test's own 1-replica server
(one CPU each) are placed at once; Ray's CPUs are places for replicas, not cores.

- server: `scorecut serve --ray HEAD --replicas 2`, shared by the package (tests that only read).
- fresh_server(*args): `scorecut serve --ray HEAD --replicas 1 *args`, the test's own: one model
  worker, as on one machine, so "queue position 1" and "the worker is freed" mean the same there.
- in_process(**settings): a ScorecutServer in the test process whose jobs run on a 1-replica
  deployment of the package's own (RayJobQueue), for settings the CLI does not offer.

Only re-exported tests that use one of those fixtures run here: the rest (pure functions, servers a
test starts by itself) would run the same code twice. Not re-exported: test_server_support.py (the
single-node JobQueue's worker thread itself), test_cancel_points.py and test_contract.py (no server).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.serve", reason="Ray Serve is the `ray` extra: pip install 'scorecut[ray]'")

from tests.helpers.ray_head import ray_head as start_ray_head  # noqa: E402
from tests.helpers.servers import ServerProcess, free_port, isolated_env, wait_serving  # noqa: E402

HEAD_CPUS = 4  # logical: 2 shared replicas + 1 of a test's own, with room for one being replaced
START_S = 300  # a front, its replicas importing torch, on a loaded 2-core machine
SERVER_FIXTURES = {"server", "fresh_server", "in_process"}


def pytest_collection_modifyitems(config, items):
    """Keep the tests that talk to a swapped server; the others are the single-node run's."""
    here = Path(__file__).parent
    kept, dropped = [], []
    for item in items:
        function = getattr(item, "function", None)
        reexported = Path(str(item.fspath)).parent == here and function is not None \
            and function.__module__ != item.module.__name__
        (dropped if reexported and not SERVER_FIXTURES & set(item.fixturenames) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="package")
def ray_head(tmp_path_factory):
    """A Ray head on loopback for the package; yields its address."""
    with start_ray_head(tmp_path_factory.mktemp("ray-parity-head"), HEAD_CPUS) as (address, _):
        yield address


def start_on_ray(tmp_path_factory, media_root: Path, head: str, replicas: int, *args: str) -> ServerProcess:
    home = tmp_path_factory.mktemp("ray-front-home")
    srv = ServerProcess(free_port(), home, media_root, ["--ray", head, "--replicas", str(replicas), *args])
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "127.0.0.1", "--port", str(srv.port),
           "--media-root", str(media_root), *srv.args]
    with open(srv.log_path, "ab") as log:
        srv.proc = subprocess.Popen(cmd, env=isolated_env(home), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_serving(srv.address, timeout_s=START_S, proc=srv.proc)
    except BaseException:
        stop(srv)
        raise
    return srv


def stop(srv: ServerProcess) -> None:
    """SIGTERM: the front removes its Serve application and leaves the head."""
    if srv.proc and srv.proc.poll() is None:
        srv.proc.terminate()
        try:
            srv.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture(scope="package")
def server(tmp_path_factory, media_root, ray_head):
    srv = start_on_ray(tmp_path_factory, media_root, ray_head, 2)
    yield srv
    stop(srv)


@pytest.fixture
def fresh_server(tmp_path_factory, media_root, ray_head):
    servers: list[ServerProcess] = []

    def make(*args: str) -> ServerProcess:
        srv = start_on_ray(tmp_path_factory, media_root, ray_head, 1, *args)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        stop(srv)


@pytest.fixture(scope="package")
def ray_driver(ray_head, tmp_path_factory):
    """This test process joined to the head as a Ray driver, with a 1-replica deployment of its own."""
    from scorecut.server.ray_serve import RayOptions, deploy, start_ray, stop_ray

    options = RayOptions(ray_head, replicas=1)
    name = "scorecut-in-process"
    start_ray(options)
    try:
        yield deploy(options, "cpu", tmp_path_factory.mktemp("ray-models"), name)
    finally:
        stop_ray(options, name)


@pytest.fixture(name="in_process")
def ray_in_process(tmp_path, media_root, ray_driver):
    """test_server_hardening's in_process, with the jobs run by the Ray replica."""
    from scorecut.server.app import ScorecutServer
    from scorecut.server.config import ServerConfig
    from scorecut.server.ray_serve import RayJobQueue

    started = []

    def make(**settings) -> ScorecutServer:
        config = ServerConfig(host="127.0.0.1", port=0, device="cpu", media_roots=(media_root,),
                              cache_dir=tmp_path / "cache", model_dir=tmp_path / "models",
                              log_dir=tmp_path / "logs", **settings)
        jobs = RayJobQueue(ray_driver, 1, config.max_queue)
        server = ScorecutServer(config, jobs.device, jobs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
