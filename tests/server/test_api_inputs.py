"""Answering inputs through the API: validated like ``legato approve``, the first answer
wins, ``wait_for_input(roles=...)`` enforced against the token's role or name."""

from __future__ import annotations

from server_helpers import add_tokens, snapshot, state_of, work_until

from legato.states import RunState
from legato.store.tokens import Role


def waiting_run(api, target: str) -> str:
    run_id = api.client("operator").post("/api/v1/runs", json={"target": target}).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, run_id) is RunState.WAITING)
    return run_id


def test_open_inputs_are_listed_with_their_schema_and_roles(api):
    run_id = waiting_run(api, "api_flows:approval")
    (question,) = api.client("viewer").get("/api/v1/inputs").json()["inputs"]
    assert question["run_id"] == run_id and question["name"] == "manager"
    assert question["roles"] == ["manager"]
    assert question["schema"]["properties"]["approved"]["type"] == "boolean"


def test_a_wrong_field_is_refused_naming_it_and_the_run_keeps_waiting(api):
    run_id = waiting_run(api, "api_flows:anyone")
    client = api.client("approver")
    before = snapshot(api.store)
    url = f"/api/v1/runs/{run_id}/inputs/ok/approve"
    wrong = client.post(url, json={"input": {"approved": "maybe"}})
    assert wrong.status_code == 422
    assert "approved: Input should be a valid boolean" in wrong.json()["error"]["message"]
    extra = client.post(url, json={"input": {"approved": True, "colour": "red"}})
    assert extra.status_code == 422 and "colour" in extra.json()["error"]["message"]
    assert snapshot(api.store) == before


def test_the_first_answer_wins_and_a_second_is_told_who_answered(api):
    run_id = waiting_run(api, "api_flows:anyone")
    url = f"/api/v1/runs/{run_id}/inputs/ok/approve"
    first = api.client("approver").post(url, json={"input": {"approved": True}, "note": "fine"})
    assert first.status_code == 200
    assert first.json()["answered_by"] == "approver" and first.json()["value"]["approved"] is True
    second = api.client("admin").post(
        f"/api/v1/runs/{run_id}/inputs/ok/reject", json={"reason": "no"}
    )
    assert second.status_code == 409
    assert "already answered by approver" in second.json()["error"]["message"]
    work_until(api.store, lambda: state_of(api.store, run_id).is_final)
    assert api.store.get_run(run_id).state is RunState.COMPLETED
    assert any(
        e.by == "approver" and "answered" in (e.message or "") for e in api.store.get_events(run_id)
    )


def test_a_rejection_reaches_the_flow_with_its_reason(api):
    run_id = waiting_run(api, "api_flows:anyone")
    rejected = api.client("approver").post(
        f"/api/v1/runs/{run_id}/inputs/ok/reject", json={"reason": "too late"}
    )
    assert rejected.json()["decision"] == "rejected" and rejected.json()["value"] == "too late"
    work_until(api.store, lambda: state_of(api.store, run_id).is_final)
    assert (
        api.client("viewer").get(f"/api/v1/runs/{run_id}").json()["result"] == "rejected: too late"
    )


def test_roles_of_the_input_are_enforced_and_a_refusal_changes_nothing(api):
    run_id = waiting_run(api, "api_flows:approval")
    url = f"/api/v1/runs/{run_id}/inputs/manager/approve"
    before = snapshot(api.store)
    refused = api.client("approver").post(url, json={"input": {"approved": True}})
    assert refused.status_code == 403
    assert "may be answered by manager" in refused.json()["error"]["message"]
    assert snapshot(api.store) == before
    add_tokens(api.store, "manager", role=Role.APPROVER)  # a token named after the role
    answered = api.client("manager").post(url, json={"input": {"approved": True, "amount": 5}})
    assert answered.status_code == 200 and answered.json()["answered_by"] == "manager"


def test_answering_an_input_nobody_waits_for_is_a_conflict(api):
    run_id = waiting_run(api, "api_flows:anyone")
    other = api.client("approver").post(
        f"/api/v1/runs/{run_id}/inputs/other/approve", json={"input": {}}
    )
    assert other.status_code == 409 and "it waits for: ok" in other.json()["error"]["message"]
    unknown = api.client("approver").post("/api/v1/runs/nope/inputs/ok/approve", json={})
    assert unknown.status_code == 404
