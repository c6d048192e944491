"""The Store contract: every backend passes every test here (see conftest.BACKENDS)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from legato.errors import RunNotFoundError, StoreError
from legato.records import (
    CacheRecord,
    Change,
    ErrorInfo,
    EventRecord,
    LogRecord,
    RunFilter,
    RunRecord,
    StepRecord,
)
from legato.states import RunState, StepState
from legato.store import Store

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(run_id: str = "r1", **fields: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "flow_name": "etl",
        "state": RunState.RUNNING,
        "created_at": T0,
    }
    values.update(fields)
    return RunRecord(**values)  # type: ignore[arg-type]


def step(key: str = "fetch#0", seq: int = 0, run_id: str = "r1", **fields: object) -> StepRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "key": key,
        "seq": seq,
        "task_name": key.split("#")[0],
        "state": StepState.COMPLETED,
    }
    values.update(fields)
    return StepRecord(**values)  # type: ignore[arg-type]


def event(state: str = "running", run_id: str = "r1", **fields: object) -> EventRecord:
    values: dict[str, object] = {"run_id": run_id, "at": T0, "kind": "step", "state": state}
    values.update(fields)
    return EventRecord(**values)  # type: ignore[arg-type]


def log(message: str, step_key: str | None = None, run_id: str = "r1") -> LogRecord:
    return LogRecord(run_id=run_id, at=T0, level="INFO", message=message, step_key=step_key)


def cache(key: str = "k", expires_at: datetime | None = None) -> CacheRecord:
    return CacheRecord(
        cache_key=key,
        task_name="fetch",
        result='{"v": 1}',
        serializer="json",
        created_at=T0,
        expires_at=expires_at,
    )


def test_backend_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert "://" in store.url


# -- runs -------------------------------------------------------------------------


def test_create_and_get_run_round_trips_every_field(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    full = RunRecord(
        run_id="r-full",
        flow_name="pipelines.etl",
        state=RunState.FAILED,
        created_at=datetime(2024, 5, 1, 14, 0, 0, 1, tzinfo=plus_two),
        target="pipelines:etl",
        flow_version="v3",
        params='{"day": "2024-05-01"}',
        result="null",
        serializer="pickle",
        error=ErrorInfo(type="builtins.ValueError", message="bad ünïcode", traceback="tb\nline"),
        parent_run_id="r-parent",
        parent_step_key="child#0",
        owner="host:123",
        started_at=at(1),
        finished_at=at(2),
        tags=("nightly", "team:data", ""),
        deadline_at=at(3),
    )
    store.create_run(full)
    got = store.get_run("r-full")
    assert got == full
    assert got.created_at.tzinfo is UTC and got.created_at.hour == 12
    assert isinstance(got.state, RunState)
    assert got.tags == ("nightly", "team:data", "")


def test_create_run_keeps_none_fields_and_defaults(store: Store) -> None:
    minimal = run("r-min")
    store.create_run(minimal)
    got = store.get_run("r-min")
    assert got == minimal
    assert got.error is None and got.started_at is None and got.tags == ()


def test_create_run_with_first_events(store: Store) -> None:
    store.create_run(run(), events=[event("pending", kind="run"), event("running", kind="run")])
    events = store.get_events("r1")
    assert [e.state for e in events] == ["pending", "running"]
    assert all(e.id is not None for e in events)


def test_duplicate_run_id_raises_and_writes_nothing(store: Store) -> None:
    store.create_run(run(flow_name="first"), events=[event("pending")])
    with pytest.raises(StoreError, match="r1.*already exists"):
        store.create_run(run(flow_name="second"), events=[event("second-attempt")])
    assert store.get_run("r1").flow_name == "first"
    assert [e.state for e in store.get_events("r1")] == ["pending"]


def test_create_run_with_an_event_of_an_unknown_run_writes_nothing(store: Store) -> None:
    with pytest.raises(RunNotFoundError, match="ghost"):
        store.create_run(run(), events=[event("pending"), event("x", run_id="ghost")])
    with pytest.raises(RunNotFoundError):
        store.get_run("r1")
    assert store.get_events("r1") == []


def test_get_unknown_run_raises_run_not_found_with_its_id(store: Store) -> None:
    with pytest.raises(RunNotFoundError, match="nope-123") as caught:
        store.get_run("nope-123")
    assert caught.value.run_id == "nope-123"
    assert isinstance(caught.value, StoreError)


def test_reads_of_unknown_run_are_empty(store: Store) -> None:
    assert store.get_steps("nope") == []
    assert store.get_events("nope") == []
    assert store.get_logs("nope") == []


def test_run_record_updates_only_mutable_fields(store: Store) -> None:
    store.create_run(run(params='{"a": 1}', tags=("t",), target="m:f"))
    error = ErrorInfo(type="x.Boom", message="boom")
    update = run(
        flow_name="renamed",
        params="{}",
        tags=(),
        target=None,
        state=RunState.FAILED,
        result="42",
        serializer="pickle",
        error=error,
        owner="h:1",
        started_at=at(1),
        finished_at=at(2),
        deadline_at=at(3),
    )
    store.record([update])
    got = store.get_run("r1")
    assert (got.flow_name, got.params, got.tags, got.target) == ("etl", '{"a": 1}', ("t",), "m:f")
    assert (got.state, got.result, got.serializer, got.error, got.owner) == (
        RunState.FAILED,
        "42",
        "pickle",
        error,
        "h:1",
    )
    assert (got.started_at, got.finished_at, got.deadline_at) == (at(1), at(2), at(3))


# -- record() atomicity -----------------------------------------------------------


def test_batch_with_unknown_run_writes_nothing(store: Store) -> None:
    store.create_run(run())
    batch: list[Change] = [
        step("a#0"),
        event("running"),
        log("hello"),
        cache("k1"),
        run("ghost", state=RunState.COMPLETED),
        step("b#0", seq=1),
    ]
    with pytest.raises(StoreError, match="ghost"):
        store.record(batch)
    assert store.get_steps("r1") == []
    assert store.get_events("r1") == []
    assert store.get_logs("r1") == []
    assert store.get_cached("k1", now=T0) is None
    assert store.get_run("r1").state == RunState.RUNNING


@pytest.mark.parametrize(
    "orphan", [step(run_id="ghost"), event(run_id="ghost"), log("x", run_id="ghost")]
)
def test_rows_of_an_unknown_run_are_refused_atomically(store: Store, orphan: object) -> None:
    store.create_run(run())
    with pytest.raises(RunNotFoundError, match="ghost"):
        store.record([step("a#0"), event("running"), orphan])  # type: ignore[list-item]
    assert store.get_steps("r1") == [] and store.get_events("r1") == []


def test_naive_datetime_is_refused_and_nothing_written(store: Store) -> None:
    store.create_run(run())
    naive = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(StoreError, match="timezone-aware"):
        store.record([step("a#0"), event("running", at=naive)])
    with pytest.raises(StoreError, match="timezone-aware"):
        store.create_run(run("r2", created_at=naive))
    with pytest.raises(StoreError, match="timezone-aware"):
        store.get_cached("k", now=naive)
    assert store.get_steps("r1") == []
    with pytest.raises(RunNotFoundError):
        store.get_run("r2")


def test_unsupported_change_is_refused(store: Store) -> None:
    store.create_run(run())
    with pytest.raises(StoreError, match="accepts RunRecord"):
        store.record([step("a#0"), "not a record"])  # type: ignore[list-item]
    assert store.get_steps("r1") == []


def test_invalid_state_is_refused(store: Store) -> None:
    store.create_run(run())
    with pytest.raises(StoreError):
        store.record([step("a#0", state="bogus")])
    assert store.get_steps("r1") == []


def test_empty_batch_is_a_no_op(store: Store) -> None:
    store.record([])


# -- steps, events, logs ----------------------------------------------------------


def test_step_round_trips_every_field(store: Store) -> None:
    store.create_run(run())
    full = step(
        "fetch#3",
        seq=7,
        state=StepState.FAILED,
        attempts=4,
        started_at=at(1),
        finished_at=at(2.5),
        result='"partial"',
        serializer="pickle",
        error=ErrorInfo(type="t.E", message="m", traceback="tb"),
        child_run_id="child-1",
        cached=True,
        retries_used=3,
        retry_at=at(4),
    )
    store.record([full])
    assert store.get_steps("r1") == [full]
    assert isinstance(store.get_steps("r1")[0].state, StepState)


def test_step_upsert_replaces(store: Store) -> None:
    store.create_run(run())
    store.record([step("a#0", state=StepState.RUNNING, attempts=1, started_at=at(1))])
    done = step("a#0", state=StepState.COMPLETED, attempts=1, result="1", finished_at=at(2))
    store.record([done])
    assert store.get_steps("r1") == [done]
    store.record([step("a#0", state=StepState.RUNNING), step("a#0", result="last")])
    assert [s.result for s in store.get_steps("r1")] == ["last"]


def test_get_steps_is_ordered_by_seq(store: Store) -> None:
    store.create_run(run())
    store.record([step("c#0", seq=2), step("a#0", seq=0)])
    store.record([step("b#0", seq=1), step("d#0", seq=10)])
    assert [s.key for s in store.get_steps("r1")] == ["a#0", "b#0", "c#0", "d#0"]


def test_events_are_appended_in_order_with_increasing_ids(store: Store) -> None:
    store.create_run(run())
    store.create_run(run("r2"))
    store.record([event("a"), event("b", run_id="r2"), event("c")])
    store.record([event("d", id=999, by="alice", message="approved", attempt=2, step_key="x#0")])
    events = store.get_events("r1")
    assert [e.state for e in events] == ["a", "c", "d"]
    ids = [e.id or 0 for e in events]
    assert 0 not in ids and ids == sorted(ids) and len(set(ids)) == 3
    last = events[-1]
    assert (last.by, last.message, last.attempt, last.step_key, last.at) == (
        "alice",
        "approved",
        2,
        "x#0",
        T0,
    )
    assert last.id != 999  # the store assigns ids; a given one is ignored
    assert [e.state for e in store.get_events("r2")] == ["b"]


def test_logs_are_oldest_first_and_filtered_by_step(store: Store) -> None:
    store.create_run(run())
    store.record([log("start"), log("fetching", "fetch#0"), log("parsing", "parse#0")])
    store.record([log("fetched", "fetch#0")])
    assert [x.message for x in store.get_logs("r1")] == ["start", "fetching", "parsing", "fetched"]
    assert [x.message for x in store.get_logs("r1", "fetch#0")] == ["fetching", "fetched"]
    assert store.get_logs("r1", "none#0") == []
    assert store.get_logs("r1")[0] == log("start")


def test_returned_lists_are_copies(store: Store) -> None:
    store.create_run(run())
    store.record([step("a#0"), event("x"), log("m")])
    store.get_steps("r1").clear()
    store.get_events("r1").clear()
    store.get_logs("r1").clear()
    store.list_runs(RunFilter()).clear()
    assert len(store.get_steps("r1")) == len(store.get_events("r1")) == 1
    assert len(store.get_logs("r1")) == len(store.list_runs(RunFilter())) == 1


def test_a_large_batch_is_one_unit(store: Store) -> None:
    store.create_run(run())
    batch = [step(f"t#{i}", seq=i) for i in range(2000)] + [event(str(i)) for i in range(2000)]
    store.record(batch)
    assert len(store.get_steps("r1")) == 2000
    assert [e.state for e in store.get_events("r1")] == [str(i) for i in range(2000)]


# -- list_runs --------------------------------------------------------------------


@pytest.fixture
def runs(store: Store) -> Store:
    store.create_run(run("a", created_at=at(1), state=RunState.COMPLETED))
    store.create_run(run("b", created_at=at(2), flow_name="report"))
    store.create_run(run("c", created_at=at(3), parent_run_id="a", parent_step_key="sub#0"))
    store.create_run(run("d", created_at=at(4), state=RunState.FAILED, flow_name="report"))
    store.create_run(run("e", created_at=at(4), state=RunState.WAITING, parent_run_id="a"))
    return store


def ids(found: list[RunRecord]) -> list[str]:
    return [r.run_id for r in found]


def test_list_runs_is_newest_first(runs: Store) -> None:
    assert ids(runs.list_runs(RunFilter())) == ["e", "d", "c", "b", "a"]


def test_list_runs_filters(runs: Store) -> None:
    assert ids(runs.list_runs(RunFilter(state=RunState.COMPLETED))) == ["a"]
    assert ids(runs.list_runs(RunFilter(states=(RunState.FAILED, RunState.WAITING)))) == ["e", "d"]
    assert ids(runs.list_runs(RunFilter(flow_name="report"))) == ["d", "b"]
    assert ids(runs.list_runs(RunFilter(parent_run_id="a"))) == ["e", "c"]
    assert ids(runs.list_runs(RunFilter(roots_only=True))) == ["d", "b", "a"]
    assert ids(runs.list_runs(RunFilter(flow_name="etl", state=RunState.RUNNING))) == ["c"]
    assert ids(runs.list_runs(RunFilter(flow_name="nope"))) == []


def test_list_runs_limit(runs: Store) -> None:
    assert ids(runs.list_runs(RunFilter(limit=2))) == ["e", "d"]
    assert runs.list_runs(RunFilter(limit=0)) == []


def test_list_runs_sees_state_updates(runs: Store) -> None:
    runs.record([run("b", flow_name="report", state=RunState.CANCELLED)])
    assert ids(runs.list_runs(RunFilter(state=RunState.CANCELLED))) == ["b"]


# -- cache ------------------------------------------------------------------------


def test_cache_round_trip_replace_and_expiry(store: Store) -> None:
    assert store.get_cached("k", now=T0) is None
    entry = cache("k", expires_at=at(10))
    store.record([entry])
    assert store.get_cached("k", now=at(9)) == entry
    assert store.get_cached("k", now=at(10)) is None  # expired at its expiry instant
    assert store.get_cached("k", now=at(11)) is None
    forever = cache("k", expires_at=None)
    store.record([forever])
    assert store.get_cached("k", now=at(10**6)) == forever


def test_cache_accepts_any_aware_now(store: Store) -> None:
    store.record([cache("k", expires_at=at(10))])
    later_elsewhere = at(11).astimezone(timezone(timedelta(hours=-5)))
    assert store.get_cached("k", now=later_elsewhere) is None


# -- concurrency, lifecycle -------------------------------------------------------


def test_concurrent_record_loses_nothing(store: Store) -> None:
    threads, batches = 8, 100
    for t in range(threads):
        store.create_run(run(f"r{t}"))
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(batches):
                store.record(
                    [
                        step(f"s#{i}", seq=i, run_id=f"r{t}"),
                        event(f"{i}.a", run_id=f"r{t}"),
                        event(f"{i}.b", run_id=f"r{t}"),
                    ]
                )
                store.get_steps(f"r{t}") if i % 25 == 0 else None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    all_ids: list[int] = []
    for t in range(threads):
        assert [s.seq for s in store.get_steps(f"r{t}")] == list(range(batches))
        events = store.get_events(f"r{t}")
        expected = [f"{i}.{x}" for i in range(batches) for x in "ab"]
        assert [e.state for e in events] == expected
        all_ids += [e.id for e in events if e.id is not None]
    assert len(set(all_ids)) == threads * batches * 2


def test_close_is_idempotent_and_later_use_raises(store: Store) -> None:
    store.create_run(run())
    store.close()
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.get_run("r1"),
        lambda: store.record([event("x")]),
        lambda: store.create_run(run("r2")),
        lambda: store.get_steps("r1"),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="closed"):
            call()
