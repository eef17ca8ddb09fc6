"""Shared fixtures: isolated user folders, test videos, and a real server on a loopback port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.helpers.servers import ServerProcess, start_server

# Helper modules not yet moved into tests.helpers (the Resolve fakes, the vmas media makers,
# synth_arrangements, editorial_clips) are still imported by their bare names from this folder.
sys.path.insert(0, str(Path(__file__).parent))

# The tests hear the synthesizer whatever General MIDI font this machine has installed (CI installs
# one): their figures were set on it, and servers started here inherit this. The SoundFont tests
# choose their font themselves (their own SF2, or the system's found by itself).
os.environ["SCORECUT_SOUNDFONT"] = "none"

@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    """Everything tests make lives under this folder, which servers accept as a media root."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="session")
def short(media_root) -> Path:
    """A 3 s clip with one cut: a job that finishes quickly."""
    from tests.helpers.server_calls import video

    return video(media_root, "short-3s.mp4", 3.0, cuts_s=(1.2,))


@pytest.fixture(scope="session")
def long(media_root) -> Path:
    """A 40 s clip: long enough that a job is still running while a test cancels it or does something else."""
    from tests.helpers.server_calls import video

    return video(media_root, "long-40s.mp4", 40.0, cuts_s=(7.3, 15.1, 22.8, 31.4), fps=12)


@pytest.fixture(scope="session")
def server(tmp_path_factory, media_root):
    """One shared server for tests that only read from it."""
    srv = start_server(tmp_path_factory, media_root)
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path_factory, media_root):
    """A server of the test's own, for tests that fill its queue, stop it or inspect its log."""
    servers: list[ServerProcess] = []

    def make(*args: str) -> ServerProcess:
        srv = start_server(tmp_path_factory, media_root, *args)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()
