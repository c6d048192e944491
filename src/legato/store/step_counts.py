"""Counting runs' steps by state (``StepCountStore``): the "steps done/total" of a page
of the runs list, in one grouped read for the whole page, never by loading the steps.

Implemented by every backend: ``MemoryStepCounts`` (mixed into ``MemoryStore``) and
``SqlStepCounts`` (mixed into ``SqlStore``), one contract suite
(``tests/store/test_step_counts_contract.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from legato.records import StepRecord
from legato.states import StepState

MAX_RUN_IDS = 1000  # run ids one call may count (a page of the runs list is far fewer)

DONE = (StepState.COMPLETED, StepState.SKIPPED)


@dataclass(frozen=True, kw_only=True, slots=True)
class StepCounts:
    """How many of a run's recorded steps there are, and in which outcome.

    ``done``: completed or skipped; ``failed``: failed; ``total``: every step recorded so
    far (steps the flow has not reached yet are not known, so not counted).
    """

    done: int = 0
    failed: int = 0
    total: int = 0


@runtime_checkable
class StepCountStore(Protocol):
    def step_counts(self, run_ids: Sequence[str]) -> dict[str, StepCounts]:
        """The step counts of each of ``run_ids`` that has at least one step (a run
        without steps, or an unknown id, is absent), in one read. A read: changes
        nothing. Raises ``StoreError``, also for more than ``MAX_RUN_IDS`` ids."""


def _check(run_ids: Sequence[str]) -> None:
    from legato.errors import StoreError

    if len(run_ids) > MAX_RUN_IDS:
        raise StoreError(
            f"step_counts: {len(run_ids)} run ids given; count at most {MAX_RUN_IDS} at once"
        )


def counts_of(states: Iterable[tuple[str, str, int]]) -> dict[str, StepCounts]:
    """``(run_id, state, count)`` rows folded into counts per run."""
    found: dict[str, list[int]] = {}
    for run_id, state, count in states:
        done_failed_total = found.setdefault(run_id, [0, 0, 0])
        if state in DONE:
            done_failed_total[0] += count
        elif state == StepState.FAILED:
            done_failed_total[1] += count
        done_failed_total[2] += count
    return {
        run_id: StepCounts(done=done, failed=failed, total=total)
        for run_id, (done, failed, total) in found.items()
    }


class MemoryStepCounts:
    """Mixed into ``MemoryStore``; holds the store's lock while it reads."""

    _lock: threading.Lock
    _steps: dict[str, dict[str, StepRecord]]

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...

    def step_counts(self, run_ids: Sequence[str]) -> dict[str, StepCounts]:
        """The step counts of each run that has steps. Raises ``StoreError``."""
        _check(run_ids)
        with self._lock:
            self._check_open()
            states = [
                (run_id, str(step.state), 1)
                for run_id in dict.fromkeys(run_ids)
                for step in self._steps.get(run_id, {}).values()
            ]
        return counts_of(states)


# One grouped read for the whole page; (run_id, step_key) is the steps' primary key, so
# each run's steps are found by the index.
COUNT_STEPS = (
    "SELECT run_id, state, COUNT(*) FROM steps WHERE run_id IN ({marks}) GROUP BY run_id, state"
)


class SqlStepCounts:
    """Mixed into ``SqlStore``; relies on its ``_fetch`` and placeholder."""

    placeholder: ClassVar[str]

    if TYPE_CHECKING:

        def _fetch(self, doing: str, sql: str, params: Sequence[Any], one: bool = False) -> Any: ...

    def step_counts(self, run_ids: Sequence[str]) -> dict[str, StepCounts]:
        """The step counts of each run that has steps, in one query. Raises
        ``StoreError``."""
        _check(run_ids)
        unique = list(dict.fromkeys(run_ids))
        if not unique:
            return {}
        sql = COUNT_STEPS.format(marks=", ".join([self.placeholder] * len(unique)))
        found = self._fetch("count steps", sql, unique)
        return counts_of((run_id, state, int(count)) for run_id, state, count in found)
