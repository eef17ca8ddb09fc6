"""The watch folder's journal: what was scored, keyed by the content's sha256 (SQLite).

Keyed by content, not name: a renamed or copied duplicate is recognised and not scored again, a
file whose bytes changed is. A job is marked `running` before it starts and `done` only after its
result folder has landed, so a watcher killed mid-job (even SIGKILL) redoes that job on restart.
A failure records the options it was tried with, so changed options try the file again.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    sha256      TEXT PRIMARY KEY,
    state       TEXT NOT NULL,          -- running | done | failed
    name        TEXT NOT NULL,          -- result name: scored/<name>/ or failed/<name>.error.txt
    source      TEXT NOT NULL,          -- the file name it was first seen under
    message     TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL,
    options     TEXT NOT NULL DEFAULT ''  -- the options it was last tried with (a fingerprint)
);
CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs(name);
-- Content hashes of files already read, so a restart does not re-read every video in the folder.
CREATE TABLE IF NOT EXISTS hashes (
    path        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    sha256      TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Entry:
    sha256: str
    state: str
    name: str
    source: str
    message: str
    attempts: int
    options: str = ""


class Journal:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None)  # autocommit: each write durable
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "options" not in columns:  # a journal from before options were recorded
            self._db.execute("ALTER TABLE jobs ADD COLUMN options TEXT NOT NULL DEFAULT ''")

    def get(self, sha256: str) -> Entry | None:
        row = self._db.execute(
            "SELECT sha256, state, name, source, message, attempts, options FROM jobs WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return Entry(*row) if row else None

    def start(self, sha256: str, name: str, source: str, options: str = "") -> None:
        """Mark a job running. `attempts` counts starts since it last ended (a crash loop shows)."""
        self._db.execute(
            "INSERT INTO jobs (sha256, state, name, source, attempts, updated_at, options) "
            "VALUES (?, 'running', ?, ?, 1, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET name=excluded.name, "
            "attempts=CASE WHEN state='running' THEN attempts+1 ELSE 1 END, state='running', "
            "updated_at=excluded.updated_at, options=excluded.options",
            (sha256, name, source, time.time(), options),
        )

    def finish(self, sha256: str, state: str, message: str = "", name: str | None = None) -> None:
        """Mark a job ended; `name`: the folder its take landed in (the naming policy chose it)."""
        self._db.execute(
            "UPDATE jobs SET state = ?, message = ?, updated_at = ?, name = COALESCE(?, name) WHERE sha256 = ?",
            (state, message, time.time(), name, sha256),
        )

    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        row = self._db.execute(
            "SELECT sha256 FROM hashes WHERE path = ? AND size = ? AND mtime_ns = ?", (path, size, mtime_ns)
        ).fetchone()
        return row[0] if row else None

    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
            (path, size, mtime_ns, sha256),
        )

    def entries(self) -> list[Entry]:
        rows = self._db.execute("SELECT sha256, state, name, source, message, attempts, options FROM jobs "
                                "ORDER BY updated_at")
        return [Entry(*r) for r in rows]

    def close(self) -> None:
        self._db.close()
