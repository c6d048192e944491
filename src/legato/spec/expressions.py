"""Safe expressions over a payload: trigger filters and conditions.

``severity == "CRITICAL" and service in ["db", "api"]`` is parsed once, checked against
a small grammar, and evaluated on a payload (a dict) any number of times. There is no
``eval``: the text is parsed with :mod:`ast` and only these forms are accepted:

- literals: strings, numbers, ``true``/``false``/``null`` (or ``True``/``False``/``None``),
  lists and tuples of expressions;
- names: a payload field (``severity``), dotted for nested objects (``alert.type``),
  or subscripted with a literal (``labels["team"]``, ``items[0]``);
- comparisons ``== != < <= > >= in`` and ``not in``, chained as in Python;
- ``and``, ``or``, ``not`` and parentheses.

A field missing from the payload is ``null``, so ``team == "db"`` is simply false for a
payload without ``team``; comparing values of types that do not order (``"a" < 1``) is
false rather than an error, so a filter never fails on an odd payload.
Anything else (calls, attributes of non-names, arithmetic, lambdas) is refused at parse
time with ``ExpressionError`` naming the column.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from legato.errors import ExpressionError

_LITERAL_NAMES = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
_MISSING: Any = None

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: _contains(b, a),
    ast.NotIn: lambda a, b: not _contains(b, a),
}

Evaluator = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression; call ``matches(payload)`` or ``evaluate(payload)``."""

    text: str
    _run: Evaluator

    def evaluate(self, payload: Mapping[str, Any]) -> Any:
        """The expression's value on ``payload``."""
        return self._run(payload)

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """Whether the expression holds (is truthy) on ``payload``."""
        return bool(self._run(payload))


def parse(text: str, *, where: str = "expression") -> Expression:
    """Parse ``text`` into an ``Expression``; ``where`` names it in errors (an option,
    a field of a file). Raises ``ExpressionError`` with the column of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(text=str(text), where=where, column=1, reason="it is empty")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        # Python reports offset 0 when the text ends too early ("a ==", "x and").
        ended_early = not exc.offset
        column = len(source) + 1 if ended_early else int(exc.offset or 1)
        reason = "it ends too early" if ended_early else exc.msg or "invalid syntax"
        raise ExpressionError(text=source, where=where, column=column, reason=reason) from None
    return Expression(source, _compile(tree.body, source, where))


def _compile(node: ast.expr, text: str, where: str) -> Evaluator:
    """Turn one node into a function of the payload; refuse anything outside the grammar."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        value = node.value
        return lambda _: value
    if isinstance(node, ast.Constant) and node.value is None:
        return lambda _: None
    if isinstance(node, ast.Name):
        if node.id in _LITERAL_NAMES:
            literal = _LITERAL_NAMES[node.id]
            return lambda _: literal
        name = node.id
        return lambda payload: payload.get(name, _MISSING) if isinstance(payload, Mapping) else None
    if isinstance(node, ast.Attribute):
        inner = _compile(node.value, text, where)
        field = node.attr
        return lambda payload: _field(inner(payload), field)
    if isinstance(node, ast.Subscript):
        inner = _compile(node.value, text, where)
        key = _literal_index(node.slice, text, where)
        return lambda payload: _item(inner(payload), key)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_compile(item, text, where) for item in node.elts]
        return lambda payload: [item(payload) for item in items]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        operand = _compile(node.operand, text, where)
        return lambda payload: not operand(payload)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        if isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, int | float):
            negative = -node.operand.value
            return lambda _: negative
    if isinstance(node, ast.BoolOp):
        parts = [_compile(value, text, where) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda payload: all(part(payload) for part in parts)
        return lambda payload: any(part(payload) for part in parts)
    if isinstance(node, ast.Compare):
        return _compile_compare(node, text, where)
    _refuse(node, text, where, _what(node))
    raise AssertionError("unreachable")  # pragma: no cover - _refuse raises


def _compile_compare(node: ast.Compare, text: str, where: str) -> Evaluator:
    left = _compile(node.left, text, where)
    steps: list[tuple[Callable[[Any, Any], bool], Evaluator]] = []
    for op, right in zip(node.ops, node.comparators, strict=True):
        if type(op) not in _COMPARE:
            _refuse(node, text, where, f"the operator {type(op).__name__} is not supported")
        steps.append((_COMPARE[type(op)], _compile(right, text, where)))

    def compare(payload: Mapping[str, Any]) -> bool:
        current = left(payload)
        for check, right in steps:
            following = right(payload)
            try:
                if not check(current, following):
                    return False
            except TypeError:  # values that do not order: the comparison does not hold
                return False
            current = following
        return True

    return compare


def _literal_index(node: ast.expr, text: str, where: str) -> str | int:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    _refuse(node, text, where, "an index must be a literal string or number")
    raise AssertionError("unreachable")  # pragma: no cover - _refuse raises


def _contains(container: Any, item: Any) -> bool:
    try:
        return item in container
    except TypeError:
        return False


def _field(value: Any, name: str) -> Any:
    return value.get(name, _MISSING) if isinstance(value, Mapping) else None


def _item(value: Any, key: str | int) -> Any:
    if isinstance(value, Mapping):
        return value.get(key, _MISSING)
    if isinstance(value, list | tuple) and isinstance(key, int) and -len(value) <= key < len(value):
        return value[key]
    return None


def _what(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return "function calls are not allowed"
    if isinstance(node, ast.BinOp):
        return "arithmetic is not supported; compare fields with literals"
    return f"{type(node).__name__} is not allowed in a filter"


def _refuse(node: ast.AST, text: str, where: str, reason: str) -> None:
    column = getattr(node, "col_offset", 0) + 1
    raise ExpressionError(text=text, where=where, column=column, reason=reason)
