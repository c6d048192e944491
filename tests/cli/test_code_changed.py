"""The flow's code changes between a crash and the resume: the non-determinism error says
what the user can do next, and doing exactly that works."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conftest import Cli

ORIGINAL = """
    import time
    from pathlib import Path
    from legato import Failure, flow, task

    HERE = Path(__file__).parent

    def note(text: str) -> None:
        with open(HERE / "ledger.txt", "a") as f:
            f.write(text + "\\n")

    @task
    def alert(failure: Failure) -> None:
        note("alert")

    @task
    def reserve() -> int:
        note("reserve")
        return 1

    @task
    def charge(x: int) -> int:
        note("charge started")
        deadline = time.monotonic() + 90
        while not (HERE / "gate").exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # the test kills the process here
        note("charge done")
        return x + 1

    @flow(on_failure=alert)
    def order() -> int:
        return charge(reserve())
"""

# The second step is no longer `charge`: the recorded history does not fit this code.
CHANGED = ORIGINAL.replace("return charge(reserve())", "return bill(reserve())").replace(
    "@flow(on_failure=alert)",
    "@task\n    def bill(x: int) -> int:\n        return x\n\n    @flow(on_failure=alert)",
)


def _ledger(cli: Cli) -> list[str]:
    path = cli.root / "ledger.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_after_a_code_change_the_error_says_to_restore_and_retry_and_that_works(
    cli: Cli,
) -> None:
    cli.write_flow("order.py", ORIGINAL)
    process = cli.start("run", "order.py:order")
    cli.wait_for(lambda: "charge started" in _ledger(cli), what="step charge to start")
    (run,) = cli.runs()
    run_id = run["run_id"]
    process.kill()
    process.wait(timeout=60)

    cli.write_flow("order.py", CHANGED)
    resumed = cli("runs", "resume", run_id)
    assert resumed.returncode == 1, (resumed.stdout, resumed.stderr)
    said = " ".join((resumed.stdout + resumed.stderr).split())
    assert "step charge#0 was recorded as task 'charge' but the flow now calls 'bill'" in said
    assert f"legato runs retry {run_id}" in said
    assert "restore" in said and "Traceback" not in said
    assert cli.run_state(run_id) == "failed"

    # What the message said not to do is refused, pointing at the same next step.
    refused = cli("runs", "resume", run_id)
    cli.assert_clean_error(refused)
    assert "legato runs retry" in refused.stderr

    # What it said to do works: restore the code, retry; completed steps keep results.
    cli.write_flow("order.py", ORIGINAL)
    (cli.root / "gate").touch()
    retried = cli("runs", "retry", run_id, "--json")
    assert retried.returncode == 0, (retried.stdout, retried.stderr)
    assert cli.run_state(run_id) == "completed"
    assert cli.json("runs", "show", run_id)["result"] == 2
    assert _ledger(cli).count("reserve") == 1
    assert _ledger(cli).count("alert") == 1  # the failure the code change caused
