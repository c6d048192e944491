"""Retries, delays, timeouts and retry filters."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest

from legato import Permanent, flow, task
from legato.engine.retries import RetryPolicy
from legato.errors import DefinitionError, StepTimeoutError
from legato.states import StepState


def policy(**kw):
    base = dict(
        where="t",
        retries=5,
        retry_delay=1,
        backoff=1,
        max_retry_delay=None,
        jitter=0,
        retry_on=Exception,
    )
    base.update(kw)
    return RetryPolicy.build(**base)


def test_delay_list_repeats_its_last_value():
    p = policy(retry_delay=[1, timedelta(seconds=5), 30])
    assert [p.delay(k) for k in range(1, 6)] == [1, 5, 30, 30, 30]


def test_backoff_multiplies_and_the_cap_holds():
    p = policy(retry_delay=1, backoff=2, max_retry_delay=5)
    assert [p.delay(k) for k in range(1, 6)] == [1, 2, 4, 5, 5]


def test_jitter_stays_within_its_fraction():
    p = policy(retry_delay=10, jitter=0.2)
    rng = random.Random(7)
    delays = [p.delay(1, rng) for _ in range(200)]
    assert all(8 <= d <= 12 for d in delays)
    assert len(set(delays)) > 100


def test_retries_means_retries_after_the_first_attempt(store):
    calls = []

    @task(retries=2, retry_delay=0)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return "ok"

    @flow
    def f() -> str:
        return flaky()

    handle = f.run()
    assert handle.result() == "ok"
    assert len(calls) == 3
    (step,) = handle.steps
    assert step.attempts == 3 and step.state is StepState.COMPLETED
    history = [(e.state, e.attempt) for e in store.get_events(handle.run_id) if e.kind == "step"]
    assert history == [
        ("running", 1),
        ("retrying", 1),
        ("running", 2),
        ("retrying", 2),
        ("running", 3),
        ("completed", 3),
    ]


def test_exhausted_retries_fail_with_the_original_exception(store):
    @task(retries=1, retry_delay=0)
    def always() -> None:
        raise ConnectionError("down")

    @flow
    def f() -> None:
        always()

    with pytest.raises(ConnectionError, match="down"):
        f()


def test_retries_really_wait(store):
    stamps = []

    @task(retries=2, retry_delay=0.15)
    def flaky() -> None:
        stamps.append(time.monotonic())
        if len(stamps) < 3:
            raise OSError("again")

    @flow
    def f() -> None:
        flaky()

    f()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(gap >= 0.15 for gap in gaps)


def test_permanent_errors_are_not_retried(store):
    calls = []

    class BadInput(Permanent):
        pass

    @task(retries=5, retry_delay=0)
    def validate() -> None:
        calls.append(1)
        raise BadInput("no retry for this")

    @flow
    def f() -> None:
        validate()

    with pytest.raises(BadInput):
        f()
    assert len(calls) == 1


def test_retry_on_limits_which_errors_retry(store):
    calls = []

    @task(retries=3, retry_delay=0, retry_on=[ConnectionError])
    def picky() -> None:
        calls.append(1)
        raise ValueError("not a connection problem")

    @flow
    def f() -> None:
        picky()

    with pytest.raises(ValueError):
        f()
    assert len(calls) == 1


def test_retry_on_predicate(store):
    calls = []

    @task(retries=3, retry_delay=0, retry_on=lambda exc: "429" in str(exc))
    def rate_limited() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("HTTP 429")
        if len(calls) == 2:
            raise RuntimeError("HTTP 400")
        return "unreachable"

    @flow
    def f() -> str:
        return rate_limited()

    with pytest.raises(RuntimeError, match="400"):
        f()
    assert len(calls) == 2


def test_sync_timeout_fails_the_attempt_and_retries_apply(store):
    calls = []

    @task(timeout=0.2, retries=1, retry_delay=0)
    def sometimes_slow() -> str:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(2)
            return "late and discarded"
        return "fast"

    @flow
    def f() -> str:
        return sometimes_slow()

    handle = f.run()
    assert handle.result() == "fast"
    events = [e for e in store.get_events(handle.run_id) if e.state == "retrying"]
    assert len(events) == 1 and "timeout" in events[0].message


def test_async_timeout_cancels_and_raises_step_timeout(store):
    import asyncio

    @task(timeout=0.1)
    async def hangs() -> None:
        await asyncio.sleep(10)

    @flow
    def f() -> None:
        hangs()

    with pytest.raises(StepTimeoutError, match="timeout of 0.1s"):
        f()


def test_flow_retries_replay_completed_steps(store):
    ran = []
    failures = [1]

    @task
    def step_a() -> str:
        ran.append("a")
        return "a"

    @task
    def step_b(a: str) -> str:
        ran.append("b")
        if failures:
            failures.pop()
            raise RuntimeError("first time fails")
        return a + "b"

    @flow(retries=1)
    def f() -> str:
        return step_b(step_a())

    assert f() == "ab"
    assert ran == ["a", "b", "b"]


def test_retry_policies_per_exception_type(store):
    errors = iter([ConnectionError("a"), ConnectionError("b"), ConnectionError("c"), None])

    @task(retries=0, retry_policies={ConnectionError: {"retries": 3, "retry_delay": 0}})
    def network() -> str:
        error = next(errors)
        if error is not None:
            raise error
        return "through"

    @flow
    def f() -> str:
        return network()

    handle = f.run()
    assert handle.result() == "through" and handle.steps[0].attempts == 4


def test_the_most_specific_policy_wins_and_others_use_the_task_s(store):
    calls: list[str] = []

    class Throttled(ConnectionError):
        pass

    @task(retries=1, retry_delay=0, retry_policies={ConnectionError: 5, Throttled: 0})
    def api(kind: str) -> None:
        calls.append(kind)
        raise {"throttled": Throttled, "value": ValueError}[kind]("no")

    @flow
    def f(kind: str) -> None:
        api(kind)

    with pytest.raises(Throttled):
        f("throttled")
    assert calls == ["throttled"]  # Throttled: 0 retries, not ConnectionError's 5
    calls.clear()
    with pytest.raises(ValueError):
        f("value")
    assert calls == ["value", "value"]  # the task's own retries=1


def test_bad_retry_policies_are_named():
    with pytest.raises(DefinitionError, match="not an exception type"):

        @task(retry_policies={"ConnectionError": 3})
        def bad() -> None: ...

    with pytest.raises(DefinitionError, match="unknown option"):

        @task(retry_policies={ValueError: {"retry": 3}})
        def bad2() -> None: ...


def test_an_async_body_that_swallows_its_cancellation_still_times_out(store):
    import asyncio

    finished = []

    @task(timeout=0.1)
    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            finished.append("returned anyway")
            return "late"
        return "on time"

    @flow
    def f() -> str:
        return stubborn()

    handle = f.run()
    with pytest.raises(StepTimeoutError, match="timeout of 0.1s"):
        handle.result()
    assert finished == ["returned anyway"]  # the body did return: its result was dropped
    (step,) = handle.steps
    assert step.state is StepState.FAILED and step.result is None


def test_an_async_body_that_keeps_running_after_its_timeout_is_abandoned(store):
    import asyncio

    @task(timeout=0.1)
    async def ignores_cancel() -> str:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # swallows every cancellation

    @flow
    def f() -> str:
        return ignores_cancel()

    with pytest.raises(StepTimeoutError, match="timeout of 0.1s"):
        f()


@pytest.mark.parametrize("option", ["timeout", "retry_delay", "max_retry_delay", "cache_ttl"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_non_finite_or_negative_durations_are_refused_at_definition(option, value):
    with pytest.raises(DefinitionError) as info:

        @task(**{option: value})
        def bad() -> None: ...

    message = str(info.value)
    assert f"{option}={value!r}" in message and "test_retries.py" in message

    @task
    def fine() -> None: ...

    with pytest.raises(DefinitionError, match=f"{option}="):
        fine.with_options(**{option: value})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_a_non_finite_or_negative_flow_timeout_is_refused(value):
    with pytest.raises(DefinitionError, match=f"timeout={value!r}") as info:

        @flow(timeout=value)
        def bad() -> None: ...

    assert "test_retries.py" in str(info.value)

    @flow
    def fine() -> None: ...

    with pytest.raises(DefinitionError, match=f"timeout={value!r}"):
        fine.with_options(timeout=value)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"backoff": float("nan")}, "backoff=nan"),
        ({"backoff": float("inf")}, "backoff=inf"),
        ({"jitter": float("nan")}, "jitter=nan"),
        ({"retry_delay": [1, float("nan")]}, "retry_delay=nan"),
    ],
)
def test_non_finite_retry_shapes_are_refused(options, named):
    with pytest.raises(DefinitionError, match=named):

        @task(**options)
        def bad() -> None: ...


def test_durable_waits_refuse_non_finite_durations(store):
    import legato

    @flow
    def naps() -> None:
        legato.sleep(float("nan"))

    with pytest.raises(DefinitionError, match="duration=nan"):
        naps()
