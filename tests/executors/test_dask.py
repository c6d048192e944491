"""DaskExecutor against a real cluster: a `dask scheduler` and two `dask worker` processes.

Only task bodies run on the workers; replay, retries and recording stay in this process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

import legato
from legato.engine import context
from legato.errors import ExecutorError, StepTimeoutError
from legato.executors import executor_from_url
from legato.states import RunState, StepState
from legato.store.base import Store

distributed = pytest.importorskip("distributed")

import dask_tasks  # noqa: E402 - after the skip: it is only useful with dask

HERE = Path(__file__).resolve().parent
DASK = Path(sys.executable).with_name("dask")


@dataclass(frozen=True)
class Cluster:
    address: str
    worker_pids: frozenset[int]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not DASK.exists():
        pytest.skip(f"no `dask` command next to {sys.executable}")
    logs = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    # The workers import dask_tasks, as real workers import the flow's code.
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    commands = [
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]],
        *[[DASK, "worker", address, "--no-nanny", "--nthreads", "2"] for _ in range(2)],
    ]
    procs: list[subprocess.Popen[bytes]] = []
    client = None
    try:
        for n, command in enumerate(commands):
            with open(logs / f"{n}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [*command, "--no-dashboard"],
                        env=env,
                        cwd=logs,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        client = distributed.Client(address, timeout=30, set_as_default=False)
        client.wait_for_workers(2, timeout=60)
        # --no-nanny: each worker runs in the process we started, so its pid is known.
        pids = frozenset(client.run(os.getpid).values())
        assert pids == {p.pid for p in procs[1:]}
        yield Cluster(address, pids)
    finally:
        if client is not None:
            client.close()
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def on_dask(cluster: Cluster, sqlite_store: Store) -> Iterator[legato.executors.Executor]:
    previous = context._defaults.executor
    executor = executor_from_url(f"dask://{cluster.address.removeprefix('tcp://')}")
    legato.use_executor(executor)
    yield executor
    context._defaults.executor = previous
    executor.shutdown()


def test_url_names_a_dask_executor(cluster: Cluster, on_dask: object) -> None:
    assert repr(on_dask) == f"DaskExecutor(address={cluster.address!r})"


def test_200_mapped_steps_run_on_both_workers_and_are_recorded(
    cluster: Cluster, on_dask: object
) -> None:
    started = time.perf_counter()
    handle = dask_tasks.spread.run(200)
    elapsed = time.perf_counter() - started
    assert handle.state is RunState.COMPLETED, handle.record.error
    result = handle.result()
    assert [i for i, _ in result] == list(range(200))
    pids = {pid for _, pid in result}
    assert pids == cluster.worker_pids and os.getpid() not in pids
    steps = handle.steps
    assert len(steps) == 200
    assert all(s.state is StepState.COMPLETED and s.attempts == 1 for s in steps)
    print(f"200 steps on 2 Dask workers: {elapsed:.2f}s")


def test_a_failed_body_is_retried_by_legato(cluster: Cluster, on_dask: object) -> None:
    value, attempt, pid = dask_tasks.recovers(7)
    assert (value, attempt) == (7, 2) and pid in cluster.worker_pids


def test_a_failing_body_raises_its_own_type_after_the_retries(
    cluster: Cluster, on_dask: object
) -> None:
    handle = dask_tasks.gives_up.run()
    with pytest.raises(dask_tasks.Flaky, match="attempt 2 failed in process"):
        handle.result()
    (step,) = handle.steps
    assert step.state is StepState.FAILED and step.attempts == 2
    assert step.error.type == "dask_tasks.Flaky"
    worker_pid = int(step.error.message.split("in process ")[1].split()[0])
    assert worker_pid in cluster.worker_pids


def test_an_async_body_runs_on_a_worker(cluster: Cluster, on_dask: object) -> None:
    doubled, pid = dask_tasks.awaits(21)
    assert doubled == 42 and pid in cluster.worker_pids


def test_a_body_past_its_timeout_fails_the_attempt(cluster: Cluster, on_dask: object) -> None:
    started = time.perf_counter()
    with pytest.raises(StepTimeoutError, match="timeout of 0.3s"):
        dask_tasks.too_slow()
    assert time.perf_counter() - started < 1.5


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    from legato.executors.dask import DaskExecutor

    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.perf_counter()
    with pytest.raises(ExecutorError) as caught:
        DaskExecutor(address, connect_timeout=timedelta(seconds=1))
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert address in message and "dask scheduler" in message and "fix the address" in message
