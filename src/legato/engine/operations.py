"""The operations service: every action an operator takes on runs, in one place.

Entry points never change a run by hand: the CLI calls ``Operations`` now, the REST
server and the scheduler next. Each action takes the actor who did it (``by``: the OS
user on the CLI, a token's name on the server, ...), records it in the run's history,
returns a record, and raises the errors a user can meet (``RunNotFoundError``,
``RunStateError``, ``InputError``, ...), each saying what to do::

    ops = Operations(store)
    ops.submit("flows/etl.py:etl", kwargs={"day": "2024-05-01"}, by="alice@laptop")
    ops.cancel(run_id, reason="wrong input", by="alice@laptop")

``clock`` stamps what the service writes itself (events, answers, submissions); a run it
starts or resumes is executed by the engine on the real clock.

The module-level ``cancel``, ``pause`` and ``unpause`` (``legato.cancel`` ...) are the
same actions on the default store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.engine.context import executions, resolve_store
from legato.engine.handles import RunHandle
from legato.engine.inputs import record_answer
from legato.engine.launch import enqueue, execute_new, resume
from legato.engine.targets import load_target
from legato.errors import RunStateError
from legato.records import EventRecord, InputAnswer, RunFilter, RunRecord, SentEvent
from legato.serialization import dumps
from legato.store.base import Store, already_ended

if TYPE_CHECKING:
    from legato.engine.definitions import Flow
    from legato.engine.runner import Listener

Clock = Callable[[], datetime]

REQUEUED = "requeued for a retry by replay"
MAX_CHILDREN = 10_000  # child runs a cancel looks at


@dataclass(frozen=True, kw_only=True, slots=True)
class RunChange:
    """What an action did to one run: its record just before and just after."""

    before: RunRecord
    after: RunRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class Submitted:
    """A run put in the queue. ``created`` is False when its idempotency key already
    named a run: then ``run`` is that run, and nothing was written."""

    run: RunRecord
    created: bool


class Operations:
    """Operator actions on the runs of one store, each recorded with who did it.

    Every method is safe to call from several processes at once: the state checks are
    the store's atomic verbs (a compare-and-set on the run's state), so a run that ends
    meanwhile is never overwritten.
    """

    def __init__(self, store: Store, *, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock

    @classmethod
    def for_store(cls, store: Store | str | None = None, *, clock: Clock = utcnow) -> Operations:
        """The service on ``store`` (a Store, a URL, or None for the default store)."""
        return cls(resolve_store(store), clock=clock)

    # -- starting runs -------------------------------------------------------------------

    def start(
        self,
        flow: Flow[Any, Any] | str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        listeners: Sequence[Listener] = (),
        background: bool = False,
    ) -> RunHandle:
        """Run ``flow`` (a Flow, or a target ``path/file.py:name`` / ``module:name``)
        here, now: in this thread until it ends or waits, or on a background thread.

        What the flow starts, submits or sends without naming a store lands in this
        store. Raises ``DefinitionError`` (a target that does not load),
        ``ParameterError``, ``SerializationError`` before anything is written.
        """
        return execute_new(
            self._flow(flow),
            tuple(args),
            dict(kwargs or {}),
            store=self.store,
            listeners=listeners,
            background=background,
            by=by,
        )

    def submit(
        self,
        flow: Flow[Any, Any] | str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        tags: Sequence[str] | None = None,
        by: str | None = None,
    ) -> Submitted:
        """Put a pending run of ``flow`` in the queue for a worker. ``queue``,
        ``priority``, ``idempotency_key`` and ``tags`` override the flow's options.

        Raises ``IdempotencyConflictError`` (the key names a run with other parameters),
        ``DefinitionError``, ``ParameterError``, ``SerializationError``,
        ``RunStateError`` (a flow workers cannot import), writing nothing.
        """
        chosen = self._flow(flow)
        changes: dict[str, Any] = {
            "queue": queue,
            "priority": priority,
            "idempotency_key": idempotency_key,
            "tags": None if tags is None else tuple(tags),
        }
        changes = {name: value for name, value in changes.items() if value is not None}
        if changes:
            chosen = chosen.with_options(**changes)
        run, created = enqueue(
            chosen, tuple(args), dict(kwargs or {}), store=self.store, by=by, now=self.clock()
        )
        return Submitted(run=run, created=created)

    def resume(
        self,
        run_id: str,
        *,
        by: str | None = None,
        listeners: Sequence[Listener] = (),
        background: bool = False,
    ) -> RunHandle:
        """Resume an unfinished run here by replay (completed steps are not run again);
        a completed run's handle comes back at once. Raises ``RunNotFoundError``;
        ``RunStateError`` when it failed or was cancelled, or runs elsewhere."""
        return resume(run_id, store=self.store, listeners=listeners, background=background, by=by)

    def retry(
        self,
        run_id: str,
        *,
        from_step: str | None = None,
        by: str | None = None,
        listeners: Sequence[Listener] = (),
        background: bool = False,
    ) -> RunHandle:
        """Retry a failed run here by replay: completed steps keep their results, the
        failed step and what follows run again (``from_step`` also re-runs that step and
        the later ones). Raises ``RunNotFoundError``; ``RunStateError`` when it was
        cancelled, runs elsewhere, or has no step ``from_step``."""
        return resume(
            run_id,
            store=self.store,
            listeners=listeners,
            background=background,
            retry_failed=True,
            from_step=from_step,
            by=by,
        )

    def requeue(self, run_id: str, *, by: str | None = None) -> RunChange:
        """Hand a failed run back to its queue (pending) for a worker to retry it by
        replay. Raises ``RunNotFoundError``; ``RunStateError`` (nothing written) unless it
        is failed."""
        before = self.store.get_run(run_id)
        if not self.store.requeue_run(run_id, now=self.clock(), message=REQUEUED, by=by):
            state = self.store.get_run(run_id).state.value
            raise RunStateError(
                f"run {run_id} is {state}, not failed; only failed runs can be retried"
            )
        return RunChange(before=before, after=self.store.get_run(run_id))

    # -- stopping runs -------------------------------------------------------------------

    def cancel(self, run_id: str, *, reason: str | None = None, by: str | None = None) -> RunChange:
        """Cancel a run and, first, its unfinished child runs. A process executing it
        stops at its next step boundary; a waiting or paused one is unwound by a worker
        (its ``finally`` blocks, handlers and compensations run).

        Atomic: a run that completes meanwhile keeps its completion. Raises
        ``RunNotFoundError``; ``RunStateError`` (nothing written) if it already ended.
        """
        before = self.store.get_run(run_id)
        if before.state.is_final:
            raise already_ended(before, "cancel")
        children = self.store.list_runs(RunFilter(parent_run_id=run_id, limit=MAX_CHILDREN))
        for child in children:
            if not child.state.is_final:
                with contextlib.suppress(RunStateError):  # it ended meanwhile: nothing to do
                    self.cancel(child.run_id, reason=f"parent run {run_id} cancelled", by=by)
        event = EventRecord(
            run_id=run_id, at=self.clock(), kind="run", state="cancelled", message=reason, by=by
        )
        after = self.store.cancel_run(run_id, event=event)
        running_here = executions().get(run_id)
        if running_here is not None:
            running_here.cancelled.set()
        return RunChange(before=before, after=after)

    def pause(self, run_id: str, *, reason: str | None = None, by: str | None = None) -> RunChange:
        """Pause a run: a pending or waiting one at once, a running one at its next step
        boundary; no worker takes it until it is unpaused. Raises ``RunNotFoundError``;
        ``RunStateError`` (nothing written) if it cannot be paused."""
        return self._set_paused(run_id, True, reason=reason, by=by)

    def unpause(
        self, run_id: str, *, reason: str | None = None, by: str | None = None
    ) -> RunChange:
        """Put a paused run back in its queue (pending): a worker resumes it by replay.
        Raises ``RunNotFoundError``; ``RunStateError`` (nothing written) if it is not
        paused."""
        return self._set_paused(run_id, False, reason=reason, by=by)

    def _set_paused(
        self, run_id: str, paused: bool, *, reason: str | None, by: str | None
    ) -> RunChange:
        before = self.store.get_run(run_id)
        verb = "paused" if paused else "unpaused"
        event = EventRecord(
            run_id=run_id,
            at=self.clock(),
            kind="run",
            state="paused" if paused else "pending",
            message=verb + (f": {reason}" if reason else ""),
            by=by,
        )
        if not self.store.set_paused(run_id, paused=paused, event=event):
            what = "pending, waiting or running" if paused else "paused"
            state = self.store.get_run(run_id).state.value
            raise RunStateError(f"run {run_id} is {state}; only a {what} run can be {verb}")
        return RunChange(before=before, after=self.store.get_run(run_id))

    # -- what runs wait for --------------------------------------------------------------

    def answer(
        self,
        run_id: str,
        name: str,
        data: Any = None,
        *,
        by: str | None = None,
        role: str | None = None,
    ) -> InputAnswer:
        """Answer the run's input ``name`` with ``data``, checked against its schema; the
        first answer wins and makes the run due. ``by`` and ``role`` are taken as
        declared. Raises ``RunNotFoundError``; ``RunStateError`` (the run ended);
        ``InputError`` (recording nothing) when the run does not wait for it, the answer
        does not fit the schema, the role may not answer, or someone answered first."""
        return record_answer(
            self.store, run_id, name, data, by=by, role=role, reject=None, at=self.clock()
        )

    def reject(
        self,
        run_id: str,
        name: str,
        reason: str,
        *,
        by: str | None = None,
        role: str | None = None,
    ) -> InputAnswer:
        """Reject the run's input ``name``: the flow gets ``InputRejected`` with
        ``reason``. Raises as ``answer`` does."""
        return record_answer(
            self.store, run_id, name, None, by=by, role=role, reject=reason, at=self.clock()
        )

    def send_event(
        self,
        name: str,
        data: Any = None,
        *,
        key: str | None = None,
        run_id: str | None = None,
        by: str | None = None,
    ) -> SentEvent:
        """Send the event ``name`` (to every run waiting for it, or to ``run_id`` only);
        it is stored first, so a run that reaches its wait later still gets it. Returns
        it with its id. Raises ``SerializationError`` (``data`` is not JSON);
        ``RunNotFoundError``, ``RunStateError`` when ``run_id`` is unknown or ended."""
        event = SentEvent(
            name=name, payload=dumps(data), sent_at=self.clock(), key=key, run_id=run_id, by=by
        )
        return self.store.send_event(event)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _flow(flow: Flow[Any, Any] | str) -> Flow[Any, Any]:
        if isinstance(flow, str):
            loaded: Flow[Any, Any] = load_target(flow)
            return loaded
        return flow


def cancel(
    run_id: str,
    *,
    store: Store | str | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> RunRecord:
    """Mark a run cancelled (``Operations.cancel`` on ``store`` or the default store);
    returns the cancelled record. Raises ``RunNotFoundError``; ``RunStateError`` if the
    run already ended."""
    return Operations.for_store(store).cancel(run_id, reason=reason, by=by).after


def pause(
    run_id: str,
    *,
    store: Store | str | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> RunRecord:
    """Pause a run (``Operations.pause``): a pending or waiting one at once, a running
    one at its next step boundary. Raises ``RunNotFoundError``; ``RunStateError``."""
    return Operations.for_store(store).pause(run_id, reason=reason, by=by).after


def unpause(
    run_id: str,
    *,
    store: Store | str | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> RunRecord:
    """Put a paused run back in its queue (``Operations.unpause``). Raises
    ``RunNotFoundError``; ``RunStateError`` if it is not paused."""
    return Operations.for_store(store).unpause(run_id, reason=reason, by=by).after
