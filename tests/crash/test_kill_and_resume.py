"""SIGKILL a flow at chosen points, resume it in a new process, and check from a ledger
kept outside legato that the run completes and no completed step ran again."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from legato.records import RunFilter, StepRecord
from legato.states import RunState, StepState
from legato.store import open_store

HERE = Path(__file__).parent
FLOWS = HERE / "crashy_flows.py"


class Scenario:
    def __init__(self, tmp_path: Path, flow_name: str) -> None:
        self.db = f"sqlite:///{tmp_path / 'crash.db'}"
        self.ledger = tmp_path / "ledger.txt"
        self.env = {**os.environ, "LEGATO_DB": self.db, "CRASH_LEDGER": str(self.ledger)}
        self.flow_name = flow_name
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FLOWS), self.flow_name],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def lines(self) -> list[str]:
        return self.ledger.read_text().splitlines() if self.ledger.exists() else []

    def wait_for(self, predicate, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.lines()):
                return
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"flow exited before {what}: {self.proc.communicate()}")
            time.sleep(0.005)
        raise AssertionError(f"timed out waiting for {what}; ledger: {self.lines()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        assert self.proc.returncode == -signal.SIGKILL

    def completed_keys(self) -> tuple[str, set[str]]:
        store = open_store(self.db)
        try:
            (run,) = store.list_runs(RunFilter())
            done = {s.key for s in store.get_steps(run.run_id) if s.state is StepState.COMPLETED}
            return run.run_id, done
        finally:
            store.close()

    def resume(self, run_id: str) -> str:
        code = f"import sys, legato; print(legato.resume({run_id!r}).result())"
        out = subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def check(self, run_id: str, completed_before: set[str], expected_steps: int) -> None:
        store = open_store(self.db)
        try:
            run = store.get_run(run_id)
            steps = store.get_steps(run_id)
        finally:
            store.close()
        assert run.state is RunState.COMPLETED
        assert len(steps) == expected_steps
        assert all(s.state is StepState.COMPLETED for s in steps)
        runs = collections.Counter(
            line.split()[1] for line in self.lines() if line.startswith("done ")
        )
        for key in completed_before:
            assert runs[key] == 1, f"{key} completed before the kill but ran {runs[key]} times"
        for step in steps:
            assert runs[step.key] >= 1


def test_kill_inside_a_step(tmp_path: Path) -> None:
    s = Scenario(tmp_path, "ten_steps")
    (tmp_path / "hold").touch()
    s.start()
    s.wait_for(lambda lines: "start work#5" in lines, "step work#5 to start")
    s.kill()
    run_id, before = s.completed_keys()
    assert before == {f"work#{i}" for i in range(5)}
    (tmp_path / "hold").unlink()
    assert s.resume(run_id) == str(sum(i * 2 for i in range(10)))
    s.check(run_id, before, expected_steps=10)
    # The step that was running when killed ran its body again, as promised: at least once.
    assert s.lines().count("start work#5") == 2


def test_kill_between_steps(tmp_path: Path) -> None:
    s = Scenario(tmp_path, "pauses_between_steps")
    s.start()
    s.wait_for(lambda lines: "between 2" in lines, "the flow to pass step 3")
    s.kill()
    run_id, before = s.completed_keys()
    assert {"work#0", "work#1", "work#2"} <= before
    assert s.resume(run_id) == str(sum((i + 10) * 2 for i in range(6)))
    s.check(run_id, before, expected_steps=6)


def test_kill_during_a_parallel_batch_of_50(tmp_path: Path) -> None:
    s = Scenario(tmp_path, "batch_of_50")
    s.start()
    s.wait_for(lambda lines: len(lines) >= 20, "20 mapped steps to finish")
    s.kill()
    run_id, before = s.completed_keys()
    assert 0 < len(before) < 50
    assert s.resume(run_id) == str(sum(range(50)))
    s.check(run_id, before, expected_steps=50)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_kill_at_random_moments(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    s = Scenario(tmp_path, "many_quick_steps")
    s.start()
    target = rng.randint(1, 250)
    s.wait_for(lambda lines: len(lines) >= target, f"{target} steps")
    time.sleep(rng.uniform(0, 0.01))
    s.kill()
    run_id, before = s.completed_keys()
    assert s.resume(run_id) == str(sum(range(300)))
    s.check(run_id, before, expected_steps=300)


def test_kill_during_compensation_resumes_the_compensation(tmp_path: Path) -> None:
    s = Scenario(tmp_path, "saga")
    (tmp_path / "hold").touch()
    s.start()
    s.wait_for(lambda lines: "undo-start s1" in lines, "the compensation of s1 to start")
    s.kill()
    run_id, _ = s.completed_keys()
    (tmp_path / "hold").unlink()
    code = f"import legato\nh = legato.resume({run_id!r})\nprint(h.state.value)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], env=s.env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "failed"
    lines = s.lines()
    # Each step and the failing one ran once; compensations newest first, each once,
    # the interrupted one again (at least once).
    assert [line for line in lines if line.startswith("do ") or line == "explode"] == [
        "do s0",
        "do s1",
        "do s2",
        "explode",
    ]
    assert [line for line in lines if line.startswith("undo ")] == ["undo s2", "undo s1", "undo s0"]
    assert lines.count("undo-start s1") == 2
    # The flow's handler ran before the kill; resuming the same failure does not rerun it.
    assert lines.count("alert run") == 1
    store = open_store(s.db)
    try:
        steps = {step.key: step.state for step in store.get_steps(run_id)}
        assert store.get_run(run_id).state is RunState.FAILED
    finally:
        store.close()
    assert all(steps[f"do#{i}/compensate"] is StepState.COMPLETED for i in range(3))


def _in_store(db: str, run_id: str, read):  # type: ignore[no-untyped-def]
    store = open_store(db)
    try:
        return read(store)
    finally:
        store.close()


def _first_step(db: str) -> tuple[str, StepRecord | None]:
    def read(store):  # type: ignore[no-untyped-def]
        runs = store.list_runs(RunFilter())
        if not runs:
            return "", None
        steps = store.get_steps(runs[0].run_id)
        return runs[0].run_id, steps[0] if steps else None

    return _in_store(db, "", read)


@pytest.fixture(params=["sqlite", "postgres"])
def crash_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    from postgres_service import new_schema, require_server, schema_url

    require_server()
    return schema_url(new_schema(str(tmp_path)))


def test_kill_during_retry_backoffs_keeps_the_budget_and_the_wait(
    tmp_path: Path, crash_db: str
) -> None:
    s = Scenario(tmp_path, "retries_with_backoff")
    s.db = crash_db
    s.env["LEGATO_DB"] = crash_db
    s.start()
    resume_code = "import legato, sys\nlegato.resume(sys.argv[1]).wait()\n"
    for attempt in (1, 2):
        # Kill the process once attempt N has failed and its backoff has been recorded.
        s.wait_for(lambda lines, n=attempt: len(lines) >= n, f"attempt {attempt}")
        deadline = time.monotonic() + 30
        while True:
            run_id, step = _first_step(s.db)
            if step is not None and (step.state, step.attempts) == (StepState.RETRYING, attempt):
                break
            assert time.monotonic() < deadline, f"attempt {attempt} never recorded its backoff"
            time.sleep(0.005)
        s.kill()
        assert step.retries_used == attempt
        assert step.retry_at is not None
        s.proc = subprocess.Popen(
            [sys.executable, "-c", resume_code, run_id],
            env=s.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        s.wait_for(lambda lines, n=attempt: len(lines) > n, f"attempt {attempt + 1}")
        # The resumed run waited out the rest of the recorded backoff first.
        started = float(s.lines()[attempt].split()[2])
        assert started >= step.retry_at.timestamp()
    assert s.proc is not None
    s.proc.communicate(timeout=60)
    # retries=3: four attempts in all, two crashes notwithstanding.
    assert [line.split()[:2] for line in s.lines()] == [["attempt", str(n)] for n in (1, 2, 3, 4)]
    run = _in_store(s.db, run_id, lambda store: store.get_run(run_id))
    assert run.state is RunState.FAILED and run.error is not None
    assert run.error.type == "builtins.ConnectionError"


def test_a_run_resumed_after_a_crash_past_its_deadline_fails_at_once(tmp_path: Path) -> None:
    s = Scenario(tmp_path, "slow_past_its_deadline")
    (tmp_path / "hold").touch()
    s.start()
    s.wait_for(lambda lines: "start work#1" in lines, "step work#1 to start")
    s.kill()
    run_id, before = s.completed_keys()
    assert before == {"work#0"}
    run = _in_store(s.db, run_id, lambda store: store.get_run(run_id))
    assert run.deadline_at is not None
    (tmp_path / "hold").unlink()
    time.sleep(max(0.0, run.deadline_at.timestamp() - time.time()) + 0.05)

    code = f"import legato\nprint(legato.resume({run_id!r}).state.value)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], env=s.env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "failed"
    run = _in_store(s.db, run_id, lambda store: store.get_run(run_id))
    assert run.error is not None and run.error.type == "legato.errors.FlowTimeoutError"
    assert "passed its deadline" in run.error.message
    # Nothing ran after the resume: the interrupted step did not start again.
    assert s.lines().count("start work#1") == 1 and "start work#2" not in s.lines()
