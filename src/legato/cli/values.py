"""Stored values as the CLI shows them: decoded without importing anyone's code, as plain
JSON for ``--json``, and cut to a readable size for the terminal.

Decoding (:func:`decode_stored`) reads the tagged JSON that ``legato.serialization``
writes, but never imports the classes it names: a dataclass or pydantic model comes back
as a stand-in dataclass of the same name and fields (shown ``Point(x=1, y=2)``), an Enum
member as ``Color(1)``. So a value shows the same whether or not its class can still be
imported (a flow loaded from a file, a module that moved), and showing a run never runs
the code that made it. Pickled payloads are never unpickled.

Shortening (:func:`shown`): at most ``MAX_ITEMS`` items of a container, ``MAX_STRING``
characters of a string, ``MAX_DEPTH`` levels and ``MAX_LINES`` lines, followed by a
note the caller words to say how to see all of it. rich does the cutting, so the cost
does not grow with the value.
"""

from __future__ import annotations

import dataclasses
import keyword
from functools import cache
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.measure import Measurement

MAX_ITEMS = 20  # items shown of a list, dict, set or object's fields
MAX_STRING = 200  # characters shown of a str or bytes
MAX_DEPTH = 5  # levels of nesting shown
MAX_LINES = 30  # lines shown of one value

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


# -- shortening -------------------------------------------------------------------------


def shown(value: Any, *, note: str = "") -> RenderableType:
    """``value`` pretty-printed within the limits above, followed by ``note`` (dim) when
    anything was left out."""
    from rich.pretty import Pretty

    pretty = Pretty(value, max_length=MAX_ITEMS, max_string=MAX_STRING, max_depth=MAX_DEPTH)
    return _Clipped(pretty, cut=is_cut(value), note=note)


def whole(value: Any) -> RenderableType:
    """All of ``value`` as one (soft-wrapped) line of ``repr``: pretty-printing a big value
    line by line would take minutes."""
    from rich.text import Text

    return Text(repr(value))


def is_cut(value: Any, depth: int = 0) -> bool:
    """Whether the limits leave out part of ``value``; looks at no more than is shown."""
    if isinstance(value, (str, bytes)):
        return len(value) > MAX_STRING
    children = _children(value)
    if children is None:
        return False
    size, items = children
    if size == 0:
        return False
    if size > MAX_ITEMS or depth >= MAX_DEPTH:
        return True
    return any(is_cut(item, depth + 1) for item in islice(items, MAX_ITEMS))


def _children(value: Any) -> tuple[int, Iterable[Any]] | None:
    """The number of parts ``value`` is shown with, and those parts (dict keys too)."""
    if isinstance(value, dict):
        return len(value), (part for pair in value.items() for part in pair)
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value), iter(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if f.repr]
        return len(fields), (getattr(value, f.name) for f in fields)
    rich_repr = getattr(value, "__rich_repr__", None)
    if rich_repr is not None and not isinstance(value, type):
        args = [_arg_value(arg) for arg in rich_repr()]
        return len(args), args
    return None


def _arg_value(arg: Any) -> Any:
    """A ``__rich_repr__`` item: a value, or ``(name, value[, default])``."""
    if isinstance(arg, tuple) and len(arg) in (2, 3) and isinstance(arg[0], str):
        return arg[1]
    return arg


class _Clipped:
    """A pretty-printed value cut to ``MAX_LINES`` lines, then the note if it was cut."""

    def __init__(self, pretty: RenderableType, *, cut: bool, note: str) -> None:
        self.pretty = pretty
        self.cut = cut
        self.note = note

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment
        from rich.text import Text

        lines = console.render_lines(self.pretty, options, pad=False)
        cut = self.cut or len(lines) > MAX_LINES
        for line in lines[:MAX_LINES]:
            yield from line
            yield Segment.line()
        if cut and self.note:
            yield Text(self.note, style="dim")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.pretty)
