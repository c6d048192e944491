"""A parent whose child flow waits: `legato run` says which child it waits for, and
resuming the child, then the parent, finishes both (no worker needed)."""

from __future__ import annotations

FLOW = """
import legato
from legato import flow


@flow
def child(order: str) -> int:
    paid = legato.wait_for_event("payment", match={"order": order})
    return paid["amount"]


@flow
def parent(order: str) -> str:
    return f"{order} paid {child(order)}"
"""


def test_a_parent_waiting_for_its_child_says_so_and_finishes_after_the_child(cli) -> None:
    cli.write_flow("orders.py", FLOW)
    # An importable module: a child flow's target from a file path is another issue's.
    cli.env["PYTHONPATH"] = str(cli.root)
    waiting = cli("run", "orders:parent", "-p", "order=o-1")
    assert waiting.returncode == 3, waiting.stderr
    runs = {r["flow"]: r for r in cli.runs()}
    parent_id, child_id = runs["parent"]["run_id"], runs["child"]["run_id"]
    assert f"waits for child run {child_id}: legato runs show {child_id}" in waiting.stdout
    assert "events send" not in waiting.stdout  # the parent waits for no event itself

    shown = cli("runs", "show", parent_id)
    assert f"waiting for child run {child_id}" in shown.stdout, shown.stdout
    assert cli.run_state(parent_id) == "waiting" and cli.run_state(child_id) == "waiting"

    sent = cli("events", "send", "payment", "--data", '{"order": "o-1", "amount": 30}')
    assert sent.returncode == 0, sent.stderr
    assert cli("runs", "resume", child_id).returncode == 0
    done = cli("runs", "resume", parent_id, "--json")
    assert done.returncode == 0, done.stderr
    assert '"result": "o-1 paid 30"' in done.stdout
