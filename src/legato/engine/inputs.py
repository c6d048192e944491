"""Human in the loop: ``wait_for_input`` in a flow, ``answer_input`` from a person.

The question (name, prompt, JSON schema, deadline, roles) is recorded with the waiting
step ``wait_for_input#n``; the run waits holding nothing. An answer is validated against
the schema where it is given (``legato approve``), recorded once (the first answer wins)
with who and when, and makes the run due; a worker resumes it by replay.

Typed answers: the validated answer is recorded in the schema's JSON form
(``model_dump(mode="json")``), and the flow gets it back rebuilt by the schema from that
JSON (``model_validate_json``), so an Enum field is the Enum member, a datetime a
datetime, a nested model that model, on the first execution and on every replay. An
answer is accepted only once that rebuild has been tried where it is given and gave the
very value that was validated, so the rebuild cannot refuse what was accepted unless the
schema itself changed since (then the flow gets an ``InputError`` saying so). Nobody is
asked again and the answer is never re-judged: replay returns what was recorded.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from datetime import datetime
from typing import Any

from legato.clock import utcnow
from legato.engine.context import NO_DEFAULT, current_run, current_step, resolve_store
from legato.engine.retries import to_seconds
from legato.engine.targets import load_target
from legato.errors import InputError, InputRejected, RunStateError, UsageError  # noqa: F401 (InputRejected: older import path)
from legato.records import EventRecord, InputAnswer, InputWait
from legato.serialization import dumps, loads
from legato.states import StepState
from legato.store.base import Store


def wait_for_input(
    name: str,
    *,
    schema: Any = None,
    prompt: str | None = None,
    timeout: Any = None,
    default: Any = NO_DEFAULT,
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
    try:
        spec = InputWait(name=name, question=question, schema=schema)
        return run.wait(spec, timeout=seconds, default=default)
    except _Unreadable as exc:
        raise InputError(
            f"run {run.run_id}: the answer recorded for input {name!r} no longer reads back "
            f"as {_model_path(schema)} ({exc}). Did the schema or one of its validators "
            "change since the answer was accepted? Restore the schema as it was, then "
            f"retry the run: legato runs retry {run.run_id}"
        ) from None


def _json_schema(schema: Any) -> dict[str, Any] | None:
    if schema is None:
        return None
    json_schema = getattr(schema, "model_json_schema", None)
    if json_schema is None:
        raise UsageError(f"wait_for_input(schema={schema!r}): give a pydantic model class")
    described: dict[str, Any] = json_schema()
    return described


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


class _Unreadable(Exception):
    """A recorded answer the schema's JSON validation refuses (the schema changed)."""


def as_model(schema: Any, value: Any) -> Any:
    """The recorded answer (the schema's JSON form) rebuilt as the schema's model, with
    the schema's own types (Enum members, datetimes, nested models, ...).

    Without a schema the recorded JSON value is returned as is. Raises ``_Unreadable``
    (turned into an ``InputError`` naming the run by ``wait_for_input``) only when the
    schema no longer reads what it wrote when the answer was accepted.
    """
    if schema is None:
        return value
    return _rebuilt(schema, value)


def _rebuilt(schema: Any, value: Any) -> Any:
    from pydantic import ValidationError

    try:
        return schema.model_validate_json(json.dumps(value))
    except ValidationError as exc:
        raise _Unreadable(_fields_text(exc)) from None


def answer_input(
    run_id: str,
    name: str,
    data: Any = None,
    *,
    by: str | None = None,
    role: str | None = None,
    reject: str | None = None,
    store: Store | str | None = None,
) -> InputAnswer:
    """Answer (``data``) or reject (``reject="reason"``) the run's input ``name``.

    As ``record_answer`` (which the operations service calls too), on ``store`` or the
    default store.
    """
    opened = resolve_store(store)
    return record_answer(opened, run_id, name, data, by=by, role=role, reject=reject, at=utcnow())


def record_answer(
    store: Store,
    run_id: str,
    name: str,
    data: Any = None,
    *,
    by: str | None,
    role: str | None,
    reject: str | None,
    at: datetime,
) -> InputAnswer:
    """Answer (``data``) or reject (``reject="reason"``) the run's input ``name``.

    The answer is recorded with ``decision`` "answered" (or "rejected") and, with a
    schema, in the schema's JSON form, at ``at``, and the run's history gets an event by
    ``by``. ``by`` and ``role`` are taken as declared: the caller vouches for them.
    Raises ``RunNotFoundError``; ``RunStateError`` when the run has ended; ``InputError``,
    recording nothing, when the run does not wait for it, the answer does not fit the
    schema (field by field) or has fields the schema does not have, the role may not
    answer, or someone answered first.
    """
    run = store.get_run(run_id)
    question = _question(store, run_id, name)
    if question is None:
        waiting = [q["name"] for q in _questions(store, run_id)]
        raise InputError(
            f"run {run_id} ({run.state.value}) is not waiting for input {name!r}"
            + (f"; it waits for: {', '.join(waiting)}" if waiting else "")
        )
    first = store.get_input(run_id, name)
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
        decision = "answered"
    else:
        payload = dumps(reject)
        decision = "rejected"
    answer = InputAnswer(
        run_id=run_id,
        name=name,
        decision=decision,
        payload=payload,
        answered_by=by,
        answered_at=at,
    )
    recorded = store.answer_input(answer)
    if recorded != answer:
        raise _already(recorded)
    message = f"input {name!r} {decision}" + (f": {reject}" if reject else "")
    store.record(
        [EventRecord(run_id=run_id, at=at, kind="run", state="waiting", message=message, by=by)]
    )
    return answer


def _validated(
    question: dict[str, Any], data: Any, run_id: str, name: str, *, target: str | None
) -> Any:
    """``data`` checked against the question's schema, in the schema's JSON form: what
    is recorded, and what ``as_model`` rebuilds into exactly the validated model."""
    path = question.get("model")
    if not path:
        return data
    model = _schema_model(path, run_id, name, target=target)
    from pydantic import ValidationError

    where = f"the answer to input {name!r} of run {run_id}"
    try:
        validated = _validate(model, data)
    except ValidationError as exc:
        raise InputError(
            f"{where} does not fit its schema: {_fields_text(exc)}. The run keeps waiting."
        ) from None
    unknown = _unknown_fields(validated, data)
    if unknown:
        known = ", ".join((question.get("schema") or {}).get("properties", {})) or "none"
        raise InputError(
            f"{where} has fields its schema {path} does not have: {', '.join(unknown)} "
            f"(its fields: {known}). Nothing was recorded; the run keeps waiting."
        )
    recorded = validated.model_dump(mode="json", round_trip=True)
    _check_reads_back(model, validated, recorded, where=where, path=path)
    return recorded


def _schema_model(path: str, run_id: str, name: str, *, target: str | None) -> Any:
    """The pydantic model class the question names (``module:QualName``)."""
    module_name, _, qualname = path.partition(":")
    try:
        if module_name not in sys.modules and target is not None:
            # A flow loaded from a file lives in a module named after that file: loading
            # the run's target here gives the schema the same module again.
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
    return model


def _validate(model: Any, data: Any) -> Any:
    """Validate plain JSON data (what the CLI and the API receive) in the schema's JSON
    mode, as it will be rebuilt; Python objects (a model, datetimes) in Python mode."""
    if _is_plain_json(data):
        return model.model_validate_json(json.dumps(data))
    return model.model_validate(data)


def _is_plain_json(data: Any) -> bool:
    if data is None or type(data) in (str, int, float, bool):
        return True
    if type(data) is list:
        return all(_is_plain_json(item) for item in data)
    if type(data) is dict:
        return all(type(k) is str and _is_plain_json(v) for k, v in data.items())
    return False


def _unknown_fields(value: Any, data: Any, prefix: str = "") -> list[str]:
    """The keys of ``data`` that no field of the model read, as dotted paths (nested
    models and lists of them included; a model with ``extra="allow"`` keeps extras)."""
    from pydantic import BaseModel, RootModel

    if isinstance(value, RootModel):
        return _unknown_fields(value.root, data, prefix)
    if isinstance(value, BaseModel) and isinstance(data, dict):
        names = _input_names(type(value))
        keeps_extra = type(value).model_config.get("extra") == "allow"
        unknown: list[str] = []
        for key, item in data.items():
            if key in names:
                unknown += _unknown_fields(getattr(value, names[key]), item, f"{prefix}{key}.")
            elif not keeps_extra:
                unknown.append(f"{prefix}{key}")
        return unknown
    if isinstance(value, list | tuple) and isinstance(data, list) and len(value) == len(data):
        return [
            path
            for i, (v, d) in enumerate(zip(value, data, strict=True))
            for path in _unknown_fields(v, d, f"{prefix}{i}.")
        ]
    if isinstance(value, dict) and isinstance(data, dict):
        return [
            path
            for key, item in data.items()
            if key in value
            for path in _unknown_fields(value[key], item, f"{prefix}{key}.")
        ]
    return []


def _input_names(model: Any) -> dict[str, str]:
    """Every key an input may use for a field of ``model`` (name, alias, alias choices),
    mapped to the field's name."""
    names: dict[str, str] = {}
    for field_name, info in model.model_fields.items():
        names[field_name] = field_name
        if info.alias:
            names[info.alias] = field_name
        choices = getattr(info.validation_alias, "choices", [info.validation_alias])
        for choice in choices:
            if isinstance(choice, str):
                names[choice] = field_name
            elif choice is not None and getattr(choice, "path", None):
                names[str(choice.path[0])] = field_name
    return names


def _check_reads_back(model: Any, validated: Any, recorded: Any, *, where: str, path: str) -> None:
    """Refuse an answer whose JSON form the schema would not rebuild into the validated
    value (a serializer the validators do not read back, a validator that is not
    idempotent): the flow must get exactly what was accepted, on every replay."""
    try:
        again = _rebuilt(model, recorded).model_dump()
    except _Unreadable as exc:
        detail = str(exc)
    else:
        checked = validated.model_dump()  # the fields only: private attributes aside
        if again == checked:
            return
        detail = f"it was {checked!r} when checked and {again!r} when read back"
    raise InputError(
        f"{where} fits its schema, but the schema's JSON form of it does not read back as "
        f"the same value ({detail}), so the flow could not be given what was accepted. "
        f"Nothing was recorded. Fix {path}: validating model_dump(mode='json') of a "
        "valid value must give that value again (serializers and validators that round-trip)."
    )


def _fields_text(exc: Any) -> str:
    """A pydantic ``ValidationError`` as ``field.path: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or '(input)'}: {error['msg']}"
        for error in exc.errors()
    )


def _already(first: InputAnswer) -> InputError:
    return InputError(
        f"input {first.name!r} of run {first.run_id} was already {first.decision} by "
        f"{first.answered_by or 'someone'} at {first.answered_at.isoformat()}"
    )


def _questions(store: Store, run_id: str) -> list[dict[str, Any]]:
    return [
        loads(step.result)
        for step in store.get_steps(run_id)
        if step.task_name == "wait_for_input" and step.state is StepState.WAITING and step.result
    ]


def _question(store: Store, run_id: str, name: str) -> dict[str, Any] | None:
    run = store.get_run(run_id)
    if run.state.is_final:
        raise RunStateError(f"run {run_id} already ended ({run.state.value}); nothing to answer")
    for question in _questions(store, run_id):
        if question.get("name") == name:
            return question
    return None
