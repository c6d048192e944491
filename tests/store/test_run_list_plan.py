"""The run list filtered by flow and state (the API's filtered page) reads one ordered
index range: its cost does not grow with the flow's other runs."""

from __future__ import annotations

from pathlib import Path

from legato.states import RunState
from legato.store import SqliteStore
from legato.store.run_search import ORDER, RunQuery, _conditions


def test_a_page_filtered_by_flow_and_state_is_one_index_range_on_sqlite(tmp_path: Path):
    store = SqliteStore(tmp_path / "legato.db")
    try:
        query = RunQuery(flow_name="orders", states=(RunState.FAILED,), limit=51)
        conditions, params = _conditions(query, store.placeholder)
        sql = store._q.select_runs + " WHERE " + " AND ".join(conditions) + ORDER
        plan = store._fetch("explain", "EXPLAIN QUERY PLAN " + sql, [*params, 51])
        details = " ".join(str(row[-1]) for row in plan)
        assert "USING INDEX runs_by_flow_state (flow_name=? AND state=?)" in details
        assert "TEMP B-TREE" not in details  # no sort: the index gives newest first
    finally:
        store.close()
