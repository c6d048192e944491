"""`legato run` of a waiting flow exits 3; `legato events send` lets it go on."""

from __future__ import annotations

FLOW = """
import legato
from legato import flow, task


@task
def ship(order: str, amount: int) -> str:
    return f"shipped {order} for {amount}"


@flow
def order(order: str) -> str:
    paid = legato.wait_for_event("payment", match={"order": order})
    return ship(order, paid["amount"])
"""


def test_waiting_run_exits_3_and_an_event_lets_it_finish(cli) -> None:
    cli.write_flow("pay.py", FLOW)
    waiting = cli("run", "pay.py:order", "-p", "order=o-7", "--json")
    assert waiting.returncode == 3, waiting.stderr
    run_id = cli.json("runs", "list")[0]["run_id"]
    assert cli.run_state(run_id) == "waiting"

    sent = cli("events", "send", "payment", "--data", '{"order": "o-7", "amount": 30}')
    assert sent.returncode == 0, sent.stderr
    done = cli("runs", "resume", run_id, "--json")
    assert done.returncode == 0, done.stderr
    assert '"result": "shipped o-7 for 30"' in done.stdout

    late = cli("events", "send", "payment", "--run", run_id, "--data", "{}")
    cli.assert_clean_error(late)
    assert "already ended" in late.stderr
    cli.assert_clean_error(cli("events", "send", "payment", "--data", "{nope"))
