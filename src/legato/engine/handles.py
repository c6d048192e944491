"""``RunHandle``: a run's id, state, and (once it ends) its result or error."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from legato.engine.targets import load_target
from legato.errors import RunFailedError, RunStateError
from legato.records import RunRecord, StepRecord
from legato.serialization import TAG, loads
from legato.states import RunState
from legato.store.base import Store


class RunHandle:
    """Refers to one run. ``result()`` waits for a run executing in this process."""

    def __init__(self, run_id: str, store: Store) -> None:
        self.run_id = run_id
        self.store = store
        self._done = threading.Event()
        self._value: Any = None
        self._exception: BaseException | None = None
        self._local = False  # executed by this process: value/exception are at hand

    # Called by the runner.
    def _finish(self, *, value: Any = None, exception: BaseException | None = None) -> None:
        self._local = True
        self._value = value
        self._exception = exception
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a run executing in this process; True once it has ended (or, for a
        run executing elsewhere, whether the store shows it ended)."""
        if self._local:
            return self._done.wait(timeout)
        return self.record.state.is_final

    @property
    def record(self) -> RunRecord:
        return self.store.get_run(self.run_id)

    @property
    def state(self) -> RunState:
        return self.record.state

    @property
    def steps(self) -> list[StepRecord]:
        return self.store.get_steps(self.run_id)

    @property
    def error(self) -> BaseException | None:
        """The exception the run failed with, if it failed in this process."""
        return self._exception

    def result(self, timeout: float | None = None) -> Any:
        """The run's result; raises its exception if it failed.

        For a run executed in this process the original exception is raised; for a run
        known only from the store, ``RunFailedError`` carries the stored error.
        """
        if self._local:
            if not self._done.wait(timeout):
                raise TimeoutError(f"run {self.run_id} is still running after {timeout}s")
            if self._exception is not None:
                raise self._exception
            return self._value
        record = self.record
        if record.state is RunState.COMPLETED:
            return None if record.result is None else self._load_result(record)
        if record.state is RunState.FAILED and record.error is not None:
            raise RunFailedError(self.run_id, record.error.type, record.error.message)
        raise RunStateError(
            f"run {self.run_id} is {record.state.value}; it has no result yet. "
            f"Resume it with `legato runs resume {self.run_id}`."
        )

    def _load_result(self, record: RunRecord) -> Any:
        """Decode the stored result after importing the run's flow, as a worker does: the
        classes it holds are defined (or imported) by the flow's code."""
        text = record.result or "null"
        if record.target is not None and (record.serializer != "json" or TAG in text):
            # The result's own error says what is missing if this import fails.
            with contextlib.suppress(Exception):
                load_target(record.target)
        return loads(text, record.serializer)

    def __repr__(self) -> str:
        return f"<RunHandle {self.run_id}>"
