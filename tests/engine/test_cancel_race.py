"""A cancel racing a run's completion: a completion once recorded is never overwritten
(cancel is a compare-and-set on the state, not a blind write of a stale record)."""

from __future__ import annotations

import threading

import legato
from legato import flow, task
from legato.errors import RunStateError
from legato.states import RunState


@task
def add(a: int, b: int) -> int:
    return a + b


@flow
def quick(n: int) -> int:
    total = add(n, 1)
    return total


def test_a_cancel_racing_completion_never_overwrites_a_completed_run(store) -> None:
    outcomes = {"refused": 0, "accepted": 0}
    for n in range(150):
        handle = quick.start(n)
        go = threading.Event()

        def cancel(run_id: str = handle.run_id, go: threading.Event = go) -> None:
            go.wait()
            try:
                legato.cancel(run_id, reason="race")
                outcomes["accepted"] += 1
            except RunStateError:
                outcomes["refused"] += 1

        canceller = threading.Thread(target=cancel)
        canceller.start()
        go.set()
        canceller.join()
        try:
            handle.result(timeout=10)
        except legato.Cancelled:
            pass
        final = store.get_run(handle.run_id)
        states = [e.state for e in store.get_events(handle.run_id) if e.kind == "run"]
        if "completed" in states:
            assert "cancelled" not in states[states.index("completed") :], (n, states)
            assert final.state is RunState.COMPLETED, (n, final.state)
            assert legato.get_run(handle.run_id).result() == n + 1
        else:
            assert final.state is RunState.CANCELLED, (n, states)
    assert sum(outcomes.values()) == 150
    assert outcomes["refused"] > 0, "no cancel came after a completion: the race was not run"
