"""Searching runs (``RunSearchStore``): the filters, text search and keyset pages of the
API's run list.

A page is the runs older than the last run of the previous page (``RunQuery.after``),
newest first by ``(created_at, run_id)``: no offset, so a page costs the same however
deep it is, and runs created meanwhile do not shift later pages.

Implemented by every backend: ``MemoryRunSearch`` (mixed into ``MemoryStore``) and
``SqlRunSearch`` (mixed into ``SqlStore``), one contract suite
(``tests/store/test_run_search_contract.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from legato.records import RunRecord
from legato.states import RunState
from legato.store import rows


@dataclass(frozen=True, kw_only=True, slots=True)
class RunPosition:
    """Where a page of runs ended: its last run's creation time and id."""

    created_at: datetime
    run_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RunQuery:
    """Which runs ``search_runs`` returns; every condition given must hold."""

    flow_name: str | None = None
    states: tuple[RunState, ...] = ()  # any of these
    tag: str | None = None  # runs carrying this tag
    tags: tuple[str, ...] = ()  # and every one of these (e.g. "deployment:NAME")
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created at or before
    text: str | None = None  # in the run id, flow name or parameters (ASCII case ignored)
    roots_only: bool = False  # no child runs
    after: RunPosition | None = None  # only runs older than this one (the next page)
    limit: int = 50


@runtime_checkable
class RunSearchStore(Protocol):
    def search_runs(self, query: RunQuery) -> list[RunRecord]:
        """Runs matching ``query``, newest first (``created_at``, then run id, both
        descending), at most ``query.limit``. A read: changes nothing. Raises
        ``StoreError`` (also for a naive datetime in the query)."""


def _contains(haystack: str, needle: str) -> bool:
    return needle in _ascii_lower(haystack)


def _ascii_lower(text: str) -> str:
    # SQL LOWER folds ASCII letters only on SQLite; fold the same letters everywhere.
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def matches(run: RunRecord, query: RunQuery) -> bool:
    """Whether ``run`` meets every condition of ``query`` (the position included)."""
    if query.flow_name is not None and run.flow_name != query.flow_name:
        return False
    if query.states and run.state not in query.states:
        return False
    if query.tag is not None and query.tag not in run.tags:
        return False
    if any(tag not in run.tags for tag in query.tags):
        return False
    if query.since is not None and run.created_at < query.since:
        return False
    if query.until is not None and run.created_at > query.until:
        return False
    if query.roots_only and run.parent_run_id is not None:
        return False
    if query.after is not None and (run.created_at, run.run_id) >= (
        query.after.created_at,
        query.after.run_id,
    ):
        return False
    if query.text:
        needle = _ascii_lower(query.text)
        if not any(_contains(part, needle) for part in (run.run_id, run.flow_name, run.params)):
            return False
    return True


class MemoryRunSearch:
    """Mixed into ``MemoryStore``; holds the store's lock while it reads."""

    _lock: threading.Lock
    _runs: dict[str, RunRecord]

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...

    def search_runs(self, query: RunQuery) -> list[RunRecord]:
        """Runs matching ``query``, newest first, at most ``query.limit``."""
        from legato.errors import StoreError

        after = query.after.created_at if query.after is not None else None
        for at in (query.since, query.until, after):
            if at is not None and at.utcoffset() is None:
                raise StoreError(f"search_runs: {at!r} has no time zone; give aware UTC times")
        with self._lock:
            self._check_open()
            found = [run for run in self._runs.values() if matches(run, query)]
        found.sort(key=lambda run: (run.created_at, run.run_id), reverse=True)
        return found[: max(query.limit, 0)]


# Each condition below is added when its part of the query is given.
WHERE_FLOW = "flow_name = ?"
WHERE_TAG = "tags LIKE ? ESCAPE '!'"  # tags are a JSON array: look for '"tag"'
WHERE_SINCE = "created_at >= ?"
WHERE_UNTIL = "created_at <= ?"
WHERE_ROOT = "parent_run_id IS NULL"
WHERE_AFTER = "(created_at < ? OR (created_at = ? AND run_id < ?))"
WHERE_TEXT = (
    "(LOWER(run_id) LIKE ? ESCAPE '!' OR LOWER(flow_name) LIKE ? ESCAPE '!' "
    "OR LOWER(params) LIKE ? ESCAPE '!')"
)
ORDER = " ORDER BY created_at DESC, run_id DESC LIMIT ?"


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE ... ESCAPE '!', with LIKE's own characters escaped."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _conditions(query: RunQuery, mark: str) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if query.flow_name is not None:
        conditions.append(WHERE_FLOW)
        params.append(query.flow_name)
    if query.states:
        conditions.append(f"state IN ({', '.join(['?'] * len(query.states))})")
        params.extend(str(state) for state in query.states)
    for tag in (query.tag, *query.tags):
        if tag is not None:
            conditions.append(WHERE_TAG)
            params.append(like_pattern(json.dumps(tag)))
    if query.since is not None:
        conditions.append(WHERE_SINCE)
        params.append(rows.micros(query.since))
    if query.until is not None:
        conditions.append(WHERE_UNTIL)
        params.append(rows.micros(query.until))
    if query.roots_only:
        conditions.append(WHERE_ROOT)
    if query.after is not None:
        at = rows.micros(query.after.created_at)
        conditions.append(WHERE_AFTER)
        params.extend((at, at, query.after.run_id))
    if query.text:
        conditions.append(WHERE_TEXT)
        params.extend([like_pattern(_ascii_lower(query.text))] * 3)
    return [c.replace("?", mark) for c in conditions], params


class SqlRunSearch:
    """Mixed into ``SqlStore``; relies on its ``_fetch``, ``_q`` and placeholder."""

    placeholder: ClassVar[str]

    if TYPE_CHECKING:
        from legato.store.queries import Queries

        _q: Queries

        def _fetch(self, doing: str, sql: str, params: Sequence[Any], one: bool = False) -> Any: ...

    def search_runs(self, query: RunQuery) -> list[RunRecord]:
        """Runs matching ``query``, newest first, at most ``query.limit``, in one read.
        Raises ``StoreError`` (also for a naive datetime in the query)."""
        from legato.errors import StoreError

        try:
            conditions, params = _conditions(query, self.placeholder)
        except TypeError as exc:
            raise StoreError(f"search_runs: {exc}; give aware UTC times") from None
        sql = self._q.select_runs
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += ORDER.replace("?", self.placeholder)
        params.append(max(query.limit, 0))
        return [rows.decode_run(row) for row in self._fetch("search runs", sql, params)]
