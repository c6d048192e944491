"""The web UI in a real browser: runs update live, a run's graph and timeline, and an
answer given through the form generated from the question's schema."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import ui_flows  # noqa: E402

from legato.states import RunState  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_run_goes_from_running_to_completed_without_a_reload(
    sqlite_store, server, page, screenshot
):
    ui_flows.GATE.clear()
    handle = ui_flows.gated_report.start(days=4)
    page.goto(server + "/")
    row = page.locator(f'tr[data-run="{handle.run_id}"]')
    row.wait_for()
    assert row.get_attribute("data-state") == "running"
    page.evaluate("window.__not_reloaded = true")
    ui_flows.GATE.set()
    page.locator(f'tr[data-run="{handle.run_id}"][data-state="completed"]').wait_for()
    assert page.evaluate("window.__not_reloaded") is True
    screenshot(page, "runs")


def test_a_run_page_shows_its_graph_timeline_result_and_history(
    sqlite_store, server, page, screenshot
):
    ui_flows.GATE.set()
    handle = ui_flows.gated_report.start(days=6)
    assert handle.result(timeout=20) == {"days": 6, "total": 30}
    page.goto(f"{server}/ui/#/runs/{handle.run_id}")
    page.locator("#graph svg g.node").first.wait_for()
    nodes = page.locator("#graph svg g.node")
    labels = [nodes.nth(i).get_attribute("data-key") for i in range(nodes.count())]
    assert labels[0] == "hold#0" and any(label.startswith("fetch×6") for label in labels)
    assert (
        page.locator('#graph g.node[data-key="flaky_total#0"]').get_attribute("data-state")
        == "completed"
    )
    assert page.locator("#timeline svg rect.bar").count() == 8  # hold, 6 fetches, total
    assert page.locator("#timeline svg line.retry").count() == 1  # flaky_total retried once
    assert '"total": 30' in page.locator("#result").inner_text()
    assert "completed" in page.locator("table[aria-label=History]").inner_text()
    screenshot(page, "run")


def test_an_answer_through_the_generated_form_continues_the_run(
    sqlite_store, server, worker, page, screenshot
):
    handle = ui_flows.refund_request.start("A-17")
    page.goto(f"{server}/ui/#/inbox")
    card = page.locator('section[data-question="manager"]')
    card.wait_for()
    assert "Refund order A-17?" in card.inner_text()
    assert card.locator("select[name=priority] option").count() == 2  # the enum as a select
    screenshot(page, "inbox")
    card.get_by_label("approved").check()
    card.locator("input[name=amount]").fill("20000")  # over le=10000
    card.get_by_role("button", name="Approve").click()
    error = card.locator("#" + card.locator("input[name=amount]").get_attribute("id") + "-error")
    error.wait_for(state="visible")
    assert "amount" in error.inner_text()
    assert sqlite_store.get_run(handle.run_id).state is RunState.WAITING  # nothing recorded
    card.locator("input[name=amount]").fill("120")
    card.locator("select[name=priority]").select_option(label="high")
    card.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/#/runs/{handle.run_id}")
    page.locator("h1 .state.completed").wait_for(timeout=30_000)
    assert "refunded 120 (high)" in page.locator("#result").inner_text()


def add_wide_run(store, run_id: str, steps: int) -> None:
    """A completed run of ``steps`` steps (every tenth failed), written to the store in
    one batch, with one history event per step."""
    from datetime import UTC, datetime, timedelta

    from legato.records import ErrorInfo, EventRecord, RunRecord, StepRecord
    from legato.states import StepState

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store.create_run(
        RunRecord(run_id=run_id, flow_name="wide", state=RunState.COMPLETED, created_at=t0)
    )
    failed = {n for n in range(steps) if n % 10 == 9}
    store.record(
        [
            StepRecord(
                run_id=run_id,
                key=f"{'check' if n in failed else 'fetch'}#{n}",
                seq=n,
                task_name="check" if n in failed else "fetch",
                state=StepState.FAILED if n in failed else StepState.COMPLETED,
                attempts=1,
                started_at=t0 + timedelta(seconds=n),
                finished_at=t0 + timedelta(seconds=n + 1),
                error=ErrorInfo(type="ValueError", message=f"bad {n}") if n in failed else None,
            )
            for n in range(steps)
        ]
        + [
            EventRecord(
                run_id=run_id,
                at=t0 + timedelta(seconds=n),
                kind="step",
                state="completed",
                step_key=f"fetch#{n}",
            )
            for n in range(steps)
        ]
    )


def test_a_run_of_thousands_of_steps_shows_a_page_and_loads_more_on_request(
    sqlite_store, server, page
):
    add_wide_run(sqlite_store, "wide-run", steps=2500)
    page.goto(f"{server}/ui/#/runs/wide-run")
    rows = page.locator("table[aria-label=Steps] tbody tr")
    rows.first.wait_for()
    assert rows.count() == 100
    assert "Showing 100 of 2500 steps" in page.locator("main").inner_text()
    counts = page.locator("#step-counts").inner_text()
    assert "fetch ×2250 (2250 completed)" in counts and "check ×250 (250 failed)" in counts
    page.get_by_role("button", name="More steps").click()
    page.locator('tr[data-step="check#199"]').wait_for()
    assert rows.count() == 200
    assert rows.nth(100).get_attribute("data-step") == "fetch#100"
    assert "ValueError: bad 199" in rows.nth(199).inner_text()
    history = page.locator("table[aria-label=History] tbody tr")
    assert history.count() == 100
    page.get_by_role("button", name="More events").click()
    page.wait_for_function(
        "document.querySelectorAll('table[aria-label=History] tbody tr').length === 200"
    )
    assert "Showing 200 of 2500 events" in page.locator("main").inner_text()
