"""The contract of ``search_runs`` (``RunSearchStore``) on every backend: filters, text
search and keyset pages, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from legato.errors import StoreError
from legato.records import RunRecord
from legato.states import RunState
from legato.store.run_search import RunPosition, RunQuery, RunSearchStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add(store, run_id: str, minute: int, **fields) -> RunRecord:
    fields.setdefault("flow_name", "orders")
    fields.setdefault("state", RunState.PENDING)
    run = RunRecord(run_id=run_id, created_at=T0 + timedelta(minutes=minute), **fields)
    store.create_run(run)
    return run


def ids(store, **query) -> list[str]:
    return [run.run_id for run in store.search_runs(RunQuery(**query))]


def test_every_backend_searches_runs(store):
    assert isinstance(store, RunSearchStore)


def test_runs_come_newest_first_with_the_id_breaking_ties(store):
    add(store, "a", 1)
    add(store, "c", 2)
    add(store, "b", 2)
    assert ids(store) == ["c", "b", "a"]


def test_filters_by_flow_states_tag_and_parent_all_hold_together(store):
    add(store, "r1", 1, tags=("eu", "nightly"))
    add(store, "r2", 2, state=RunState.FAILED, tags=("eu",))
    add(store, "r3", 3, flow_name="billing", tags=("eu",))
    add(store, "r4", 4, state=RunState.COMPLETED, parent_run_id="r1")
    add(store, "r5", 5, tags=("eunuch",))
    assert ids(store, flow_name="orders") == ["r5", "r4", "r2", "r1"]
    assert ids(store, states=(RunState.FAILED, RunState.COMPLETED)) == ["r4", "r2"]
    assert ids(store, tag="eu") == ["r3", "r2", "r1"]  # a whole tag, not a prefix
    assert ids(store, tag="eu", flow_name="orders", states=(RunState.PENDING,)) == ["r1"]
    assert ids(store, roots_only=True, states=(RunState.COMPLETED,)) == []


def test_since_and_until_include_both_ends(store):
    for minute in range(5):
        add(store, f"r{minute}", minute)
    got = ids(store, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert got == ["r3", "r2", "r1"]


def test_text_is_found_in_run_id_flow_and_parameters_ignoring_ascii_case(store):
    add(store, "01abc", 1, params='{"customer": "ACME Corp"}')
    add(store, "02def", 2, flow_name="Invoices")
    add(store, "03ghi", 3, params='{"note": "100%_done"}')
    assert ids(store, text="acme") == ["01abc"]
    assert ids(store, text="INVOICE") == ["02def"]
    assert ids(store, text="02D") == ["02def"]
    assert ids(store, text="%_") == ["03ghi"]  # LIKE's own characters match literally
    assert ids(store, text="_") == ["03ghi"]
    assert ids(store, text="nothing") == []


def test_pages_follow_each_other_without_gaps_or_repeats(store):
    for n in range(7):
        add(store, f"r{n}", n // 2)  # pairs share a creation time
    seen: list[str] = []
    after = None
    while True:
        page = store.search_runs(RunQuery(limit=3, after=after))
        seen += [run.run_id for run in page]
        if len(page) < 3:
            break
        after = RunPosition(created_at=page[-1].created_at, run_id=page[-1].run_id)
    assert seen == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"]


def test_a_naive_time_in_the_query_is_a_store_error(store):
    with pytest.raises(StoreError, match="time zone|UTC"):
        store.search_runs(RunQuery(since=datetime(2026, 1, 1)))


def test_runs_carrying_every_one_of_several_tags_are_found(store):
    add(store, "r1", 1, tags=("deployment:nightly", "eu"))
    add(store, "r2", 2, tags=("deployment:nightly",))
    add(store, "r3", 3, tags=("deployment:nightly-eu", "eu"))
    assert ids(store, tags=("deployment:nightly",)) == ["r2", "r1"]
    assert ids(store, tag="eu", tags=("deployment:nightly",)) == ["r1"]
    assert ids(store, tags=("deployment:nightly", "eu")) == ["r1"]
