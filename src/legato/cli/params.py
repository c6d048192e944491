"""``-p name=value`` texts converted to a flow's parameters by its type hints.

Scalars (``int``, ``float``, ``bool``, ``str``, ``datetime``, ``date``, ``Decimal``,
``UUID``, ``Path``, enums) are parsed from the text as written; lists, dicts, tuples,
sets, dataclasses, TypedDicts and pydantic models are read as JSON. pydantic's
``TypeAdapter`` does both, so the rules are pydantic's (``true/false/yes/no/1/0`` for a
bool, ISO 8601 for dates and times). An unannotated parameter takes the type of its
default, else stays a string.

``-p name=@path`` reads the text from the file ``path`` (a value too big for the command
line, or kept in a file); ``-p name=@@text`` passes ``@text``.

Every problem is collected and reported at once as a ``ParameterError`` whose message
lists the flow's parameters with their types and defaults: nothing runs before the
parameters are right.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato.errors import ParameterError

if TYPE_CHECKING:
    from legato.engine.definitions import Flow

_EMPTY = inspect.Parameter.empty
_JSON_ORIGINS = (list, dict, tuple, set, frozenset)
_NONE_WORDS = ("null", "none")
_INFERRED_FROM_DEFAULT = (int, float, bool, str, list, dict)
_SHOWN_TEXT = 100  # characters of a wrong value quoted in the error

# What a user should type, by annotation, for the parameter listing.
_FORMATS = {
    "bool": "true/false",
    "datetime": "ISO 8601, e.g. 2024-05-01T12:00:00+00:00",
    "date": "YYYY-MM-DD",
    "timedelta": "seconds or ISO 8601 duration",
}


@dataclasses.dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of the flow as the CLI presents it."""

    name: str
    annotation: Any  # resolved type hint, or inspect.Parameter.empty
    default: Any  # inspect.Parameter.empty when required
    kind: inspect._ParameterKind

    @property
    def required(self) -> bool:
        return self.default is _EMPTY and self.kind not in _VARIADIC

    @property
    def type_label(self) -> str:
        return type_label(self.annotation)


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def flow_params(flow: Flow[Any, Any]) -> list[ParamSpec]:
    hints = _type_hints(flow.fn)
    specs = []
    for param in flow.signature.parameters.values():
        annotation = hints.get(param.name, param.annotation)
        if isinstance(annotation, str):  # a hint that cannot be resolved: read the text
            annotation = _EMPTY
        if annotation is _EMPTY and param.default not in (_EMPTY, None):
            if type(param.default) in _INFERRED_FROM_DEFAULT:
                annotation = type(param.default)
        specs.append(ParamSpec(param.name, annotation, param.default, param.kind))
    return specs


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ParamText:
    """One ``-p`` value as text, and the file it was read from (``-p name=@file``)."""

    text: str
    file: str | None = None


def parse_assignments(items: list[str]) -> dict[str, ParamText]:
    """``["n=3", "name=x=y", "rows=@rows.json"]`` -> their texts by name; a value
    ``@path`` is the content of that file (``@@`` for text that starts with ``@``).

    Raises ``ParameterError`` for an item without ``=``, a name given twice, or a file
    that cannot be read."""
    values: dict[str, ParamText] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(
                f"-p {item!r} is not of the form name=value, e.g. -p count=3 or "
                '-p \'tags=["a", "b"]\' or -p rows=@rows.json'
            )
        if name in values:
            raise ParameterError(f"parameter {name!r} is given twice (-p {name}=...)")
        values[name] = _param_text(name, text)
    return values


def _param_text(name: str, text: str) -> ParamText:
    if text.startswith("@@"):
        return ParamText(text=text[1:])
    if not text.startswith("@"):
        return ParamText(text=text)
    path = text[1:]
    fix = (
        f"-p {name}=@FILE reads the value from FILE (a path relative to {Path.cwd()}); "
        f"for text that starts with @, write -p {name}=@@..."
    )
    if not path:
        raise ParameterError(f"parameter {name!r}: -p {name}=@ names no file. {fix}")
    try:
        return ParamText(text=Path(path).read_text(encoding="utf-8"), file=path)
    except UnicodeDecodeError:
        reason = "it is not UTF-8 text"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    raise ParameterError(f"parameter {name!r}: cannot read {path} ({reason}). {fix}")


def convert_params(
    flow: Flow[Any, Any], texts: Mapping[str, ParamText], *, target: str
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and keyword arguments to start ``flow`` with.

    Raises ``ParameterError`` naming every unknown, missing or ill-typed parameter and
    listing the flow's parameters.
    """
    specs = flow_params(flow)
    by_name = {spec.name: spec for spec in specs}
    extra = next((s for s in specs if s.kind is inspect.Parameter.VAR_KEYWORD), None)
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, given in texts.items():
        spec = by_name.get(name)
        if spec is None or spec.kind in _VARIADIC:
            if extra is None:
                problems.append(f"unknown parameter {name!r}")
                continue
            spec = dataclasses.replace(extra, name=name)
        try:
            values[name] = convert_value(given.text, spec.annotation)
        except ValueError as exc:
            problems.append(_ill_typed(name, spec, given, exc))
    missing = [s.name for s in specs if s.required and s.name not in texts]
    problems.extend(f"missing required parameter {name!r}" for name in missing)
    if problems:
        raise ParameterError(describe_problems(flow, specs, problems, target=target))
    args: list[Any] = []
    positional_only = [s for s in specs if s.kind is inspect.Parameter.POSITIONAL_ONLY]
    last_given = max((i for i, s in enumerate(positional_only) if s.name in values), default=-1)
    for spec in positional_only[: last_given + 1]:
        args.append(values.pop(spec.name) if spec.name in values else spec.default)
    return tuple(args), values


def _ill_typed(name: str, spec: ParamSpec, given: ParamText, exc: ValueError) -> str:
    expects = f"parameter {name!r} expects {spec.type_label}"
    if given.file is not None:
        return f"{expects}, but file {given.file} does not hold one ({exc}); fix {given.file}"
    text = given.text
    shown = text if len(text) <= _SHOWN_TEXT else text[:_SHOWN_TEXT] + "…"
    return f"{expects}, got {shown!r} ({exc})"


def describe_problems(
    flow: Flow[Any, Any], specs: list[ParamSpec], problems: list[str], *, target: str
) -> str:
    """The error message: what is wrong, then the parameters the flow takes."""
    lines = [f"flow {flow.name!r}: " + "; ".join(problems), describe_params(flow, specs)]
    example = " ".join(f"-p {s.name}=..." for s in specs if s.required) or "-p name=value"
    lines.append(f"Pass parameters as -p name=value, e.g. legato run {target} {example}")
    return "\n".join(lines)


def describe_params(flow: Flow[Any, Any], specs: list[ParamSpec] | None = None) -> str:
    specs = flow_params(flow) if specs is None else specs
    shown = [s for s in specs if s.kind is not inspect.Parameter.VAR_POSITIONAL]
    if not shown:
        return f"Flow {flow.name!r} takes no parameters."
    rows = []
    for spec in shown:
        if spec.kind is inspect.Parameter.VAR_KEYWORD:
            rows.append((f"**{spec.name}", spec.type_label, "any other name=value"))
            continue
        default = "required" if spec.required else f"default {spec.default!r}"
        rows.append((spec.name, spec.type_label, default))
    width_name = max(len(r[0]) for r in rows)
    width_type = max(len(r[1]) for r in rows)
    body = [f"  {n:<{width_name}}  {t:<{width_type}}  {d}" for n, t, d in rows]
    return f"Parameters of flow {flow.name!r}:\n" + "\n".join(body)


def type_label(annotation: Any) -> str:
    if annotation is _EMPTY:
        return "str"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        label = annotation.__name__
    else:
        label = str(annotation).replace("typing.", "")
    for module in ("datetime.", "decimal.", "uuid.", "pathlib."):
        label = label.replace(module, "")
    hint = _FORMATS.get(label)
    if hint is None and _wants_json(annotation):
        hint = "JSON"
    return f"{label} ({hint})" if hint else label


def convert_value(text: str, annotation: Any) -> Any:
    """Convert one text to ``annotation``; ``ValueError`` says why it does not fit."""
    if annotation is _EMPTY or annotation is Any or annotation is str:
        return text
    args = typing.get_args(annotation)
    if _is_union(annotation):
        if type(None) in args and text.strip().lower() in _NONE_WORDS:
            return None
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return convert_value(text, members[0])
        if str in members and not _looks_like_json(text):
            return text
    from pydantic import TypeAdapter, ValidationError

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - a type pydantic cannot validate: pass the text
        return text
    if _wants_json(annotation):
        attempts: tuple[Callable[[str], Any], ...] = (adapter.validate_json,)
    else:  # text as written first ("3" for an int), then as JSON (Literal[1, 2])
        attempts = (adapter.validate_python, adapter.validate_json)
    first_error: ValidationError | None = None
    for attempt in attempts:
        try:
            return _plain_timezone(attempt(text))
        except ValidationError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise ValueError(_reason(first_error)) from None


def _plain_timezone(value: Any) -> Any:
    """pydantic gives aware datetimes its own tzinfo class; users expect the stdlib's."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        offset = value.utcoffset()
        assert offset is not None
        return value.replace(tzinfo=UTC if not offset else timezone(offset))
    return value


def _reason(error: Any) -> str:
    details = error.errors(include_url=False)
    parts = []
    for detail in details[:3]:
        where = ".".join(str(p) for p in detail.get("loc", ()))
        parts.append(f"{where}: {detail['msg']}" if where else str(detail["msg"]))
    return "; ".join(parts)


def _wants_json(annotation: Any) -> bool:
    """Whether the value is structured, so that the text is read as JSON."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _wants_json(typing.get_args(annotation)[0])
    if _is_union(annotation):
        return all(_wants_json(a) for a in typing.get_args(annotation) if a is not type(None))
    cls = origin if origin is not None else annotation
    if not isinstance(cls, type) or issubclass(cls, (str, bytes)):
        return False
    if issubclass(cls, _JSON_ORIGINS) or issubclass(cls, (Mapping, Collection)):
        return True
    if origin is None and (dataclasses.is_dataclass(cls) or typing.is_typeddict(cls)):
        return True
    return any(
        base.__name__ == "BaseModel" and base.__module__.startswith("pydantic")
        for base in cls.__mro__
    )


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _looks_like_json(text: str) -> bool:
    return text.strip()[:1] in ("{", "[", '"') or text.strip() in ("true", "false", "null")


def _type_hints(fn: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable hints: fall back per parameter
        return {}
