"""``/api/v1/inputs`` and ``/api/v1/runs/{id}/inputs/{name}/approve|reject``: questions
flows wait on (``wait_for_input``), answered by people.

An input with ``roles`` may be answered only by a token whose role or name is one of
them (403 otherwise, nothing recorded). Answers are validated like ``legato approve``: a
field that does not fit gets 422 naming it and the run keeps waiting; the first answer
wins and a later one gets 409 naming who answered.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from legato.errors import InputError
from legato.records import InputAnswer
from legato.serialization import loads
from legato.server import actions
from legato.server.api.deps import (
    ERRORS,
    RUN_NOT_FOUND,
    Answerer,
    Reader,
    ServerStore,
    Store,
    documented,
)
from legato.server.api.runs import get_existing
from legato.server.auth import Principal
from legato.server.errors import ApiError
from legato.server.schemas import Answered, Approve, InputOut, InputsOut, Reject, stored
from legato.states import StepState

router = APIRouter(tags=["inputs"], responses=ERRORS)

ANSWER_ERRORS = {
    **RUN_NOT_FOUND,
    409: documented("The input was answered already (naming who), or is not waiting."),
}


@router.get("/inputs", response_model=InputsOut)
def list_inputs(
    store: Store, _: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> InputsOut:
    """Questions waiting for people, oldest first, with their JSON schema and roles."""
    inputs = []
    for step in store.open_inputs(limit):
        question: dict[str, Any] = loads(step.result) if step.result else {}
        inputs.append(
            InputOut(
                run_id=step.run_id,
                step=step.key,
                name=str(question.get("name", "")),
                prompt=question.get("prompt"),
                schema=question.get("schema"),
                roles=list(question.get("roles") or []),
                waiting_since=step.started_at,
            )
        )
    return InputsOut(inputs=inputs)


@router.post(
    "/runs/{run_id}/inputs/{name}/approve", response_model=Answered, responses=ANSWER_ERRORS
)
def approve(run_id: str, name: str, body: Approve, store: Store, caller: Answerer) -> Answered:
    """Answer the run's input ``name`` with ``input`` (checked against its schema)."""
    role = _allowed_role(store, run_id, name, caller)
    answer = _answer(store, run_id, name, caller, role, data=body.input, reject=None)
    return _answered(answer)


@router.post(
    "/runs/{run_id}/inputs/{name}/reject", response_model=Answered, responses=ANSWER_ERRORS
)
def reject(run_id: str, name: str, body: Reject, store: Store, caller: Answerer) -> Answered:
    """Reject the run's input ``name``; the flow gets ``InputRejected`` with the reason."""
    role = _allowed_role(store, run_id, name, caller)
    answer = _answer(store, run_id, name, caller, role, data=None, reject=body.reason)
    return _answered(answer)


def _allowed_role(store: ServerStore, run_id: str, name: str, caller: Principal) -> str | None:
    """The entry of the question's ``roles`` the caller answers as (its role or its
    name); 403 when it has none of them. Questions without roles: anyone who may answer."""
    get_existing(store, run_id)
    roles = _question_roles(store, run_id, name)
    if not roles:
        return caller.role.value
    for allowed in (caller.role.value, caller.name):
        if allowed in roles:
            return allowed
    raise ApiError(
        403,
        "forbidden",
        f"input {name!r} of run {run_id} may be answered by {', '.join(roles)}; token "
        f"{caller.name!r} (role {caller.role.value}) is neither",
        "Answer with a token whose name or role is one of those.",
    )


def _question_roles(store: ServerStore, run_id: str, name: str) -> list[str]:
    for step in store.get_steps(run_id):
        if step.task_name == "wait_for_input" and step.state is StepState.WAITING and step.result:
            question = loads(step.result)
            if question.get("name") == name:
                return [str(role) for role in question.get("roles") or []]
    return []  # not waiting for it: answer_input says so


def _answer(
    store: ServerStore,
    run_id: str,
    name: str,
    caller: Principal,
    role: str | None,
    *,
    data: Any,
    reject: str | None,
) -> InputAnswer:
    try:
        return actions.answer(
            store, run_id, name, data=data, reject=reject, role=role, actor=caller.name
        )
    except InputError as exc:
        if "was already" in str(exc):
            raise ApiError(
                409, "already_answered", str(exc), "The first answer stands; nothing changed."
            ) from None
        if "is not waiting for input" in str(exc):
            raise ApiError(
                409, "not_waiting", str(exc), "See open questions with GET /api/v1/inputs."
            ) from None
        raise ApiError(
            422, "invalid_input", str(exc), "Fix the named field; the run keeps waiting."
        ) from None


def _answered(answer: InputAnswer) -> Answered:
    return Answered(
        run_id=answer.run_id,
        name=answer.name,
        decision=answer.decision,
        answered_by=answer.answered_by,
        answered_at=answer.answered_at,
        value=stored(answer.payload, "json"),
    )
