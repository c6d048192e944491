"""Stored values decoded for people and for JSON output, without importing anyone's code.

Decoding (:func:`decode_stored`) reads the tagged JSON that ``legato.serialization``
writes, but never imports the classes it names: a dataclass or pydantic model comes back
as a stand-in dataclass of the same name and fields (shown ``Point(x=1, y=2)``), an Enum
member as ``Color(1)``. So a value shows the same whether or not its class can still be
imported (a flow loaded from a file, a module that moved), and showing a run never runs
the code that made it. Pickled payloads are never unpickled. :func:`plain_json` turns
the result into plain JSON data (the CLI's ``--json``, the server's API).
"""

from __future__ import annotations

import dataclasses
import keyword
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

_LEAF_TAGS = frozenset(
    ("int", "float", "bytes", "datetime", "date", "time", "timedelta", "decimal", "uuid", "path")
)


# -- decoding ---------------------------------------------------------------------------


class StoredObject:
    """Base of the stand-ins for stored dataclasses and pydantic models."""


class StoredEnum:
    """A stored Enum member, known by its class name and value only. (Not a dataclass:
    its plain JSON form is its value, not its fields.)"""

    __slots__ = ("cls_name", "value")

    def __init__(self, cls_name: str, value: Any) -> None:
        self.cls_name = cls_name
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredEnum):
            return NotImplemented
        return (self.cls_name, self.value) == (other.cls_name, other.value)

    def __hash__(self) -> int:
        return hash((self.cls_name, self.value))

    def __repr__(self) -> str:
        return f"{self.cls_name}({self.value!r})"


class StoredRoot:
    """A stored pydantic ``RootModel``: shown ``Rows(root=[1, 2])``, its plain JSON form is
    the root value (as pydantic writes it). Subclassed per model name by ``_stand_in``."""

    __slots__ = ("root",)

    def __init__(self, root: Any) -> None:
        self.root = root

    def __rich_repr__(self) -> Iterator[tuple[str, Any]]:
        yield "root", self.root

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r})"


def decode_stored(text: str | None, serializer: str) -> Any:
    """A stored result or parameters as a Python value, for display only.

    Never raises: pickled text becomes a ``<pickle payload, N characters>`` note, text
    that is not JSON is returned as it is, and a tag legato does not know is kept as the
    stored dict.
    """
    if text is None:
        return None
    if serializer != "json":
        return f"<{serializer} payload, {len(text)} characters>"
    import orjson

    from legato.serialization import TAG

    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return _decode(data) if TAG in text else data


def _decode(data: Any) -> Any:
    if type(data) is list:
        return [_decode(item) for item in data]
    if type(data) is not dict:
        return data
    from legato.serialization import TAG

    if TAG not in data:
        return {k: _decode(v) for k, v in data.items()}
    try:
        return _decode_tagged(data, data[TAG])
    except (KeyError, TypeError, ValueError, AttributeError):
        return data  # malformed: show it as stored


def _decode_tagged(data: dict[str, Any], tag: Any) -> Any:
    if tag in _LEAF_TAGS:  # holds no other value: the real decoder imports nothing
        import orjson

        from legato.errors import SerializationError
        from legato.serialization import loads

        try:
            return loads(orjson.dumps(data).decode())
        except SerializationError:
            return data
    if tag == "tuple":
        return tuple(_decode(item) for item in data["v"])
    if tag in ("set", "frozenset"):
        return _collection(tag, [_decode(item) for item in data["v"]])
    if tag == "dict":
        return _pairs_dict([(_decode(k), _decode(v)) for k, v in data["v"]])
    if tag == "enum":
        return StoredEnum(_class_name(data["cls"]), _decode(data["v"]))
    if tag in ("dataclass", "pydantic"):
        fields = _decode(data["v"])
        if type(fields) is not dict:  # a pydantic RootModel
            return _root_class(_class_name(data["cls"]))(fields)
        return _stand_in(_class_name(data["cls"]), fields)
    return data


def _collection(tag: str, items: list[Any]) -> Any:
    try:
        return set(items) if tag == "set" else frozenset(items)
    except TypeError:  # members whose stand-ins cannot be hashed: show them listed
        return items


def _pairs_dict(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, value in pairs:
        try:
            result[key] = value
        except TypeError:
            result[repr(key)] = value
    return result


def _class_name(ref: str) -> str:
    """``"pkg.mod:Outer.Point"`` -> ``"Point"``; whatever the module is called."""
    return str(ref).rpartition(":")[2].rpartition(".")[2] or "object"


def _stand_in(name: str, fields: dict[str, Any]) -> Any:
    names = tuple(fields)
    if not all(isinstance(n, str) and n.isidentifier() and not keyword.iskeyword(n) for n in names):
        return fields
    return _stand_in_class(name if name.isidentifier() else "object", names)(**fields)


@cache
def _root_class(name: str) -> type[StoredRoot]:
    return type(name if name.isidentifier() else "object", (StoredRoot,), {"__slots__": ()})


@cache
def _stand_in_class(name: str, fields: tuple[str, ...]) -> type:
    return dataclasses.make_dataclass(name, fields, bases=(StoredObject,), frozen=True)


# -- JSON -------------------------------------------------------------------------------


def plain_json(value: Any) -> Any:
    """``value`` as plain JSON data: datetimes as ISO text, dataclasses, models and their
    stand-ins as objects of their fields, Enum members as their values, root models as
    their roots; bytes as URL-safe base64 text, since bytes need not be UTF-8."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=_plain_fallback, bytes_mode="base64")


def _plain_fallback(value: Any) -> Any:
    if isinstance(value, StoredEnum):
        return value.value
    if isinstance(value, StoredRoot):
        return value.root
    return repr(value)
