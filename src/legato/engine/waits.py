"""Durable waits: a flow that waits holds no worker and no thread.

``sleep(duration)`` and ``sleep_until(when)`` are steps (``sleep#0``, ...). The first
time the flow reaches one, its wake-up time is recorded with the step. A wait due within
``INLINE_WAIT`` seconds is simply slept through. A longer one suspends the run: the flow
stops, the run is recorded ``waiting`` with its wake-up time, and its thread and worker
slot are freed. When the time comes a worker claims the run and resumes it by replay; the
wait step then completes and the flow carries on after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from legato.clock import utcnow
from legato.engine.context import current_run, current_step
from legato.engine.retries import to_seconds
from legato.errors import LegatoError

INLINE_WAIT = 1.0  # seconds: shorter waits are slept through instead of suspending


class Suspended(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """Raised through the flow body when it must wait: the run is recorded ``waiting``.

    A ``BaseException`` so that a flow's ``except Exception`` does not swallow it.
    """

    def __init__(self, run_id: str, wake_at: datetime) -> None:
        self.run_id = run_id
        self.wake_at = wake_at
        super().__init__(f"run {run_id} waits until {wake_at.isoformat()}")


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
        raise LegatoError(
            f"legato.sleep_until({when!r}) needs an aware datetime, e.g. "
            "datetime(2030, 1, 1, tzinfo=timezone.utc)"
        )
    run = current_run.get()
    if run is None or current_step.get() is not None:
        import time

        time.sleep(max(0.0, (when - utcnow()).total_seconds()))
        return
    run.wait_until(lambda: when)
