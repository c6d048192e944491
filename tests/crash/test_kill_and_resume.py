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

from legato.records import RunFilter
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
