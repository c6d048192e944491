"""A flow's deadline (``@flow(timeout=...)``): fixed when the run first starts, kept in
the run record, so waits, pauses, crashes and resumes do not move it."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from legato.clock import utcnow
from legato.errors import FlowTimeoutError

if TYPE_CHECKING:
    from legato.engine.runner import RunExecution


def arm_deadline(ex: RunExecution) -> None:
    """Fix the run's deadline when it first starts (the flow's timeout from now) and
    record it; set ``ex.deadline`` (``time.monotonic()``) from it. A retried failed run
    starts with none, so it gets a new one here."""
    timeout = ex.flow.options.timeout
    if ex.run.deadline_at is None and timeout is not None:
        deadline_at = utcnow() + timedelta(seconds=timeout)
        ex.record_run(
            replace(ex.run, deadline_at=deadline_at),
            message=f"deadline {deadline_at.isoformat()} (timeout of {timeout:g}s)",
        )
    if ex.run.deadline_at is not None:
        left = (ex.run.deadline_at - utcnow()).total_seconds()
        ex.deadline = time.monotonic() + left


def timed_out(ex: RunExecution, *, resumed: bool) -> FlowTimeoutError:
    """The run passed its deadline: at a step boundary, or before it was resumed."""
    deadline_at = ex.run.deadline_at
    assert deadline_at is not None
    timeout = ex.flow.options.timeout
    limit = f"timeout of {timeout:g}s" if timeout is not None else "timeout"
    rule = "counted from the run's start, across waits, pauses and crashes"
    if not resumed:
        return FlowTimeoutError(
            f"run {ex.run_id} of flow {ex.flow_name!r} ran past its {limit} "
            f"({rule}): its deadline was {deadline_at.isoformat()}. Raise "
            "@flow(timeout=...) if the flow needs longer"
        )
    late = (utcnow() - deadline_at).total_seconds()
    return FlowTimeoutError(
        f"run {ex.run_id} of flow {ex.flow_name!r} passed its deadline at "
        f"{deadline_at.isoformat()} ({limit}, {rule}) and was resumed {late:.3g}s "
        "after it, so it fails without running further. `legato runs retry "
        f"{ex.run_id}` runs it again with a new deadline; raise @flow(timeout=...) "
        "if the flow needs longer"
    )
