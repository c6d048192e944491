"""A stand-in for the scheduler's ``emit``: records each fire's key in a SQLite table
where the key is UNIQUE and returns the run id recorded for it, the existing one when the
key came before. Every call is logged too, so a test can see a redelivery happen."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from legato.ids import new_run_id
from legato.records import FireRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS fires (key TEXT PRIMARY KEY, run_id TEXT NOT NULL,
                                  deployment TEXT NOT NULL, kind TEXT NOT NULL,
                                  payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL);
"""


class Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def __call__(self, fire: FireRecord) -> str:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO calls (key) VALUES (?)", (fire.key,))
            conn.execute(
                "INSERT OR IGNORE INTO fires VALUES (?, ?, ?, ?, ?)",
                (fire.key, new_run_id(), fire.deployment, fire.kind, fire.payload),
            )
            (run_id,) = conn.execute(
                "SELECT run_id FROM fires WHERE key = ?", (fire.key,)
            ).fetchone()
            conn.execute("COMMIT")
            return str(run_id)
        finally:
            conn.close()

    def keys(self) -> list[str]:
        with self._connect() as conn:
            return [k for (k,) in conn.execute("SELECT key FROM fires ORDER BY rowid")]

    def calls(self) -> list[str]:
        with self._connect() as conn:
            return [k for (k,) in conn.execute("SELECT key FROM calls ORDER BY n")]

    def payloads(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT payload FROM fires ORDER BY rowid").fetchall()
        return [json.loads(p) for (p,) in rows]
