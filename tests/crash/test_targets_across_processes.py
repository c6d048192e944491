"""Code from a loose file (a script, a module next to it, a file loaded by path) is found
again by every other process: the CLI resuming a killed run, a freshly started worker,
another script reading a result. Each process here is a real subprocess started from a
different working folder, none with PYTHONPATH set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from legato.records import RunFilter
from legato.states import RunState
from legato.store import open_store

LEGATO = Path(sys.executable).with_name("legato")

CRASH_APP = """
import os, time
from pathlib import Path
from legato import flow, task

@task
def tick(i: int) -> int:
    with Path(os.environ["LEDGER"]).open("a") as f:
        f.write(f"{i}\\n")
    if i == 2 and not os.environ.get("RESUMED"):
        time.sleep(120)  # killed here
    return i

@flow
def slow(n: int) -> int:
    return sum(tick(i) for i in range(n))
"""

SHOP_APP = """
from dataclasses import dataclass
import pydantic
from legato import flow, task

class Order(pydantic.BaseModel):
    sku: str
    qty: int

@dataclass
class Receipt:
    sku: str
    total: int

@task
def price(order: Order) -> int:
    return order.qty * 5

@flow
def place(order: Order) -> Receipt:
    return Receipt(sku=order.sku, total=price(order))

@flow
def quote(sku: str) -> Receipt:
    return Receipt(sku=sku, total=7)

@task
def ship(sku: str) -> str:
    return "shipped " + sku

@flow(queue="shipping")
def dispatch_order(sku: str) -> str:
    return ship(sku)

@task
def hand_over(sku: str) -> str:
    return dispatch_order.submit(sku).run_id

@flow
def intake(sku: str) -> str:
    return hand_over(sku)

if __name__ == "__main__":
    print(place.submit(Order(sku="tea", qty=3)).run_id)
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LEGATO_DB")}
    return {**env, "LEGATO_DB": f"sqlite:///{tmp_path / 'store.db'}", **extra}


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _run_state(tmp_path: Path, run_id: str) -> RunState:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        return store.get_run(run_id).state
    finally:
        store.close()


def test_a_run_started_from_python_c_and_killed_resumes_from_the_cli(tmp_path: Path) -> None:
    app = _folder(tmp_path, "app")
    (app / "crash_app.py").write_text(CRASH_APP)
    ledger = tmp_path / "ledger.txt"
    env = _env(tmp_path, LEDGER=str(ledger))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from crash_app import slow; slow(6)"], cwd=app, env=env
    )
    try:
        _wait_for(lambda: ledger.exists() and "2" in ledger.read_text().split(), "step 2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = open_store(env["LEGATO_DB"])
    (run,) = store.list_runs(RunFilter())
    out = subprocess.run(
        [str(LEGATO), "runs", "resume", run.run_id],
        cwd=app,
        env={**env, "RESUMED": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    done = store.get_run(run.run_id)
    assert done.state is RunState.COMPLETED
    assert ledger.read_text().split() == ["0", "1", "2", "2", "3", "4", "5"]
    store.close()


def test_an_unimportable_module_target_says_how_to_make_it_importable(tmp_path: Path) -> None:
    from legato.engine.targets import load_target
    from legato.errors import DefinitionError

    with pytest.raises(DefinitionError) as caught:
        load_target("nowhere_to_be_found_app:slow")
    message = str(caught.value)
    assert "cannot import module 'nowhere_to_be_found_app'" in message
    assert "PYTHONPATH=. legato" in message and "install its package" in message


def test_a_model_defined_in_the_submitting_script_reaches_the_worker_and_back(
    tmp_path: Path,
) -> None:
    app = _folder(tmp_path, "app")
    (app / "shop.py").write_text(SHOP_APP)
    env = _env(tmp_path)
    submitted = subprocess.run(
        [sys.executable, "shop.py"], cwd=app, env=env, capture_output=True, text=True
    )
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    worker = subprocess.Popen(
        [str(LEGATO), "worker", "--poll", "0.05"],
        cwd=_folder(tmp_path, "worker"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _run_state(tmp_path, run_id).is_final, "the run to end")
    finally:
        worker.kill()
        worker.wait()
    assert _run_state(tmp_path, run_id) is RunState.COMPLETED
    read = _read_result(tmp_path, run_id, env)
    assert read == "Receipt(sku='tea', total=15) Receipt"


def _read_result(tmp_path: Path, run_id: str, env: dict[str, str]) -> str:
    """The result as another script sees it, from yet another folder."""
    code = textwrap.dedent(
        f"""
        import legato
        value = legato.get_run({run_id!r}).result()
        print(value, type(value).__name__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=_folder(tmp_path, f"reader-{run_id[-6:]}"),
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_result_of_a_file_loaded_flow_can_be_read_by_another_process(tmp_path: Path) -> None:
    app = _folder(tmp_path, "app")
    (app / "shop.py").write_text(SHOP_APP)
    env = _env(tmp_path)
    out = subprocess.run(
        [str(LEGATO), "run", str(app / "shop.py") + ":quote", "-p", "sku=mug", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    store = open_store(env["LEGATO_DB"])
    (run,) = store.list_runs(RunFilter())
    store.close()
    assert _read_result(tmp_path, run.run_id, env) == "Receipt(sku='mug', total=7) Receipt"


def test_a_flow_submitted_from_a_task_on_a_worker_runs_on_a_fresh_worker(
    tmp_path: Path,
) -> None:
    app = _folder(tmp_path, "app")
    (app / "shop.py").write_text(SHOP_APP)
    env = _env(tmp_path)
    out = subprocess.run(
        [str(LEGATO), "submit", str(app / "shop.py") + ":intake", "-p", "sku=tea"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    intake_id = out.stdout.strip()
    here = _folder(tmp_path, "workers")
    first = subprocess.Popen(
        [str(LEGATO), "worker", "--poll", "0.05", "--queue", "default"],
        cwd=here,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _run_state(tmp_path, intake_id).is_final, "the intake run")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    store = open_store(env["LEGATO_DB"])
    child_id = store.get_run(intake_id).result
    assert child_id is not None
    child_id = child_id.strip('"')
    # A new worker process, which never loaded shop.py, takes the submitted flow.
    second = subprocess.Popen(
        [str(LEGATO), "worker", "--poll", "0.05", "--queue", "shipping"],
        cwd=here,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _run_state(tmp_path, child_id).is_final, "the shipping run")
    finally:
        second.kill()
        second.wait()
    child = store.get_run(child_id)
    assert child.state is RunState.COMPLETED, child.error
    assert child.result == '"shipped tea"'
    store.close()
