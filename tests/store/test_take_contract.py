"""``take_run`` is a compare-and-set on the epoch the caller read, on every backend: of
several resumes that judged a run free from one reading, exactly one takes it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from legato.records import RunRecord
from legato.states import RunState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def crashed_direct_call(store, run_id: str = "r1") -> RunRecord:
    """A run a foreground process was executing when it died: running, no lease."""
    store.submit_run(
        RunRecord(run_id=run_id, flow_name="etl", state=RunState.PENDING, created_at=T0)
    )
    taken = store.take_run(run_id, owner="host:1", epoch=0, now=T0, message="started")
    assert taken is not None and taken.lease_expires_at is None
    return taken


def test_a_second_take_from_the_same_reading_gets_nothing_and_writes_nothing(store) -> None:
    seen = crashed_direct_call(store)
    events = len(store.get_events("r1"))

    first = store.take_run("r1", owner="host:2", epoch=seen.lease_epoch, now=T0, message="a")
    second = store.take_run("r1", owner="host:3", epoch=seen.lease_epoch, now=T0, message="b")

    assert first is not None and first.owner == "host:2"
    assert first.lease_epoch == seen.lease_epoch + 1
    assert second is None
    now = store.get_run("r1")
    assert now.owner == "host:2" and now.lease_epoch == first.lease_epoch
    assert len(store.get_events("r1")) == events + 1


def test_takes_racing_from_one_reading_have_exactly_one_winner(store) -> None:
    seen = crashed_direct_call(store)
    go = threading.Barrier(8)
    won: list[RunRecord | None] = []

    def take(n: int) -> None:
        go.wait()
        won.append(
            store.take_run("r1", owner=f"host:{n}", epoch=seen.lease_epoch, now=T0, message="m")
        )

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [run for run in won if run is not None]
    assert len(won) == 8 and len(winners) == 1
    assert store.get_run("r1").owner == winners[0].owner
