"""When things fail: ``on_failure`` handlers and compensation (sagas).

Both run as durable steps with keys derived from what they handle, so a replay finds
them recorded and never runs them twice:

- ``fetch#0/on_failure#0``: the first handler of the failed step ``fetch#0``;
- ``/on_failure#0``: the first handler of the flow;
- ``charge#0/compensate``: the compensation of the completed step ``charge#0``.

A handler or compensation that fails itself is recorded and reported as a note on the
original error, which stays the error the run fails with.

A handler runs for every failure: when a run is retried (``runs retry``, with or without
``--from``, or a flow attempt under its own ``retries``) and fails again, its handlers
run again. Only
a resume of a run that stopped while it was unwinding (``replay_only``) replays the
handlers already recorded, since that is the same failure.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from legato.engine.definitions import Task
    from legato.engine.runner import RunExecution


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    """What an ``on_failure`` handler receives."""

    run_id: str
    flow_name: str
    step_key: str | None  # None when the flow itself failed
    task_name: str | None
    error_type: str  # module.Qualname
    message: str
    traceback: str
    attempts: int


def failure_of(
    ex: RunExecution,
    exc: BaseException,
    *,
    step_key: str | None,
    task_name: str | None,
    attempts: int,
) -> Failure:
    kind = type(exc)
    return Failure(
        run_id=ex.run_id,
        flow_name=ex.flow_name,
        step_key=step_key,
        task_name=task_name,
        error_type=f"{kind.__module__}.{kind.__qualname__}",
        message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
        attempts=attempts,
    )


def run_handlers(
    ex: RunExecution,
    handlers: Sequence[Task[Any, Any]],
    failure: Failure,
    *,
    key_prefix: str,
    original: BaseException,
) -> None:
    """Run each handler as a durable step; a handler's own failure becomes a note on
    ``original`` (the error the caller keeps raising).

    Each failure gets its handlers run: a handler recorded for an earlier failure of the
    run is run again, and replayed only when resuming the unwinding of this failure."""
    for index, handler in enumerate(handlers):
        key = f"{key_prefix}/on_failure#{index}"
        try:
            ex.call_derived(handler, key, (failure,), replay=ex.lifecycle.replay_only)
        except Exception as exc:  # noqa: BLE001 - reported on the original error
            original.add_note(
                f"legato: on_failure handler {handler.name!r} ({key}) also failed: "
                f"{type(exc).__name__}: {exc}"
            )


def compensate(ex: RunExecution, original: BaseException) -> None:
    """Run the compensations of the run's completed steps, newest first."""
    for key, undo, value in sorted(ex.compensable.values(), key=lambda c: -ex.seq_of(c[0])):
        try:
            ex.call_derived(undo, f"{key}/compensate", (value,))
        except Exception as exc:  # noqa: BLE001 - reported on the original error
            original.add_note(
                f"legato: compensation {undo.name!r} of step {key} failed: "
                f"{type(exc).__name__}: {exc}"
            )


CompensateFn = Callable[[Any], Any]
