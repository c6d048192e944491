"""Whether a run may go on: checked at every step boundary and while it sleeps.

A run stops when it is cancelled (here or in the store), passes its deadline, loses its
lease, is paused by an operator, or its worker stops. A failure handler or compensation
(``cleaning_up``) runs despite a cancel or a timeout.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from legato.engine.context import cleaning_up
from legato.engine.deadlines import timed_out
from legato.engine.signals import RunPaused, RunReleased
from legato.errors import Cancelled, LeaseLostError
from legato.states import RunState

if TYPE_CHECKING:
    from legato.engine.runner import RunExecution

CANCEL_POLL_SECONDS = 1.0  # how often a running flow looks for a cancel made elsewhere


def check_live(ex: RunExecution, *, poll: bool = False) -> None:
    """Raise if the run was cancelled or timed out, its lease was lost, or its worker is
    stopping; ``poll`` reads the run's state from the store now, not at the next poll."""
    root = ex.root
    if root.fence is not None and ex.recorder.is_lost(root.fence.run_id):
        root.lost.set()
    if root.lost.is_set():
        raise LeaseLostError(root.run_id, root.fence.epoch if root.fence else 0)
    if root.released.is_set():
        raise ex.lifecycle.stopping_with(RunReleased(root.run_id))
    if cleaning_up.get():
        return  # failure handlers and compensations run despite a cancel or timeout
    if poll:
        ex.next_poll = 0.0
    if ex.cancelled.is_set() or (ex.parent is not None and ex.parent.cancelled.is_set()):
        raise _cancelled(ex)
    now = time.monotonic()
    if ex.deadline is not None and now > ex.deadline and not ex.lifecycle.replay_only:
        raise timed_out(ex, resumed=False)
    if now >= ex.next_poll:
        ex.next_poll = now + CANCEL_POLL_SECONDS
        state = ex.store.get_run(ex.run_id).state
        if state is RunState.CANCELLED:
            raise _cancelled(ex)
        if state is RunState.PAUSED and ex.parent is None:
            raise ex.lifecycle.stopping_with(RunPaused(ex.run_id))


def sleep_live(ex: RunExecution, seconds: float) -> None:
    """Sleep ``seconds``, checking liveness at least every ``CANCEL_POLL_SECONDS``; a
    cancel wakes it early (raising ``Cancelled``), the deadline too."""
    end = time.monotonic() + seconds
    while True:
        now = time.monotonic()
        left = end - now
        if left <= 0:
            return
        chunk = min(left, CANCEL_POLL_SECONDS)
        if ex.deadline is not None and now < ex.deadline:
            chunk = min(chunk, ex.deadline - now + 0.001)  # wake to fail at the deadline
        if ex.cancelled.wait(chunk):
            ex.lifecycle.cancel_told()
            raise Cancelled(f"run {ex.run_id} was cancelled")
        ex.next_poll = 0.0
        check_live(ex)


def _cancelled(ex: RunExecution) -> Cancelled:
    """The run was cancelled: the flow is told (what it calls now is cleanup)."""
    ex.cancelled.set()
    ex.lifecycle.cancel_told()
    return Cancelled(f"run {ex.run_id} was cancelled")
