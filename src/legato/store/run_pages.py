"""A run's steps and history a page at a time, and its steps counted (``RunPagesStore``):
what the API's run detail reads, so that a run of 10,000 steps is never read whole to
show a page of it.

A page is the steps after a ``seq`` (in program order), or the history events after an
event id (oldest first): keyset pages, so each costs the same however deep it is.

Implemented by every backend: ``MemoryRunPages`` (mixed into ``MemoryStore``) and
``SqlRunPages`` (mixed into ``SqlStore``), one contract suite
(``tests/store/test_run_pages_contract.py``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from legato.records import EventRecord, StepRecord
from legato.states import StepState
from legato.store import rows
from legato.store.queries import EVENT_COLUMNS, STEP_COLUMNS


@dataclass(frozen=True, kw_only=True, slots=True)
class StepCount:
    """How many steps of a run run ``task_name`` and are in ``state``; ``first_seq`` is
    the position of the first of them (to list tasks in program order)."""

    task_name: str
    state: StepState
    count: int
    first_seq: int


@runtime_checkable
class RunPagesStore(Protocol):
    def step_page(self, run_id: str, *, after_seq: int | None, limit: int) -> list[StepRecord]:
        """At most ``limit`` steps of the run whose ``seq`` is above ``after_seq`` (all
        when ``None``), ordered by ``seq``; empty for an unknown run. A read: changes
        nothing. Raises ``StoreError``."""

    def count_steps(self, run_id: str) -> list[StepCount]:
        """The run's steps counted per task and state, ordered by ``first_seq``; empty
        for an unknown run. One read. Raises ``StoreError``."""

    def event_page(self, run_id: str, *, after_id: int | None, limit: int) -> list[EventRecord]:
        """At most ``limit`` events of the run's history whose id is above ``after_id``
        (all when ``None``), oldest first, with their ids; empty for an unknown run.
        Raises ``StoreError``."""

    def count_events(self, run_id: str) -> int:
        """How many events the run's history holds (0 for an unknown run). Raises
        ``StoreError``."""


def counted(steps: Sequence[StepRecord]) -> list[StepCount]:
    """``steps`` (ordered by seq) counted per task and state."""
    counts: Counter[tuple[str, StepState]] = Counter()
    first: dict[tuple[str, StepState], int] = {}
    for step in steps:
        key = (step.task_name, step.state)
        counts[key] += 1
        first.setdefault(key, step.seq)
    return [
        StepCount(task_name=task, state=state, count=counts[(task, state)], first_seq=seq)
        for (task, state), seq in sorted(first.items(), key=lambda item: item[1])
    ]


class MemoryRunPages:
    """Mixed into ``MemoryStore``; holds the store's lock while it reads."""

    _lock: threading.Lock
    _steps: dict[str, dict[str, StepRecord]]
    _events: dict[str, list[tuple[int, EventRecord]]]

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...

    def _sorted_steps(self, run_id: str) -> list[StepRecord]:
        with self._lock:
            self._check_open()
            steps = list(self._steps.get(run_id, {}).values())
        steps.sort(key=lambda step: (step.seq, step.key))
        return steps

    def step_page(self, run_id: str, *, after_seq: int | None, limit: int) -> list[StepRecord]:
        """At most ``limit`` steps after ``after_seq``, ordered by ``seq``."""
        steps = self._sorted_steps(run_id)
        if after_seq is not None:
            steps = [step for step in steps if step.seq > after_seq]
        return steps[: max(limit, 0)]

    def count_steps(self, run_id: str) -> list[StepCount]:
        """The run's steps counted per task and state."""
        return counted(self._sorted_steps(run_id))

    def event_page(self, run_id: str, *, after_id: int | None, limit: int) -> list[EventRecord]:
        """At most ``limit`` events after ``after_id``, oldest first."""
        with self._lock:
            self._check_open()
            stored = [
                (event_id, event)
                for event_id, event in self._events.get(run_id, ())
                if after_id is None or event_id > after_id
            ][: max(limit, 0)]
        return [replace(event, id=event_id) for event_id, event in stored]

    def count_events(self, run_id: str) -> int:
        """How many events the run's history holds."""
        with self._lock:
            self._check_open()
            return len(self._events.get(run_id, ()))


STEP_PAGE = (
    f"SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ? AND seq > ? ORDER BY seq, step_key LIMIT ?"
)
COUNT_STEPS = (
    "SELECT task_name, state, COUNT(*), MIN(seq) FROM steps WHERE run_id = ? "
    "GROUP BY task_name, state ORDER BY MIN(seq), task_name, state"
)
EVENT_PAGE = (
    f"SELECT id, {EVENT_COLUMNS} FROM events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?"
)
COUNT_EVENTS = "SELECT COUNT(*) FROM events WHERE run_id = ?"
BEFORE_ALL = -(2**63)  # below every seq and event id: "from the first"


class SqlRunPages:
    """Mixed into ``SqlStore``; relies on its ``_fetch`` and placeholder."""

    placeholder: ClassVar[str]

    if TYPE_CHECKING:

        def _fetch(self, doing: str, sql: str, params: Sequence[Any], one: bool = False) -> Any: ...

    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def step_page(self, run_id: str, *, after_seq: int | None, limit: int) -> list[StepRecord]:
        """At most ``limit`` steps after ``after_seq``, ordered by ``seq``, in one read.
        Raises ``StoreError``."""
        after = BEFORE_ALL if after_seq is None else after_seq
        found = self._fetch(
            f"read a page of the steps of run {run_id}",
            self._sql(STEP_PAGE),
            (run_id, after, max(limit, 0)),
        )
        return [rows.decode_step(row) for row in found]

    def count_steps(self, run_id: str) -> list[StepCount]:
        """The run's steps counted per task and state, in one read. ``StoreError``."""
        found = self._fetch(f"count the steps of run {run_id}", self._sql(COUNT_STEPS), (run_id,))
        return [
            StepCount(task_name=task, state=StepState(state), count=int(count), first_seq=int(seq))
            for task, state, count, seq in found
        ]

    def event_page(self, run_id: str, *, after_id: int | None, limit: int) -> list[EventRecord]:
        """At most ``limit`` events after ``after_id``, oldest first, in one read.
        Raises ``StoreError``."""
        after = BEFORE_ALL if after_id is None else after_id
        found = self._fetch(
            f"read a page of the history of run {run_id}",
            self._sql(EVENT_PAGE),
            (run_id, after, max(limit, 0)),
        )
        return [rows.decode_event(row) for row in found]

    def count_events(self, run_id: str) -> int:
        """How many events the run's history holds, in one read. Raises ``StoreError``."""
        row = self._fetch(
            f"count the history of run {run_id}", self._sql(COUNT_EVENTS), (run_id,), one=True
        )
        return int(row[0])
