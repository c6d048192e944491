"""wait_for_input: a person answers; validation, first answer wins, rejection, timeout."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import refund_approval  # noqa: E402

import legato  # noqa: E402
from legato import flow  # noqa: E402
from legato.engine.inputs import InputError, InputRejected  # noqa: E402
from legato.errors import WaitTimeout  # noqa: E402
from legato.states import RunState, StepState  # noqa: E402
from legato.worker import Worker  # noqa: E402


def finish(store, run_id: str) -> None:
    worker = Worker(store)
    deadline = time.monotonic() + 20
    while store.get_run(run_id).state is RunState.WAITING and time.monotonic() < deadline:
        worker.tick()
        time.sleep(0.02)
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_small_refunds_go_through_without_anyone(sqlite_store) -> None:
    assert refund_approval.refund("o-1", 80) == "o-1: refunded 80 for o-1"


def test_a_large_refund_waits_for_a_manager_and_goes_on_once_approved(sqlite_store) -> None:
    handle = refund_approval.refund.run("o-2", 900)
    assert handle.state is RunState.WAITING
    (question,) = sqlite_store.open_inputs()
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
    assert sqlite_store.get_run(handle.run_id).state is RunState.WAITING  # still waiting

    legato.answer_input(
        handle.run_id, "manager", {"approved": True, "note": "ok"}, by="ana", role="manager"
    )
    with pytest.raises(InputError, match="already approved by ana"):
        legato.answer_input(handle.run_id, "manager", {"approved": False}, by="cy", role="manager")
    finish(sqlite_store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "o-2: refunded 900 for o-2"
    history = [e.message for e in sqlite_store.get_events(handle.run_id) if e.by == "ana"]
    assert history == ["input 'manager' approved"]


def test_a_declined_refund_and_the_replay_keeps_the_recorded_answer(sqlite_store) -> None:
    handle = refund_approval.refund.run("o-3", 900)
    legato.answer_input(
        handle.run_id,
        "manager",
        {"approved": False, "note": "no receipt"},
        by="ana",
        role="manager",
    )
    finish(sqlite_store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "o-3: refund declined: no receipt"


def test_two_answers_raced_exactly_one_wins(sqlite_store) -> None:
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


def test_timeout_and_rejection_reach_the_flow(sqlite_store) -> None:
    assert asks_with_timeout() == "nobody answered"
    handle = rejects.run()
    legato.answer_input(handle.run_id, "boss", reject="too expensive", by="cy")
    finish(sqlite_store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "rejected by cy: too expensive"


def test_answering_what_is_not_asked_says_so(sqlite_store) -> None:
    handle = rejects.run()
    with pytest.raises(InputError, match="not waiting for input 'other'.*boss"):
        legato.answer_input(handle.run_id, "other", {}, by="x")
