"""Parallelism: submit, map, futures as inputs, overlap, and failures that are not lost."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from legato import flow, gather, task
from legato.states import RunState, StepState


@task
def slow_square(x: int) -> int:
    time.sleep(0.2)
    return x * x


@task
def total(values: list[int]) -> int:
    return sum(values)


def test_map_runs_steps_in_parallel_and_keys_follow_program_order(store):
    @flow
    def squares() -> int:
        return total(slow_square.map(range(6)))

    handle = squares.run()
    assert handle.result() == sum(x * x for x in range(6))
    steps = {s.key: s for s in handle.steps}
    assert [steps[f"slow_square#{i}"].seq for i in range(6)] == list(range(6))
    # All six intervals overlap with the first one: they ran at the same time.
    first = steps["slow_square#0"]
    for i in range(1, 6):
        other = steps[f"slow_square#{i}"]
        assert other.started_at < first.finished_at and first.started_at < other.finished_at
    # The sum started only after every input was done.
    assert steps["total#0"].started_at >= max(
        steps[f"slow_square#{i}"].finished_at for i in range(6)
    )


def test_future_passed_as_argument_is_awaited_first(store):
    order = []
    lock = threading.Lock()

    @task
    def produce() -> int:
        time.sleep(0.1)
        with lock:
            order.append("produce")
        return 5

    @task
    def consume(x: int) -> int:
        with lock:
            order.append("consume")
        return x + 1

    @flow
    def dag() -> int:
        return consume.submit(produce.submit()).result()

    assert dag() == 6
    assert order == ["produce", "consume"]


def test_failed_submission_nobody_awaited_fails_the_run(store):
    @task
    def bad() -> None:
        raise RuntimeError("lost in the background")

    @flow
    def forgets() -> str:
        bad.submit()
        return "looks fine"

    handle = forgets.run()
    assert handle.state is RunState.FAILED
    with pytest.raises(RuntimeError, match="lost in the background"):
        handle.result()


def test_downstream_of_a_failed_step_is_skipped_and_gets_the_error(store):
    @task
    def bad() -> int:
        raise ValueError("upstream broke")

    @flow
    def dag() -> int:
        return add.submit(bad.submit(), 1).result()

    @task
    def add(a: int, b: int) -> int:
        return a + b

    handle = dag.run()
    with pytest.raises(ValueError, match="upstream broke"):
        handle.result()
    states = {s.key: s.state for s in handle.steps}
    assert states == {"bad#0": StepState.FAILED, "add#0": StepState.SKIPPED}


def test_async_tasks_run_concurrently_on_an_event_loop(store):
    @task
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.2)
        return i

    @flow
    def fan_out() -> list[int]:
        return gather(fetch.map(range(5)))

    handle = fan_out.run()
    assert handle.result() == [0, 1, 2, 3, 4]
    steps = handle.steps
    latest_start = max(s.started_at for s in steps)
    earliest_end = min(s.finished_at for s in steps)
    assert latest_start < earliest_end


def test_async_task_called_directly_from_a_sync_flow_returns_its_value(store):
    @task
    async def greet(name: str) -> str:
        await asyncio.sleep(0)
        return f"hi {name}"

    @flow
    def hello() -> str:
        return greet("ada")

    assert hello() == "hi ada"
