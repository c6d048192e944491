"""Durable waits, as the flow calls them: ``sleep``, ``sleep_until``, ``wait_for_event``
(and ``wait_for_input`` in ``engine/inputs.py``), plus ``send_event``.

Each builds the typed spec of what it waits for (``records.TimerWait``, ``EventWait``,
...) and hands it to the running flow's runtime (``context.Runtime.wait``); the one wait
mechanism is ``engine/waiting.py``.

``sleep(duration)`` and ``sleep_until(when)`` are steps (``sleep#0``, ...). The first
time the flow reaches one, its wake-up time is recorded with the step. A wait due within
``INLINE_WAIT`` seconds is simply slept through. A longer one suspends the run: the flow
stops, the run is recorded ``waiting`` with its wake-up time, and its thread and worker
slot are freed. When the time comes a worker claims the run and resumes it by replay; the
wait step then completes and the flow carries on after it.

A child flow that waits makes its parent wait too: the child is left waiting on its own
(a worker resumes it when it is due), and the parent is recorded ``waiting`` for it
(``records.ChildWait``). When the child ends, the store makes the parent due, and the
parent's replay returns the child's result or raises its error.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from legato.clock import utcnow
from legato.engine.context import NO_DEFAULT, current_run, current_step, resolve_store
from legato.engine.retries import to_seconds
from legato.errors import UsageError
from legato.records import EventWait, SentEvent, TimerWait, parse_wait
from legato.serialization import dumps
from legato.store.base import Store

_NO_DEFAULT: Any = NO_DEFAULT  # the name older imports use


def describe_wait(waiting_for: str | None) -> str:
    """What a waiting run waits for, in words: its timer, an event, an input, a child."""
    return parse_wait(waiting_for).describe()


def sleep(duration: float | timedelta) -> None:
    """Wait ``duration`` (seconds or a timedelta) durably: across crashes and restarts,
    holding no thread or worker while it waits. Outside a flow, just sleeps."""
    seconds = to_seconds(duration, option="duration", where="legato.sleep()")
    run = current_run.get()
    if run is None or current_step.get() is not None:
        time.sleep(seconds)
        return
    run.wait(TimerWait(wake_at=utcnow() + timedelta(seconds=seconds)), timeout=None, default=None)


def sleep_until(when: datetime) -> None:
    """Wait durably until ``when`` (an aware datetime). Outside a flow, just sleeps."""
    if not isinstance(when, datetime) or when.utcoffset() is None:
        raise UsageError(
            f"legato.sleep_until({when!r}) needs an aware datetime, e.g. "
            "datetime(2030, 1, 1, tzinfo=timezone.utc)"
        )
    run = current_run.get()
    if run is None or current_step.get() is not None:
        time.sleep(max(0.0, (when - utcnow()).total_seconds()))
        return
    run.wait(TimerWait(wake_at=when), timeout=None, default=None)


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
    return run.wait(EventWait(name=name, match=match, key=key), timeout=seconds, default=default)


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
    opened = resolve_store(store)
    sent = opened.send_event(
        SentEvent(name=name, payload=dumps(data), sent_at=utcnow(), key=key, run_id=run_id, by=by)
    )
    assert sent.id is not None  # the store gives every event it keeps an id
    return sent.id
