"""The Store protocol: everything legato persists goes through these methods.

Backends: ``MemoryStore`` (``memory://``), ``SqliteStore`` (``sqlite:///path``). Every
backend passes ``tests/store/test_contract.py``. The engine never sees SQL.

Writes arrive in batches through :meth:`Store.record` so that one writer can commit the
records of many parallel steps in a single transaction (group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from legato.records import (
    CacheRecord,
    Change,
    EventRecord,
    LogRecord,
    RunFilter,
    RunRecord,
    StepRecord,
)


@runtime_checkable
class Store(Protocol):
    url: str  # as given, with any password removed

    def create_run(self, run: RunRecord, *, events: Sequence[EventRecord] = ()) -> None:
        """Insert a new run and its first events atomically.

        Raises ``StoreError`` if a run with that id exists; nothing is written then.
        """

    def record(self, changes: Sequence[Change]) -> None:
        """Apply a batch atomically: all of it is durable when this returns, or none.

        ``RunRecord``: updates the run's mutable fields (state, result, error, owner,
        times); the run must exist. ``StepRecord``: inserts or replaces the step at
        ``(run_id, key)``. ``EventRecord`` / ``LogRecord``: appended. ``CacheRecord``:
        inserts or replaces the entry at ``cache_key``. Raises ``StoreError``.
        """

    def get_run(self, run_id: str) -> RunRecord:
        """The run; raises ``RunNotFoundError``."""

    def list_runs(self, filter: RunFilter) -> list[RunRecord]:
        """Runs matching ``filter``, newest first, at most ``filter.limit``."""

    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps ordered by ``seq``; empty for an unknown run."""

    def get_events(self, run_id: str) -> list[EventRecord]:
        """The run's history, oldest first, with store-assigned ids."""

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogRecord]:
        """Log records of the run (or of one step), oldest first."""

    def get_cached(self, cache_key: str, *, now: datetime) -> CacheRecord | None:
        """The cache entry unless missing or expired at ``now``."""

    def close(self) -> None:
        """Release connections. Idempotent."""
