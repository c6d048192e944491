"""Durable waits: a flow that waits holds no worker and no thread.

``sleep(duration)`` and ``sleep_until(when)`` are steps (``sleep#0``, ...). The first
time the flow reaches one, its wake-up time is recorded with the step. A wait due within
``INLINE_WAIT`` seconds is simply slept through. A longer one suspends the run: the flow
stops, the run is recorded ``waiting`` with its wake-up time, and its thread and worker
slot are freed. When the time comes a worker claims the run and resumes it by replay; the
wait step then completes and the flow carries on after it.

A child flow that waits makes its parent wait too: the child is left waiting on its own
(a worker resumes it when it is due), and the parent is recorded ``waiting`` for it
(``waiting_for`` is ``records.waits_for_child(child_run_id)``). When the child ends, the store
makes the parent due, and the parent's replay returns the child's result or raises its
error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from legato.clock import utcnow
from legato.engine.context import current_run, current_step
from legato.engine.retries import to_seconds
from legato.errors import UsageError
from legato.records import CHILD_PREFIX
from legato.store.base import Store

INLINE_WAIT = 1.0  # seconds: shorter waits are slept through instead of suspending


def describe_wait(waiting_for: str | None) -> str:
    """What a waiting run waits for, in words: its timer, an event, an input, a child."""
    if waiting_for is None:
        return "its timer"
    if waiting_for.startswith("input:"):
        return f"input {waiting_for.removeprefix('input:')!r}"
    if waiting_for.startswith(CHILD_PREFIX):
        return f"child run {waiting_for.removeprefix(CHILD_PREFIX)}"
    return f"event {waiting_for!r}"


class Suspended(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """Raised through the flow body when it must wait: the run is recorded ``waiting``.

    A ``BaseException`` so that a flow's ``except Exception`` does not swallow it.
    """

    def __init__(
        self,
        run_id: str,
        wake_at: datetime | None,
        waiting_for: str | None = None,
        arrived: Callable[[], bool] | None = None,
    ) -> None:
        self.run_id = run_id
        self.wake_at = wake_at
        self.waiting_for = waiting_for
        # Whether what the wait needs (with its own match and key) came meanwhile.
        self.arrived = arrived
        what = describe_wait(waiting_for)
        until = f" (until {wake_at.isoformat()})" if wake_at else ""
        super().__init__(f"run {run_id} waits for {what}{until}")


def sleep(duration: float | timedelta) -> None:
    """Wait ``duration`` (seconds or a timedelta) durably: across crashes and restarts,
    holding no thread or worker while it waits. Outside a flow, just sleeps."""
    seconds = to_seconds(duration, option="duration", where="legato.sleep()")
    run = current_run.get()
    if run is None or current_step.get() is not None:
        import time

        time.sleep(seconds)
        return
    run.wait_until(lambda: utcnow() + timedelta(seconds=seconds))


def sleep_until(when: datetime) -> None:
    """Wait durably until ``when`` (an aware datetime). Outside a flow, just sleeps."""
    if not isinstance(when, datetime) or when.utcoffset() is None:
        raise UsageError(
            f"legato.sleep_until({when!r}) needs an aware datetime, e.g. "
            "datetime(2030, 1, 1, tzinfo=timezone.utc)"
        )
    run = current_run.get()
    if run is None or current_step.get() is not None:
        import time

        time.sleep(max(0.0, (when - utcnow()).total_seconds()))
        return
    run.wait_until(lambda: when)


_NO_DEFAULT: Any = object()


def wait_for_event(
    name: str,
    *,
    match: dict[str, Any] | None = None,
    key: str | None = None,
    timeout: float | timedelta | None = None,
    default: Any = _NO_DEFAULT,
) -> Any:
    """Wait durably for the event ``name`` and return its payload.

    Events are stored: the wait takes the oldest matching event sent since the run
    started that no earlier wait of this run took, so an event sent before the flow gets
    here is not lost. ``match`` keeps events whose payload has those entries; ``key``
    those sent with that key. With ``timeout``, the wait ends then: it returns
    ``default`` if one was given, else raises ``WaitTimeout`` (never confused with an
    event whose payload is ``None``). While it waits the run holds nothing; sending the
    event makes it due, and a worker resumes it by replay.
    """
    if not isinstance(name, str) or not name:
        raise UsageError(f"wait_for_event(name={name!r}): the name must be a non-empty string")
    if match is not None and not isinstance(match, dict):
        raise UsageError(f"wait_for_event({name!r}, match={match!r}): match must be a dict")
    seconds = None if timeout is None else to_seconds(timeout, option="timeout", where=name)
    run = current_run.get()
    if run is None or current_step.get() is not None:
        raise UsageError(
            f"wait_for_event({name!r}) waits inside a running flow: call it in a @flow "
            "function, not in a task or outside a flow"
        )
    return run.wait_for_event(name, match=match, key=key, timeout=seconds, default=default)


def send_event(
    name: str,
    data: Any = None,
    *,
    key: str | None = None,
    run_id: str | None = None,
    by: str | None = None,
    store: Store | str | None = None,
) -> int:
    """Send an event to the flows waiting for ``name`` (or to the run ``run_id`` only);
    returns its id. The event is stored first, so a run that reaches its wait later still
    finds it. Raises ``RunStateError`` when ``run_id`` has already ended."""
    from legato.engine.context import resolve_store
    from legato.records import SentEvent
    from legato.serialization import dumps

    opened = resolve_store(store)
    sent = opened.send_event(
        SentEvent(name=name, payload=dumps(data), sent_at=utcnow(), key=key, run_id=run_id, by=by)
    )
    assert sent.id is not None  # the store gives every event it keeps an id
    return sent.id
