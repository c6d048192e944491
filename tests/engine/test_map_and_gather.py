"""``task.map`` refuses iterables of different lengths before any step runs, and
``gather`` counts as looking at every future it was given."""

from __future__ import annotations

import pytest

from legato import flow, gather, task
from legato.errors import ParameterError
from legato.states import RunState

RAN: list[tuple[int, int]] = []


@task
def add(a: int, b: int) -> int:
    RAN.append((a, b))
    return a + b


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


def test_map_of_unequal_lengths_runs_nothing_and_names_the_task_and_lengths(
    store,
) -> None:
    @flow
    def sums() -> list[int]:
        return gather(add.map([1, 2, 3], [4, 5, 6, 7]))

    handle = sums.run()
    with pytest.raises(ParameterError) as info:
        handle.result()
    message = str(info.value)
    assert "add.map()" in message
    assert "3, 4" in message  # the lengths, in argument order
    assert RAN == []
    assert handle.steps == []
    assert handle.state is RunState.FAILED


def test_map_of_equal_lengths_accepts_generators(store) -> None:
    @flow
    def sums() -> list[int]:
        return gather(add.map((i for i in range(3)), iter([10, 20, 30])))

    assert sums() == [10, 21, 32]


@task
def boom(i: int) -> int:
    raise ValueError(f"boom {i}")


def test_gather_counts_as_looking_at_every_failure(store) -> None:
    @flow
    def tolerant() -> str:
        try:
            gather(boom.submit(1), boom.submit(2))
        except ValueError as exc:
            return f"caught {exc.args[0].split()[1]}"
        return "no failure"

    assert tolerant() == "caught 1"


def test_gather_of_an_iterable_counts_as_looking_at_every_failure(store) -> None:
    @flow
    def tolerant() -> str:
        try:
            gather(boom.map(range(5)))
        except ValueError:
            return "caught"
        return "no failure"

    assert tolerant() == "caught"


def test_a_failure_not_given_to_gather_still_fails_the_run(store) -> None:
    @flow
    def careless() -> str:
        boom.submit(9)
        try:
            gather(boom.submit(1))
        except ValueError:
            return "caught one"
        return "no failure"

    with pytest.raises(ValueError, match="boom 9"):
        careless()
