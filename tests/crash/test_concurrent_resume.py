"""Several processes resume the same crashed run at the same moment: exactly one executes
it, the others are told where it is running (never a lost lease), on every store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from legato.records import RunFilter
from legato.states import RunState
from legato.store import open_store

HERE = Path(__file__).parent
FLOWS = HERE / "crashy_flows.py"
RESUMERS = 3
ROUNDS = 3

# Waits at a file barrier so that every resumer calls resume() at the same moment.
RESUMER = """
import os, sys, time
from pathlib import Path
import legato
from legato.errors import RunStateError

barrier = Path(sys.argv[2])
Path(sys.argv[3]).touch()  # ready
while not barrier.exists():
    time.sleep(0.001)
try:
    print("completed", legato.resume(sys.argv[1]).result())
except RunStateError as exc:
    print("refused", exc)
"""


def sqlite_url(tmp_path: Path, n: int) -> str:
    return f"sqlite:///{tmp_path / f'crash{n}.db'}"


def postgres_url(tmp_path: Path, n: int) -> str:
    from postgres_service import new_schema, require_server, schema_url

    require_server()
    return schema_url(new_schema(f"{tmp_path}/{n}"))


def crashed_run(folder: Path, env: dict[str, str]) -> str:
    """Start `ten_steps`, SIGKILL it inside step work#5, return the run's id."""
    ledger = Path(env["CRASH_LEDGER"])
    (folder / "hold").touch()
    proc = subprocess.Popen(
        [sys.executable, str(FLOWS), "ten_steps"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while "start work#5" not in (ledger.read_text() if ledger.exists() else ""):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "step work#5 did not start"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (folder / "hold").unlink()
    store = open_store(env["LEGATO_DB"])
    try:
        (run,) = store.list_runs(RunFilter())
        assert run.state is RunState.RUNNING  # nobody could record anything else
        return run.run_id
    finally:
        store.close()


@pytest.mark.parametrize("url_for", [sqlite_url, postgres_url], ids=["sqlite", "postgres"])
def test_resumes_released_together_execute_the_run_once(
    tmp_path: Path, url_for: Callable[[Path, int], str]
) -> None:
    for n in range(ROUNDS):
        folder = tmp_path / f"round{n}"
        folder.mkdir()
        ledger = folder / "ledger.txt"
        env = {**os.environ, "LEGATO_DB": url_for(tmp_path, n), "CRASH_LEDGER": str(ledger)}
        run_id = crashed_run(folder, env)
        barrier = folder / "go"
        ready = [folder / f"ready{i}" for i in range(RESUMERS)]
        resumers = [
            subprocess.Popen(
                [sys.executable, "-c", RESUMER, run_id, str(barrier), str(flag)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for flag in ready
        ]
        deadline = time.monotonic() + 60
        while not all(flag.exists() for flag in ready):  # every one waits at the barrier
            assert time.monotonic() < deadline, "the resumers did not start"
            time.sleep(0.005)
        barrier.touch()
        outcomes = [proc.communicate(timeout=120) for proc in resumers]

        for proc, (out, err) in zip(resumers, outcomes, strict=True):
            assert proc.returncode == 0, err
            assert "LeaseLostError" not in out + err
        said = [out.strip() for out, _ in outcomes]
        winners = [line for line in said if line.startswith("completed")]
        assert winners, said
        assert all(line == "completed 90" for line in winners), said
        for line in said:
            if line.startswith("refused"):
                assert f"run {run_id} is already running in process" in line, line
        lines = ledger.read_text().splitlines()
        # Before the kill work#5 started once; after it, exactly one resume executed.
        assert lines.count("start work#5") == 2, (said, lines)
        assert lines.count("done work#9") == 1, (said, lines)
