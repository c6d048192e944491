"""wait_for_input: a person answers; validation, first answer wins, rejection, timeout."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, field_validator

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import refund_approval  # noqa: E402
from postgres_service import open_postgres  # noqa: E402

import legato  # noqa: E402
from legato import flow, task  # noqa: E402
from legato.engine import context  # noqa: E402
from legato.engine.inputs import InputError, InputRejected  # noqa: E402
from legato.errors import RunFailedError, WaitTimeout  # noqa: E402
from legato.states import RunState, StepState  # noqa: E402
from legato.store import SqliteStore  # noqa: E402
from legato.worker import Worker  # noqa: E402


def finish(store, run_id: str) -> None:
    worker = Worker(store)
    deadline = time.monotonic() + 20
    while store.get_run(run_id).state is RunState.WAITING and time.monotonic() < deadline:
        worker.tick()
        time.sleep(0.02)
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The process's default store: SQLite, then PostgreSQL in a schema of its own."""
    if request.param == "sqlite":
        store: Any = SqliteStore(tmp_path / "legato.db")
    else:
        store = open_postgres(tmp_path)
    previous = context._defaults.store
    legato.use_store(store)
    yield store
    context._defaults.store = previous
    store.close()


def work_until(store, done: Callable[[], bool]) -> None:
    """Let an in-process worker take due runs until ``done()`` holds."""
    worker = Worker(store)
    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline, "the run did not get there in 20 s"
        worker.tick()
        time.sleep(0.02)
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)


def asks(store, run_id: str, name: str) -> bool:
    return any(
        s.run_id == run_id and legato.serialization.loads(s.result)["name"] == name
        for s in store.open_inputs()
    )


def test_small_refunds_go_through_without_anyone(store) -> None:
    assert refund_approval.refund("o-1", 80) == "o-1: refunded 80 for o-1"


def test_a_large_refund_waits_for_a_manager_and_goes_on_once_approved(store) -> None:
    handle = refund_approval.refund.run("o-2", 900)
    assert handle.state is RunState.WAITING
    (question,) = store.open_inputs()
    assert question.run_id == handle.run_id and question.state is StepState.WAITING
    asked = legato.serialization.loads(question.result)
    assert asked["prompt"] == "Refund 900 for order o-2?" and asked["roles"] == ["manager"]
    assert asked["schema"]["properties"]["approved"]["type"] == "boolean"

    with pytest.raises(InputError, match="approved: Input should be a valid boolean"):
        legato.answer_input(
            handle.run_id, "manager", {"approved": "maybe"}, by="ana", role="manager"
        )
    with pytest.raises(InputError, match="may be answered by manager"):
        legato.answer_input(handle.run_id, "manager", {"approved": True}, by="bob", role="intern")
    assert store.get_run(handle.run_id).state is RunState.WAITING  # still waiting

    legato.answer_input(
        handle.run_id, "manager", {"approved": True, "note": "ok"}, by="ana", role="manager"
    )
    with pytest.raises(InputError, match="already answered by ana"):
        legato.answer_input(handle.run_id, "manager", {"approved": False}, by="cy", role="manager")
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "o-2: refunded 900 for o-2"
    history = [e.message for e in store.get_events(handle.run_id) if e.by == "ana"]
    assert history == ["input 'manager' answered"]


def test_a_declined_refund_and_the_replay_keeps_the_recorded_answer(store) -> None:
    handle = refund_approval.refund.run("o-3", 900)
    legato.answer_input(
        handle.run_id,
        "manager",
        {"approved": False, "note": "no receipt"},
        by="ana",
        role="manager",
    )
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "o-3: refund declined: no receipt"


def test_two_answers_raced_exactly_one_wins(store) -> None:
    handle = refund_approval.refund.run("o-4", 900)
    results: list[str] = []

    def answer(who: str, approved: bool) -> None:
        try:
            legato.answer_input(
                handle.run_id, "manager", {"approved": approved}, by=who, role="manager"
            )
            results.append(f"won {who}")
        except InputError as exc:
            results.append(f"lost {who}: {exc}")

    threads = [threading.Thread(target=answer, args=(w, w == "ana")) for w in ("ana", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.split(":")[0].split()[0] for r in results) == ["lost", "won"]


@flow
def asks_with_timeout() -> str:
    try:
        legato.wait_for_input("boss", timeout=0.01)
    except WaitTimeout:
        return "nobody answered"
    return "answered"


@flow
def rejects() -> str:
    try:
        legato.wait_for_input("boss")
    except InputRejected as exc:
        return f"rejected by {exc.by}: {exc.reason}"
    return "approved"


def test_timeout_and_rejection_reach_the_flow(store) -> None:
    assert asks_with_timeout() == "nobody answered"
    handle = rejects.run()
    legato.answer_input(handle.run_id, "boss", reject="too expensive", by="cy")
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "rejected by cy: too expensive"


def test_answering_what_is_not_asked_says_so(store) -> None:
    handle = rejects.run()
    with pytest.raises(InputError, match="not waiting for input 'other'.*boss"):
        legato.answer_input(handle.run_id, "other", {}, by="x")


class Animal(Enum):
    PIG = "pig"
    COW = "cow"


class Address(BaseModel):
    city: str
    since: date


class Delivery(BaseModel):
    model_config = ConfigDict(strict=True)  # strict fields still take the JSON forms

    animal: Animal
    at: datetime
    price: Decimal
    ref: UUID
    tags: set[str]
    where: Address
    stops: list[Address]
    size: tuple[int, int]
    every: timedelta


DELIVERY_ANSWER = {
    "animal": "pig",
    "at": "2024-05-01T12:30:00Z",
    "price": "12.50",
    "ref": "12345678-1234-5678-1234-567812345678",
    "tags": ["fragile", "live"],
    "where": {"city": "Oslo", "since": "2020-01-02"},
    "stops": [{"city": "Bergen", "since": "2021-03-04"}],
    "size": [2, 3],
    "every": "PT1H",
}
DELIVERY = Delivery(
    animal=Animal.PIG,
    at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    price=Decimal("12.50"),
    ref=UUID("12345678-1234-5678-1234-567812345678"),
    tags={"fragile", "live"},
    where=Address(city="Oslo", since=date(2020, 1, 2)),
    stops=[Address(city="Bergen", since=date(2021, 3, 4))],
    size=(2, 3),
    every=timedelta(hours=1),
)
DELIVERY_TYPES = [
    "animal: Animal",
    "at: datetime",
    "price: Decimal",
    "ref: UUID",
    "tags: set",
    "where: Address",
    "stops: list",
    "size: tuple",
    "every: timedelta",
    "stops[0]: Address",
    "is Animal.PIG: True",
    "equal: True",
]


def described(answer: Delivery) -> list[str]:
    seen = [f"{name}: {type(value).__name__}" for name, value in answer]
    seen.append(f"stops[0]: {type(answer.stops[0]).__name__}")
    seen.append(f"is Animal.PIG: {answer.animal is Animal.PIG}")
    seen.append(f"equal: {answer == DELIVERY}")
    return seen


@task
def noted(seen: list[str]) -> list[str]:
    return seen


@flow
def delivery() -> dict[str, list[str]]:
    answer = legato.wait_for_input("delivery", schema=Delivery)
    first = noted(described(answer))  # what the first execution got, recorded
    legato.wait_for_input("go")  # suspends: the next execution replays "delivery"
    return {"first": first, "replayed": described(answer)}


def test_a_typed_answer_reaches_the_flow_as_the_schema_types_first_time_and_on_replay(
    any_store,
) -> None:
    handle = delivery.run()
    legato.answer_input(handle.run_id, "delivery", DELIVERY_ANSWER, by="ana")
    work_until(any_store, lambda: asks(any_store, handle.run_id, "go"))
    legato.answer_input(handle.run_id, "go", by="ana")
    work_until(any_store, lambda: any_store.get_run(handle.run_id).state.is_final)
    seen = legato.get_run(handle.run_id).result()
    assert seen == {"first": DELIVERY_TYPES, "replayed": DELIVERY_TYPES}


def test_an_answer_with_fields_the_schema_lacks_is_refused_and_nothing_recorded(
    any_store,
) -> None:
    handle = refund_approval.refund.run("o-6", 900)
    with pytest.raises(InputError) as refused:
        legato.answer_input(
            handle.run_id,
            "manager",
            {"approved": False, "notes": "too big"},
            by="ana",
            role="manager",
        )
    assert "fields its schema refund_approval:ManagerDecision does not have: notes" in str(
        refused.value
    )
    assert "(its fields: approved, note)" in str(refused.value)
    assert any_store.get_input(handle.run_id, "manager") is None
    assert any_store.get_run(handle.run_id).state is RunState.WAITING

    legato.answer_input(
        handle.run_id, "manager", {"approved": False, "note": "too big"}, by="ana", role="manager"
    )
    work_until(any_store, lambda: any_store.get_run(handle.run_id).state.is_final)
    assert legato.get_run(handle.run_id).result() == "o-6: refund declined: too big"


class Crate(BaseModel):
    model_config = ConfigDict(extra="allow")  # says so: extras are kept

    label: str


class Shipment(BaseModel):
    where: Address
    crates: list[Crate]


@flow
def shipment() -> str:
    answer = legato.wait_for_input("shipment", schema=Shipment)
    return f"{answer.where.city}: {[c.model_dump() for c in answer.crates]}"


def test_unknown_nested_fields_are_named_by_path_and_allowed_extras_are_kept(
    store,
) -> None:
    handle = shipment.run()
    wrong = {"where": {"city": "Oslo", "since": "2020-01-02", "zip": "0150"}, "crates": []}
    with pytest.raises(
        InputError, match=r"does not have: where\.zip \(its fields: where, crates\)"
    ):
        legato.answer_input(handle.run_id, "shipment", wrong, by="ana")
    right = {"where": {"city": "Oslo", "since": "2020-01-02"}, "crates": [{"label": "a", "kg": 3}]}
    legato.answer_input(handle.run_id, "shipment", right, by="ana")
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "Oslo: [{'label': 'a', 'kg': 3}]"


class Counter(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def bump(cls, value: int) -> int:
        return value + 1  # not idempotent: reading its own output back gives another value


@flow
def counts() -> int:
    return int(legato.wait_for_input("count", schema=Counter).n)


def test_a_schema_that_does_not_read_back_its_own_json_refuses_the_answer(store) -> None:
    handle = counts.run()
    with pytest.raises(InputError, match="does not read back as the same value"):
        legato.answer_input(handle.run_id, "count", {"n": 1}, by="ana")
    assert store.get_input(handle.run_id, "count") is None


class PlanV1(BaseModel):
    steps: int


class PlanV2(BaseModel):
    steps: int
    owner: str  # added after the answer was accepted


PLAN_SCHEMA: dict[str, type[BaseModel]] = {"plan": PlanV1}


@flow
def plans() -> int:
    plan = legato.wait_for_input("plan", schema=PLAN_SCHEMA["plan"])
    return int(plan.steps)


def test_an_answer_the_changed_schema_cannot_read_fails_the_run_saying_what_to_do(
    store,
) -> None:
    handle = plans.run()
    legato.answer_input(handle.run_id, "plan", {"steps": 3}, by="ana")
    PLAN_SCHEMA["plan"] = PlanV2
    try:
        finish(store, handle.run_id)
        failed = store.get_run(handle.run_id)
        assert failed.state is RunState.FAILED
        with pytest.raises(RunFailedError, match="InputError") as error:
            legato.get_run(handle.run_id).result()
        assert f"run {handle.run_id}: the answer recorded for input 'plan'" in str(error.value)
        assert "owner: Field required" in str(error.value)
        assert f"legato runs retry {handle.run_id}" in str(error.value)
    finally:
        PLAN_SCHEMA["plan"] = PlanV1
    legato.resume(handle.run_id, retry_failed=True)
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == 3
