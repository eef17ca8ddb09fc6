"""A local server is its user's own: a per-user secret, and who owns the port.

Two guards, both needed on a machine several people use:
- The server that `scorecut score` (or the watch folder) starts is given this user's secret, a
  random token in the user's state folder (file mode 0600, folder 0700: other users cannot read
  it), and requires it on every call but the health check. Clients of this user present it to
  loopback addresses on their own; another user's clients cannot, so they cannot use it.
- Before a client sends media (a path or an upload) to a loopback server, it asks the OS who
  listens on that port (Linux: /proc/net/tcp and tcp6 carry each socket's uid). A server that
  belongs to another user is refused with words, unless the user gave a token for it on purpose.

Pure standard library (platformdirs when present), so the host plugins can carry it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

SECRET_ENV = "SCORECUT_SERVER_SECRET"  # how a started server receives it (never on its command line)
SECRET_FILE = "server-secret"


def state_folder() -> Path:
    try:
        import platformdirs

        return Path(platformdirs.user_state_dir("scorecut"))
    except ImportError:  # a host plugin without platformdirs: the XDG default
        base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        return Path(base) / "scorecut"


def secret_path() -> Path:
    return state_folder() / SECRET_FILE


def read_secret() -> str | None:
    """This user's secret, or None when there is none yet (or it cannot be read)."""
    try:
        text = secret_path().read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def ensure_secret() -> str:
    """This user's secret, created on first use (0600 in a 0700 folder; an existing one is kept
    and its mode tightened)."""
    path = secret_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name != "nt":
        os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.name != "nt":
            os.chmod(path, 0o600)
        existing = read_secret()
        if existing:
            return existing
        path.unlink(missing_ok=True)  # empty or unreadable: made again
        return ensure_secret()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
    return read_secret() or ""


def _listening_uid(host: str, port: int) -> int | None:
    """The uid that owns the socket listening on host:port (Linux), None when unknown."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or fields[3] != "0A":  # 0A: LISTEN
                continue
            addr_hex, port_hex = fields[1].split(":")
            if int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(addr_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            local = ipaddress.ip_address(words)
            if isinstance(local, ipaddress.IPv6Address) and local.ipv4_mapped is not None:
                local = local.ipv4_mapped
            if local == ip or local.is_unspecified or (local.version != ip.version and local.is_unspecified):
                return int(fields[7])
    return None


def other_users_server(address: str) -> str | None:
    """None when the loopback server at `address` is this user's (or the OS cannot say); else a
    sentence saying whose it is and what to do."""
    if not hasattr(os, "getuid"):
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    try:
        uid = _listening_uid(host, int(port))
    except ValueError:
        return None
    if uid is None or uid == os.getuid():
        return None
    try:
        import pwd

        owner = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        owner = f"uid {uid}"
    return (f"the Scorecut server at {address} belongs to another user of this machine ({owner}); "
            "your media was not sent to it. Start your own with `scorecut serve --port N` and pass "
            "--server 127.0.0.1:N, or, to use theirs on purpose, pass --token with their token")
