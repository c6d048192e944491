"""Stored values as the CLI shows them: decoded without importing anyone's code, as plain
JSON for ``--json`` (both in ``legato.stored_values``, shared with the server), and cut
to a readable size for the terminal.

Shortening (:func:`shown`): at most ``MAX_ITEMS`` items of a container, ``MAX_STRING``
characters of a string, ``MAX_DEPTH`` levels and ``MAX_LINES`` lines, followed by a
note the caller words to say how to see all of it. rich does the cutting, so the cost
does not grow with the value.
"""

from __future__ import annotations

import dataclasses
from itertools import islice
from typing import TYPE_CHECKING, Any

from legato.stored_values import (  # noqa: F401 (the CLI's modules import them from here)
    StoredEnum,
    StoredObject,
    StoredRoot,
    decode_stored,
    plain_json,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.measure import Measurement

MAX_ITEMS = 20  # items shown of a list, dict, set or object's fields
MAX_STRING = 200  # characters shown of a str or bytes
MAX_DEPTH = 5  # levels of nesting shown
MAX_LINES = 30  # lines shown of one value


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
