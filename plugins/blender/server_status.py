"""Which server to talk to, and what it says about itself, fetched off the main thread.

Plain Python (no bpy): the panel shows the last `ServerStatus` and never waits on the network.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from .client_api import DEFAULT_ADDRESS, ENV_SERVER, ScorecutClient, ScorecutClientError, is_loopback

OFFLINE = ("Blender's online access is off (Preferences > System > Network > Allow Online Access), so "
           "Scorecut talks only to a server on this computer; allow online access to use {address}, or run "
           "`scorecut serve` here and use 127.0.0.1")


def resolve_address(preference: str) -> str:
    """The server address: $SCORECUT_SERVER, else the add-on preference, else the default."""
    return os.environ.get(ENV_SERVER, "").strip() or (preference or "").strip() or DEFAULT_ADDRESS


def online_refusal(address: str, online_access: bool) -> str:
    """Why `address` may not be used while Blender's online access is off ("" when it may):
    a server on this computer is always allowed, any other only with online access."""
    return "" if online_access or is_loopback(address) else OFFLINE.format(address=address)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    available: bool
    reason: str = ""  # why it is unavailable and what to do, in words
    stems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerStatus:
    """One answer from the server, or why there was none."""

    address: str
    reachable: bool
    version: str = ""
    device: str = ""
    models: tuple[ModelStatus, ...] = ()
    styles: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    error: str = ""  # when not reachable: what to do


def fetch_status(address: str, token: str = "", timeout: float = 15.0) -> ServerStatus:
    """Ask the server at `address` for its info (blocks up to `timeout` seconds: a server just started
    may take seconds to list its models; callers ask on a thread)."""
    try:
        with ScorecutClient(address, token=token or None) as client:
            info = client.info(timeout=timeout)
    except ScorecutClientError as e:
        return ServerStatus(address, False, error=str(e))
    models = tuple(ModelStatus(m.name, m.available, m.unavailable_reason, tuple(m.stems)) for m in info.models)
    return ServerStatus(address, True, info.version, info.device, models, tuple(info.styles), tuple(info.moods))


class StatusProbe:
    """`fetch_status` on a daemon thread; `result` is None until it answers."""

    def __init__(self, address: str, token: str = ""):
        self.address = address
        self.result: ServerStatus | None = None
        self._thread = threading.Thread(target=self._run, args=(token,), name="scorecut-status", daemon=True)

    def start(self, refusal: str = "") -> StatusProbe:
        """Ask on the thread; with a `refusal` (see online_refusal) the answer is that, unasked."""
        if refusal:
            self.result = ServerStatus(self.address, False, error=refusal)
            return self
        self._thread.start()
        return self

    def _run(self, token: str) -> None:
        self.result = fetch_status(self.address, token)  # one reference assignment: atomic for readers

    def wait(self, timeout: float | None = None) -> ServerStatus | None:
        self._thread.join(timeout)
        return self.result

    @property
    def done(self) -> bool:
        return self.result is not None
