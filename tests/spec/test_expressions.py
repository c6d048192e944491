"""Filter expressions are parsed safely (no eval), evaluated on payloads, and refused
with the column of the problem."""

from __future__ import annotations

import pytest

from legato.errors import ExpressionError
from legato.spec.expressions import parse

ALERT = {
    "severity": "CRITICAL",
    "service": "db",
    "count": 7,
    "alert": {"type": "Restartable", "labels": {"team": "dba"}},
    "hosts": ["a", "b"],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity == "CRITICAL" and service in ["db", "api"]', True),
        ("severity == 'CRITICAL' and service in ['web']", False),
        ('severity != "LOW"', True),
        ("count > 5 and count <= 7", True),
        ("1 < count < 5", False),
        ("not (count >= 10)", True),
        ('alert.type == "Restartable"', True),
        ('alert.labels["team"] == "dba"', True),
        ('hosts[0] == "a" and hosts[-1] == "b"', True),
        ('"b" in hosts and "z" not in hosts', True),
        ("missing == null", True),
        ('missing.deeper == "x"', False),
        ("count > -1 or false", True),
        ("true and not False", True),
        ("severity < 3", False),  # values that do not order: false, not an error
        ('count in "abc"', False),
    ],
)
def test_filters_evaluate_on_the_payload(text: str, expected: bool) -> None:
    assert parse(text).matches(ALERT) is expected


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ('__import__("os").system("true")', 1, "function calls are not allowed"),
        ("count + 1 > 2", 1, "arithmetic"),
        ('severity == "CRITICAL" and', 27, "it ends too early"),
        ("a ==== b", 5, "invalid syntax"),
        ("a and (b", 7, "never closed"),
        ("(lambda: 1)()", 1, "function calls"),
        ("count > 1 if true else 2", 1, "IfExp is not allowed"),
        ("hosts[count]", 7, "an index must be a literal"),
        ('"".join(hosts)', 1, "function calls"),
    ],
)
def test_what_is_not_in_the_grammar_is_refused_with_its_column(
    text: str, column: int, reason: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, where="--filter")
    error = info.value
    assert error.column == column, str(error)
    assert reason in error.reason
    assert str(error).startswith("--filter: ")
    assert text in str(error)


def test_an_empty_filter_is_refused() -> None:
    with pytest.raises(ExpressionError, match="it is empty"):
        parse("   ", where="--filter")


def test_attribute_access_never_reaches_python_objects() -> None:
    # Dotted names read dict keys only: a dunder is just a missing field.
    assert parse("severity.__class__ == null").matches(ALERT)
    assert not parse('severity.__class__.__name__ == "str"').matches(ALERT)
