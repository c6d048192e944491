"""Flows and tasks as users call them: results, steps recorded, parameters, errors."""

from __future__ import annotations

import dataclasses
import threading

import pytest

import legato
from legato import flow, gather, get_run_context, task
from legato.errors import DefinitionError, ParameterError, SerializationError
from legato.records import RunFilter
from legato.states import RunState, StepState


@task
def add_one(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


@flow
def chain(n: int = 3) -> int:
    value = 0
    for _ in range(n):
        value = add_one(value)
    return double(value)


def test_flow_returns_its_result_and_records_each_step(store):
    assert chain(3) == 6
    (run,) = store.list_runs(RunFilter())
    assert run.state is RunState.COMPLETED
    assert run.flow_name == "chain"
    steps = store.get_steps(run.run_id)
    assert [s.key for s in steps] == ["add_one#0", "add_one#1", "add_one#2", "double#0"]
    assert all(s.state is StepState.COMPLETED and s.attempts == 1 for s in steps)
    assert [legato.serialization.loads(s.result) for s in steps] == [1, 2, 3, 6]


def test_history_has_every_transition_in_order(store):
    handle = chain.run(1)
    events = [(e.kind, e.state, e.step_key) for e in store.get_events(handle.run_id)]
    assert events == [
        ("run", "running", None),
        ("step", "running", "add_one#0"),
        ("step", "completed", "add_one#0"),
        ("step", "running", "double#0"),
        ("step", "completed", "double#0"),
        ("run", "completed", None),
    ]


def test_calling_a_task_outside_a_flow_just_calls_it(store):
    assert add_one(41) == 42
    assert store.list_runs(RunFilter()) == []


def test_run_handle_gives_id_state_and_result(store):
    handle = chain.run(2)
    assert handle.state is RunState.COMPLETED
    assert handle.result() == 4
    again = legato.get_run(handle.run_id, store=store)
    assert again.result() == 4


def test_start_returns_at_once_and_result_waits(store):
    gate = threading.Event()

    @task
    def blocked() -> str:
        gate.wait(10)
        return "done"

    @flow
    def waits() -> str:
        return blocked()

    handle = waits.start()
    assert handle.state is RunState.RUNNING
    gate.set()
    assert handle.result(timeout=10) == "done"
    assert handle.state is RunState.COMPLETED


def test_task_failure_reraises_original_type_with_run_and_step(store):
    @task
    def explode() -> None:
        raise KeyError("missing")

    @flow
    def boom() -> None:
        explode()

    with pytest.raises(KeyError) as info:
        boom()
    (run,) = store.list_runs(RunFilter())
    assert run.run_id in str(info.value) and "explode#0" in str(info.value)
    assert run.state is RunState.FAILED
    assert run.error is not None and run.error.type == "builtins.KeyError"
    (step,) = store.get_steps(run.run_id)
    assert step.state is StepState.FAILED
    assert "missing" in step.error.message and "Traceback" in step.error.traceback


def test_try_except_around_a_task_lets_the_run_go_on(store):
    @task
    def fails() -> None:
        raise ValueError("nope")

    @flow
    def handled() -> str:
        try:
            fails()
        except ValueError:
            return add_one(1) and "recovered"
        return "not reached"

    handle = handled.run()
    assert handle.result() == "recovered"
    states = {s.key: s.state for s in handle.steps}
    assert states == {"fails#0": StepState.FAILED, "add_one#0": StepState.COMPLETED}


def test_bad_parameters_are_rejected_before_anything_is_written(store):
    with pytest.raises(ParameterError) as info:
        chain(1, 2)  # type: ignore[call-arg]
    assert "n: int = 3" in str(info.value)
    with pytest.raises(ParameterError):
        chain(m=1)  # type: ignore[call-arg]
    assert store.list_runs(RunFilter()) == []


def test_unserializable_parameter_is_rejected_before_anything_is_written(store):
    @flow
    def takes(lock: object) -> None:
        return None

    with pytest.raises(SerializationError) as info:
        takes(threading.Lock())
    assert "lock" in str(info.value).lower()
    assert store.list_runs(RunFilter()) == []


def test_unserializable_result_fails_the_step_naming_task_and_type(store):
    @task
    def makes_lock() -> object:
        return threading.Lock()

    @flow
    def locked() -> None:
        makes_lock()

    with pytest.raises(SerializationError) as info:
        locked()
    assert "makes_lock" in str(info.value) and "lock" in str(info.value).lower()


@dataclasses.dataclass
class Point:
    x: int
    y: int


@task
def make_point(x: int) -> Point:
    return Point(x, x + 1)


@flow
def points() -> list[Point]:
    return [make_point(1), make_point(2)]


def test_dataclass_results_round_trip_through_the_store(store):
    handle = points.run()
    assert handle.result() == [Point(1, 2), Point(2, 3)]
    stored = legato.get_run(handle.run_id, store=store)
    assert stored.record.result is not None
    assert legato.serialization.loads(stored.record.result) == [Point(1, 2), Point(2, 3)]


def test_run_context_inside_a_task(store):
    seen = {}

    @task
    def who() -> str:
        ctx = get_run_context()
        seen.update(
            run_id=ctx.run_id,
            key=ctx.step_key,
            attempt=ctx.attempt,
            idem=ctx.idempotency_key,
            flow=ctx.flow_name,
        )
        ctx.logger.info("hello from %s", ctx.step_key)
        return ctx.idempotency_key

    @flow
    def ctx_flow() -> str:
        return who()

    handle = ctx_flow.run()
    assert seen["run_id"] == handle.run_id
    assert seen["key"] == "who#0" and seen["attempt"] == 1 and seen["flow"] == "ctx_flow"
    assert seen["idem"] == f"{handle.run_id}:who#0" == handle.result()
    logs = store.get_logs(handle.run_id, step_key="who#0")
    assert [(r.level, r.message) for r in logs] == [("INFO", "hello from who#0")]


def test_get_run_context_outside_a_flow_says_so():
    with pytest.raises(legato.LegatoError, match="outside a running flow"):
        get_run_context()


def test_decorating_a_non_function_is_a_clear_error():
    with pytest.raises(DefinitionError, match="must decorate a function"):
        task(42)  # type: ignore[call-overload]
    with pytest.raises(DefinitionError, match="must decorate a function"):
        flow("not a function")  # type: ignore[call-overload]


def test_unknown_options_are_named():
    with pytest.raises(DefinitionError, match="retires"):

        @task(retires=3)  # type: ignore[call-overload]
        def typo() -> None: ...

    with pytest.raises(DefinitionError, match="timeout_s"):

        @flow(timeout_s=3)  # type: ignore[call-overload]
        def typo_flow() -> None: ...


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries=-1"),
        ({"retry_delay": "soon"}, "retry_delay"),
        ({"jitter": 2}, "jitter=2"),
        ({"serializer": "yaml"}, "serializer='yaml'"),
        ({"timeout": 0}, "timeout=0"),
        ({"name": "a#b"}, "name='a#b'"),
        ({"cache_key": 3}, "cache_key=3"),
    ],
)
def test_bad_option_values_say_which_and_where(options, message):
    with pytest.raises(DefinitionError) as info:

        @task(**options)
        def bad() -> None: ...

    assert message in str(info.value)
    assert "test_flows.py" in str(info.value)


def test_decorators_keep_name_and_doc():
    @task
    def documented(x: int) -> int:
        """Adds nothing."""
        return x

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Adds nothing."


def test_child_flow_is_a_child_run(store):
    @flow
    def child(x: int) -> int:
        return add_one(x)

    @flow
    def parent() -> int:
        return child(1) + child(10)

    handle = parent.run()
    assert handle.result() == 13
    steps = handle.steps
    assert [s.key for s in steps] == ["child#0", "child#1"]
    children = store.list_runs(RunFilter(parent_run_id=handle.run_id))
    assert {c.run_id for c in children} == {s.child_run_id for s in steps}
    assert all(c.parent_run_id == handle.run_id and c.state is RunState.COMPLETED for c in children)


def test_gather_accepts_futures_or_a_list(store):
    @flow
    def both() -> tuple[list[int], list[int]]:
        a = gather(add_one.submit(1), add_one.submit(2))
        b = gather(double.map([1, 2, 3]))
        return a, b

    assert both() == ([2, 3], [2, 4, 6])


@pytest.mark.parametrize("decorator", [task, flow])
def test_generator_functions_are_refused_when_decorated(decorator):
    def numbers():
        yield 1

    async def async_numbers():
        yield 1

    for function in (numbers, async_numbers):
        with pytest.raises(DefinitionError) as info:
            decorator(function)
        message = str(info.value)
        assert "generator" in message and function.__qualname__ in message
        assert "test_flows.py" in message and "return" in message
        assert 'serializer="pickle"' not in message


@pytest.mark.parametrize("decorator", [task, flow])
def test_methods_are_refused_when_decorated_with_what_to_do(decorator):
    with pytest.raises(DefinitionError) as info:

        class Pipeline:
            @decorator
            def load(self, path: str) -> str:
                return path

    message = str(info.value)
    assert "Pipeline.load" in message and "test_flows.py" in message
    assert "self" in message and "module level" in message and "@staticmethod" in message


def test_static_methods_and_nested_functions_taking_self_are_still_accepted(store):
    class Tools:
        @staticmethod
        @task
        def shout(text: str) -> str:
            return text.upper()

    @task
    def named_self(self: str) -> str:  # a nested function, not a method
        return self * 2

    @flow
    def uses_them() -> str:
        return Tools.shout(named_self("a"))

    assert uses_them() == "AA"


def test_an_unstorable_flow_result_gets_a_hint_a_flow_can_follow(store):
    @flow
    def returns_a_lock() -> object:
        return threading.Lock()

    with pytest.raises(SerializationError) as info:
        returns_a_lock()
    message = str(info.value)
    assert "returns_a_lock" in message and "lock" in message
    assert 'opt in to serializer="pickle" on the task' not in message
    assert 'inside a task with serializer="pickle"' in message
    assert "flow's result is always stored as JSON" in message
