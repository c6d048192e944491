"""How task results and flow parameters become stored text, and come back.

Two serializers, chosen per task or flow with ``serializer=``:

``"json"`` (the default)
    Readable JSON via orjson that round-trips both value *and* type:
    ``loads(dumps(v)) == v`` and ``type(loads(dumps(v))) is type(v)``, also inside containers.
    Supported: None, bool, int (any size), float (nan and infinities too), str, list, dict
    (any hashable keys that are themselves supported), tuple, set, frozenset, bytes,
    datetime (naive or aware; a ``zoneinfo`` zone is kept by key), date, time, timedelta,
    Decimal, UUID, pathlib paths, Enum members, dataclass instances and pydantic v2 models.
    Subclasses of the built-in types (``OrderedDict``, ``numpy.float64``) are refused rather
    than silently turned into their base type.

    Plain JSON is written as is. Where JSON would lose the type, the value is wrapped in a
    small tagged object, e.g. ``{"__legato__": "tuple", "v": [1, 2]}``; a user dict that
    itself has a ``"__legato__"`` key is stored in the tagged ``"dict"`` form, so it
    round-trips too. Enums, dataclasses and pydantic models record their class as
    ``"module:qualname"`` (``"/abs/file.py:qualname"`` for a class from a loose file, such
    as the script run as ``__main__``: see :mod:`legato.sources`); loading imports that
    module (or file) and accepts the class only if it is
    still an Enum, a dataclass or a pydantic model respectively (dataclasses are rebuilt
    through their ``__init__``, models through ``model_validate``; nothing else is ever
    called). So the code that defines them must be importable wherever the value is loaded,
    and classes defined inside a function are refused when the value is stored.

``"pickle"`` (opt-in)
    ``pickle`` protocol 5, base64-encoded, for values JSON cannot hold. Loading pickle runs
    arbitrary code named by the data: legato only loads pickles from its own store, and this
    serializer must never be used on text from an untrusted source.

:func:`fingerprint` hashes the canonical JSON encoding (sorted keys, sorted set members), so
equal inputs give equal cache keys whatever their dict insertion or set iteration order.
Stored text is trusted data written by legato: loading JSON may import the modules named in
it, like pickle would.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import pathlib
import pickle
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from legato.errors import SerializationError
from legato.sources import code_ref, import_part, is_file_part

__all__ = ["SERIALIZERS", "TAG", "dumps", "fingerprint", "loads"]

SERIALIZERS = ("json", "pickle")
TAG = "__legato__"

# orjson writes integers in the 64-bit range (signed or unsigned); larger ones are tagged.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1

_PATH_TYPES: dict[str, type[pathlib.PurePath]] = {
    cls.__name__: cls
    for cls in (
        pathlib.PurePath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.Path,
        pathlib.PosixPath,
        pathlib.WindowsPath,
    )
}

_PICKLE_HINT = 'opt in to serializer="pickle" on the task'


def dumps(value: Any, serializer: str = "json", *, name: str = "value") -> str:
    """Encode ``value`` as text with ``serializer`` ("json" or "pickle").

    ``name`` starts the path in error messages (``result['rows'][3].owner``). Raises
    :class:`SerializationError` naming the type and where it sits if the value cannot be
    stored, or if the serializer is unknown.
    """
    if serializer != "json":
        return _dumps_other(value, serializer, name)
    # Fast path: results of most tasks are primitives or flat containers of them.
    t = type(value)
    if (
        t is str
        or t is int
        or t is bool
        or value is None
        or (t is float and value - value == 0.0)  # finite: orjson writes nan and inf as null
        or (t is dict and TAG not in value and _is_flat_dict(value))
        or (t is list and _is_flat_list(value))
    ):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            pass  # an int past 64 bits or a str with lone surrogates: the full path explains
    return _encode_text(value, name, canonical=False).decode()


def loads(text: str, serializer: str = "json") -> Any:
    """Decode text written by :func:`dumps` with the same ``serializer``.

    Raises :class:`SerializationError` if the text is not valid for the serializer, or if a
    class it names cannot be imported or is no longer a dataclass / pydantic model / Enum.
    """
    if serializer != "json":
        return _loads_other(text, serializer)
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(
            f"cannot load stored text with the json serializer: it is not valid JSON ({exc}). "
            "Was it written with another serializer?"
        ) from exc
    if TAG not in text:
        return data
    return _decode(data)


def fingerprint(value: Any) -> str:
    """Return a stable sha256 hex digest of ``value``'s canonical JSON encoding.

    Equal dicts and sets give equal fingerprints whatever their order, in any process.
    Raises :class:`SerializationError` for values the json serializer cannot store.
    """
    t = type(value)
    if (
        t is str
        or t is bool
        or value is None
        or (t is int and _INT_MIN <= value <= _INT_MAX)
        or (t is float and value - value == 0.0)
        or (t is dict and TAG not in value and _is_flat_dict(value))
        or (t is list and _is_flat_list(value))
    ):
        try:
            data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            data = _encode_text(value, "value", canonical=True)
    else:
        data = _encode_text(value, "value", canonical=True)
    return hashlib.sha256(data).hexdigest()


# -- fast-path checks ---------------------------------------------------------------------


def _is_flat_dict(d: dict[Any, Any]) -> bool:
    for k, v in d.items():
        if type(k) is not str:
            return False
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if _INT_MIN <= v <= _INT_MAX:
                continue
            return False
        if t is float and v - v == 0.0:
            continue
        return False
    return True


def _is_flat_list(items: list[Any]) -> bool:
    for v in items:
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if _INT_MIN <= v <= _INT_MAX:
                continue
            return False
        if t is float and v - v == 0.0:
            continue
        return False
    return True


# -- encoding -----------------------------------------------------------------------------


class _Unstorable(Exception):
    """Raised deep in the encoder; each container on the way out adds its path segment."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.segments: list[str] = []


def _encode_text(value: Any, name: str, *, canonical: bool) -> bytes:
    verb = "fingerprint" if canonical else "store"
    try:
        encoded = _encode(value, canonical)
        return orjson.dumps(encoded, option=orjson.OPT_SORT_KEYS if canonical else None)
    except _Unstorable as exc:
        path = name + "".join(reversed(exc.segments))
        raise SerializationError(
            f"cannot {verb} {path} with the json serializer: {exc.problem}"
        ) from None
    except RecursionError:
        raise SerializationError(
            f"cannot {verb} {name} with the json serializer: it is nested too deeply or "
            "contains a reference to itself. Return plain, acyclic data."
        ) from None
    except orjson.JSONEncodeError as exc:
        raise SerializationError(
            f"cannot {verb} {name} with the json serializer: {exc}. Return plain data, or "
            f"{_PICKLE_HINT}."
        ) from None


def _encode(value: Any, canonical: bool) -> Any:
    """Return a structure orjson writes natively (str keys, 64-bit ints, finite floats)."""
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
        return {TAG: "int", "v": format(value, "x")}  # hex has no int-to-str digit limit
    if t is float:
        return value if value - value == 0.0 else {TAG: "float", "v": repr(value)}
    if t is list:
        return _encode_items(value, canonical)
    if t is dict:
        return _encode_dict(value, canonical)
    encoder = _ENCODERS.get(t)
    if encoder is not None:
        return encoder(value, canonical)
    if isinstance(value, Enum):
        return _encode_enum(value, canonical)
    if hasattr(t, "__dataclass_fields__"):
        return _encode_dataclass(value, canonical)
    pydantic_main = sys.modules.get("pydantic.main")
    if pydantic_main is not None and isinstance(value, pydantic_main.BaseModel):
        return _encode_model(value, canonical)
    raise _Unstorable(_unsupported(t))


def _encode_items(items: Any, canonical: bool) -> list[Any]:
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_encode(item, canonical))
        except _Unstorable as exc:
            exc.segments.append(f"[{i}]")
            raise
    return out


def _encode_dict(d: dict[Any, Any], canonical: bool, *, attrs: bool = False) -> Any:
    if TAG not in d:
        out = {}
        for k, v in d.items():
            if type(k) is not str:
                break
            try:
                out[k] = _encode(v, canonical)
            except _Unstorable as exc:
                exc.segments.append(f".{k}" if attrs else f"[{k!r}]")
                raise
        else:
            return out
    # Keys that are not plain str, or a user key equal to the tag: store as pairs.
    pairs = []
    for k, v in d.items():
        try:
            key = _encode(k, canonical)
        except _Unstorable as exc:
            exc.segments.append("[<key>]")
            raise
        try:
            pairs.append([key, _encode(v, canonical)])
        except _Unstorable as exc:
            exc.segments.append(f"[{k!r}]")
            raise
    if canonical:
        pairs.sort(key=_canonical_bytes)
    return {TAG: "dict", "v": pairs}


def _canonical_bytes(encoded: Any) -> bytes:
    return orjson.dumps(encoded, option=orjson.OPT_SORT_KEYS)


def _encode_tuple(value: tuple[Any, ...], canonical: bool) -> Any:
    return {TAG: "tuple", "v": _encode_items(value, canonical)}


def _encode_set(value: set[Any] | frozenset[Any], canonical: bool) -> Any:
    members = []
    for member in value:
        try:
            members.append(_encode(member, canonical))
        except _Unstorable as exc:
            exc.segments.append("[<set member>]")
            raise
    if canonical:  # set order follows str hashes, which differ between processes
        members.sort(key=_canonical_bytes)
    return {TAG: type(value).__name__, "v": members}


def _encode_datetime(value: datetime, canonical: bool) -> Any:
    tz = value.tzinfo
    if type(tz) is ZoneInfo and tz.key is not None:
        return {TAG: "datetime", "v": value.isoformat(), "tz": tz.key}
    return {TAG: "datetime", "v": value.isoformat()}


def _encode_enum(value: Enum, canonical: bool) -> Any:
    ref = _class_ref(type(value))
    try:
        return {TAG: "enum", "cls": ref, "v": _encode(value.value, canonical)}
    except _Unstorable as exc:
        exc.segments.append(".value")
        raise


def _encode_dataclass(value: Any, canonical: bool) -> Any:
    ref = _class_ref(type(value))
    fields = {}
    for f in dataclasses.fields(value):
        try:
            fields[f.name] = _encode(getattr(value, f.name), canonical)
        except _Unstorable as exc:
            exc.segments.append(f".{f.name}")
            raise
    return {TAG: "dataclass", "cls": ref, "v": fields}


def _encode_model(value: Any, canonical: bool) -> Any:
    ref = _class_ref(type(value))
    try:
        dumped = value.model_dump(mode="python")
    except Exception as exc:
        raise _Unstorable(
            f"{_type_name(type(value))}.model_dump() failed: {exc}. Check the model's "
            f"serializers, or {_PICKLE_HINT}."
        ) from exc
    if type(dumped) is dict:
        return {TAG: "pydantic", "cls": ref, "v": _encode_dict(dumped, canonical, attrs=True)}
    return {TAG: "pydantic", "cls": ref, "v": _encode(dumped, canonical)}  # a RootModel


_ENCODERS: dict[type, Any] = {
    tuple: _encode_tuple,
    set: _encode_set,
    frozenset: _encode_set,
    bytes: lambda v, c: {TAG: "bytes", "v": base64.b64encode(v).decode("ascii")},
    datetime: _encode_datetime,
    date: lambda v, c: {TAG: "date", "v": v.isoformat()},
    time: lambda v, c: {TAG: "time", "v": v.isoformat()},
    timedelta: lambda v, c: {TAG: "timedelta", "v": [v.days, v.seconds, v.microseconds]},
    Decimal: lambda v, c: {TAG: "decimal", "v": str(v)},
    UUID: lambda v, c: {TAG: "uuid", "v": str(v)},
    **{
        cls: lambda v, c: {TAG: "path", "cls": type(v).__name__, "v": str(v)}
        for cls in _PATH_TYPES.values()
    },
}

_BUILTIN_BASES = (bool, int, float, str, bytes, list, tuple, dict, set, frozenset)


def _type_name(cls: type) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _unsupported(t: type) -> str:
    name = _type_name(t)
    for base in _BUILTIN_BASES + tuple(_ENCODERS):
        if issubclass(t, base):
            return (
                f"type {name} is a subclass of {_type_name(base)}, which would come back as a "
                f"plain {_type_name(base)}. Convert it to {_type_name(base)} first, or "
                f"{_PICKLE_HINT}."
            )
    return (
        f"objects of type {name} cannot be stored as JSON. Return plain data (str, int, float, "
        f"bool, None, list, dict, ...), a dataclass or a pydantic model instead, or "
        f"{_PICKLE_HINT}."
    )


_CLASS_REFS: dict[type, str] = {}


def _class_ref(cls: type) -> str:
    """Return ``"module:qualname"``, checking now that loading can import the class back."""
    ref = _CLASS_REFS.get(cls)
    if ref is not None:
        return ref
    module, qualname = cls.__module__, cls.__qualname__
    if "<locals>" in qualname:
        raise _Unstorable(
            f"class {module}.{qualname} is defined inside a function, so it cannot be imported "
            f"again to rebuild the value when it is loaded. Define {cls.__name__} at module "
            "level."
        )
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not cls:
        raise _Unstorable(
            f"class {module}.{qualname} cannot be found again as {qualname!r} in module "
            f"{module!r}, so the value could not be rebuilt when it is loaded. Define "
            f"{cls.__name__} at module level under its own name."
        )
    # A class from a loose file (the script run as __main__, a file loaded by path) is
    # named by the file's path, so that other processes (a worker) can import it too.
    ref = code_ref(module, qualname) or f"{module}:{qualname}"
    _CLASS_REFS[cls] = ref
    return ref


# -- decoding -----------------------------------------------------------------------------


def _decode(data: Any) -> Any:
    t = type(data)
    if t is list:
        return [_decode(item) for item in data]
    if t is dict:
        if TAG in data:
            return _decode_tagged(data)
        return {k: _decode(v) for k, v in data.items()}
    return data


def _decode_tagged(data: dict[str, Any]) -> Any:
    tag = data[TAG]
    decoder = _DECODERS.get(tag) if type(tag) is str else None
    if decoder is None:
        raise SerializationError(
            f"cannot load stored value: unknown type tag {tag!r}. Was it written by a newer "
            "version of legato?"
        )
    try:
        return decoder(data)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(
            f"cannot load stored value: malformed {tag!r} entry ({exc!r})."
        ) from exc


def _decode_datetime(data: dict[str, Any]) -> datetime:
    value = datetime.fromisoformat(data["v"])
    key = data.get("tz")
    if key is not None:
        try:
            value = value.astimezone(ZoneInfo(key))
        except ZoneInfoNotFoundError:
            pass  # keep the fixed offset: same instant, only the zone's name is lost
    return value


def _decode_enum(data: dict[str, Any]) -> Enum:
    cls = _resolve_class(data["cls"], "enum")
    value = _decode(data["v"])
    try:
        return cls(value)
    except ValueError as exc:
        raise SerializationError(
            f"cannot load stored value: {value!r} is no longer a member of enum "
            f"{data['cls']}. Did the enum change since the value was stored?"
        ) from exc


def _decode_dataclass(data: dict[str, Any]) -> Any:
    cls = _resolve_class(data["cls"], "dataclass")
    stored = {name: _decode(v) for name, v in data["v"].items()}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = stored.keys() - fields.keys()
    kwargs = {name: v for name, v in stored.items() if name in fields and fields[name].init}
    try:
        if unknown:
            raise TypeError(f"no fields {sorted(unknown)}")
        obj = cls(**kwargs)
    except Exception as exc:  # a missing argument, or __post_init__ rejecting the values
        raise SerializationError(
            f"cannot load stored value: its fields {sorted(stored)} no longer fit dataclass "
            f"{data['cls']} ({exc}). Did the class change since the value was stored?"
        ) from exc
    for name, v in stored.items():
        if not fields[name].init:
            object.__setattr__(obj, name, v)  # works for frozen and slotted classes too
    return obj


def _decode_model(data: dict[str, Any]) -> Any:
    cls = _resolve_class(data["cls"], "pydantic")
    import pydantic

    try:
        return cls.model_validate(_decode(data["v"]))
    except pydantic.ValidationError as exc:
        raise SerializationError(
            f"cannot load stored value: it no longer validates as {data['cls']} ({exc}). Did "
            "the model change since the value was stored?"
        ) from exc


def _decode_path(data: dict[str, Any]) -> pathlib.PurePath:
    cls = _PATH_TYPES[data["cls"]]
    try:
        return cls(data["v"])
    except NotImplementedError:  # e.g. a WindowsPath loaded on Linux
        return pathlib.Path(data["v"])


_DECODERS: dict[str, Any] = {
    "int": lambda d: int(d["v"], 16),
    "float": lambda d: float(d["v"]),
    "dict": lambda d: {_decode(k): _decode(v) for k, v in d["v"]},
    "tuple": lambda d: tuple(_decode(item) for item in d["v"]),
    "set": lambda d: {_decode(item) for item in d["v"]},
    "frozenset": lambda d: frozenset(_decode(item) for item in d["v"]),
    "bytes": lambda d: base64.b64decode(d["v"]),
    "datetime": _decode_datetime,
    "date": lambda d: date.fromisoformat(d["v"]),
    "time": lambda d: time.fromisoformat(d["v"]),
    "timedelta": lambda d: timedelta(*d["v"]),
    "decimal": lambda d: Decimal(d["v"]),
    "uuid": lambda d: UUID(d["v"]),
    "path": _decode_path,
    "enum": _decode_enum,
    "dataclass": _decode_dataclass,
    "pydantic": _decode_model,
}

_CLASSES: dict[tuple[str, str], type] = {}


def _resolve_class(ref: str, kind: str) -> Any:
    """Import ``"module:qualname"`` and check it is of ``kind``; never call anything else."""
    cls = _CLASSES.get((ref, kind))
    if cls is not None:
        return cls
    module_name, _, qualname = ref.rpartition(":")
    try:
        found: Any = import_part(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as exc:
        raise SerializationError(
            f"cannot load stored value: it holds an instance of class {ref}, which cannot be "
            f"imported ({type(exc).__name__}: {exc}). The code defining {qualname} must be "
            f"importable as {_where(module_name)} wherever the value is loaded."
        ) from exc
    if not _is_kind(found, kind):
        raise SerializationError(
            f"cannot load stored value: it names {ref} as a {kind} class, but {ref} is not one "
            "now; legato only rebuilds dataclasses, pydantic models and Enum members."
        )
    _CLASSES[(ref, kind)] = found
    return found


def _where(module_part: str) -> str:
    if is_file_part(module_part):
        return f"file {module_part} (or module {pathlib.Path(module_part).stem!r})"
    return f"module {module_part!r} (its folder on PYTHONPATH, or its package installed)"


def _is_kind(obj: Any, kind: str) -> bool:
    if not isinstance(obj, type):
        return False
    if kind == "enum":
        return issubclass(obj, Enum)
    if kind == "dataclass":
        return dataclasses.is_dataclass(obj)
    if kind == "pydantic":
        import pydantic

        return issubclass(obj, pydantic.BaseModel)
    return False


# -- pickle -------------------------------------------------------------------------------


def _dumps_other(value: Any, serializer: str, name: str) -> str:
    if serializer != "pickle":
        raise _unknown_serializer(serializer)
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception as exc:
        raise SerializationError(
            f"cannot store {name} with the pickle serializer: objects of type "
            f"{_type_name(type(value))} (or something inside) cannot be pickled "
            f"({type(exc).__name__}: {exc}). Return plain data, a dataclass or a pydantic "
            "model defined at module level."
        ) from exc
    return base64.b64encode(data).decode("ascii")


def _loads_other(text: str, serializer: str) -> Any:
    if serializer != "pickle":
        raise _unknown_serializer(serializer)
    try:
        # Trust boundary: only values a task opted into pickle for (serializer="pickle"
        # in its own code) are read here, from the store legato wrote them to. Data from
        # outside (events, human input, CLI parameters) is always JSON and never comes
        # here.
        return pickle.loads(base64.b64decode(text, validate=True))
    except Exception as exc:
        raise SerializationError(
            f"cannot load stored value with the pickle serializer ({type(exc).__name__}: "
            f"{exc}). The code defining the pickled classes must be importable where the "
            "value is loaded, and the text must have been written by the pickle serializer."
        ) from exc


def _unknown_serializer(serializer: str) -> SerializationError:
    choices = ", ".join(f'"{s}"' for s in SERIALIZERS)
    return SerializationError(f"unknown serializer {serializer!r}: choose one of {choices}.")
