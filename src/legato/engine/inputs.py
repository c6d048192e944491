"""Human in the loop: ``wait_for_input`` in a flow, ``answer_input`` from a person.

The question (name, prompt, JSON schema, deadline, roles) is recorded with the waiting
step ``wait_for_input#n``; the run waits holding nothing. An answer is validated against
the schema where it is given (``legato approve``), recorded once (the first answer wins)
with who and when, and makes the run due; a worker resumes it by replay. The accepted
input is replayed as recorded, never validated again.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any

from legato.clock import utcnow
from legato.engine.context import current_run, current_step, resolve_store
from legato.engine.retries import to_seconds
from legato.engine.waits import _NO_DEFAULT
from legato.errors import InputError, InputRejected, RunStateError, UsageError  # noqa: F401 (InputRejected: older import path)
from legato.records import EventRecord, InputAnswer
from legato.serialization import dumps, loads
from legato.states import StepState


def wait_for_input(
    name: str,
    *,
    schema: Any = None,
    prompt: str | None = None,
    timeout: Any = None,
    default: Any = _NO_DEFAULT,
    roles: list[str] | None = None,
) -> Any:
    """Wait durably for a person to answer ``name``; return the accepted input.

    ``schema`` is a pydantic model (the answer is validated against it where it is
    given, and returned as that model); ``prompt`` says what to decide; ``roles`` who
    may answer. With ``timeout``, the wait ends then with ``default`` if one was given,
    else ``WaitTimeout``. A rejection raises ``InputRejected``.
    """
    if not isinstance(name, str) or not name or " " in name:
        raise UsageError(f"wait_for_input(name={name!r}): a name without spaces, e.g. 'manager'")
    run = current_run.get()
    if run is None or current_step.get() is not None:
        raise UsageError(
            f"wait_for_input({name!r}) waits inside a running flow: call it in a @flow "
            "function, not in a task or outside a flow"
        )
    seconds = None if timeout is None else to_seconds(timeout, option="timeout", where=name)
    question = {
        "name": name,
        "prompt": prompt,
        "schema": _json_schema(schema),
        "model": _model_path(schema),
        "roles": list(roles or []),
    }
    return run.wait_for_input(
        name, question=question, timeout=seconds, default=default, schema=schema
    )


def _json_schema(schema: Any) -> dict[str, Any] | None:
    if schema is None:
        return None
    json_schema = getattr(schema, "model_json_schema", None)
    if json_schema is None:
        raise UsageError(f"wait_for_input(schema={schema!r}): give a pydantic model class")
    return json_schema()


def _model_path(schema: Any) -> str | None:
    if schema is None:
        return None
    qualname = schema.__qualname__
    if "<locals>" in qualname:
        raise UsageError(
            f"wait_for_input(schema={qualname}): define the model at module level, so that "
            "the answer can be validated where it is given"
        )
    return f"{schema.__module__}:{qualname}"


def as_model(schema: Any, value: Any) -> Any:
    """The recorded input as the schema's model, built without validating it again."""
    if schema is None or not isinstance(value, dict):
        return value
    return schema.model_construct(**value)


def answer_input(
    run_id: str,
    name: str,
    data: Any = None,
    *,
    by: str | None = None,
    role: str | None = None,
    reject: str | None = None,
    store: Any = None,
) -> InputAnswer:
    """Approve (``data``) or reject (``reject="reason"``) the run's input ``name``.

    Raises ``InputError`` when the run does not wait for it, the answer does not fit
    the schema (field by field), the role may not answer, or someone answered first.
    """
    opened: Any = resolve_store(store)  # a QueueStore: every backend is one
    run = opened.get_run(run_id)
    question = _question(opened, run_id, name)
    if question is None:
        waiting = [q["name"] for q in _questions(opened, run_id)]
        raise InputError(
            f"run {run_id} ({run.state.value}) is not waiting for input {name!r}"
            + (f"; it waits for: {', '.join(waiting)}" if waiting else "")
        )
    first = opened.get_input(run_id, name)
    if first is not None:
        raise _already(first)
    roles = question.get("roles") or []
    if roles and role not in roles:
        raise InputError(
            f"input {name!r} of run {run_id} may be answered by {', '.join(roles)}; "
            f"pass --role (got {role!r})"
        )
    if reject is None:
        payload = dumps(_validated(question, data, run_id, name, target=run.target))
        decision = "approved"
    else:
        payload = dumps(reject)
        decision = "rejected"
    answer = InputAnswer(
        run_id=run_id,
        name=name,
        decision=decision,
        payload=payload,
        answered_by=by,
        answered_at=utcnow(),
    )
    recorded = opened.answer_input(answer)
    if recorded != answer:
        raise _already(recorded)
    message = f"input {name!r} {decision}" + (f": {reject}" if reject else "")
    opened.record(
        [
            EventRecord(
                run_id=run_id,
                at=answer.answered_at,
                kind="run",
                state="waiting",
                message=message,
                by=by,
            )
        ]
    )
    return answer


def _validated(
    question: dict[str, Any], data: Any, run_id: str, name: str, *, target: str | None
) -> Any:
    path = question.get("model")
    if not path:
        return data
    module_name, _, qualname = path.partition(":")
    try:
        if module_name not in sys.modules and target is not None:
            # A flow loaded from a file lives in a module named after that file: loading
            # the run's target here gives the schema the same module again.
            from legato.engine.targets import load_target

            with contextlib.suppress(Exception):
                load_target(target)
        model: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            model = getattr(model, part)
    except (ImportError, AttributeError) as exc:
        raise InputError(
            f"cannot check the answer to input {name!r} of run {run_id}: its schema {path} "
            f"does not import here ({exc}); answer where the flow's code is importable"
        ) from None
    from pydantic import ValidationError

    try:
        return model.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(input)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InputError(
            f"the answer to input {name!r} of run {run_id} does not fit its schema: {fields}. "
            "The run keeps waiting."
        ) from None


def _already(first: InputAnswer) -> InputError:
    return InputError(
        f"input {first.name!r} of run {first.run_id} was already {first.decision} by "
        f"{first.answered_by or 'someone'} at {first.answered_at.isoformat()}"
    )


def _questions(store: Any, run_id: str) -> list[dict[str, Any]]:
    return [
        loads(step.result)
        for step in store.get_steps(run_id)
        if step.task_name == "wait_for_input" and step.state is StepState.WAITING and step.result
    ]


def _question(store: Any, run_id: str, name: str) -> dict[str, Any] | None:
    run = store.get_run(run_id)
    if run.state.is_final:
        raise RunStateError(f"run {run_id} already ended ({run.state.value}); nothing to answer")
    for question in _questions(store, run_id):
        if question.get("name") == name:
            return question
    return None
