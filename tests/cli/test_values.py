"""Stored values decoded for display without importing their classes, and their JSON."""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime

from pydantic import BaseModel, RootModel

from legato.cli.values import decode_stored, plain_json
from legato.serialization import dumps


@dataclasses.dataclass(frozen=True)
class Key:
    a: int


class Level(enum.Enum):
    HIGH = "high"


class Rows(RootModel[list[int]]):
    pass


class Order(BaseModel):
    level: Level
    at: datetime
    rows: Rows


def stored_elsewhere(value: object) -> str:
    """``value`` stored, as if its classes came from a module that no longer imports."""
    return dumps(value).replace(f'"{__name__}:', '"gone_module_123:')


def test_values_of_classes_that_cannot_be_imported_show_and_convert_to_json() -> None:
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    value = {
        "order": Order(level=Level.HIGH, at=at, rows=Rows([1, 2])),
        "keys": {Key(a=1): "one"},
        "rows": Rows([5]),
        "members": {Key(a=2), Key(a=3)},
        "pair": (Key(a=4), Level.HIGH),
    }
    text = stored_elsewhere(value)
    assert "gone_module_123:Order" in text

    shown = decode_stored(text, "json")

    assert repr(shown["order"]) == (
        "Order(level=Level('high'), "
        "at=datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc), "
        "rows=[1, 2])"
    )
    assert repr(shown["keys"]) == "{Key(a=1): 'one'}"
    assert repr(shown["rows"]) == "Rows(root=[5])"
    assert sorted(repr(m) for m in shown["members"]) == ["Key(a=2)", "Key(a=3)"]
    assert repr(shown["pair"]) == "(Key(a=4), Level('high'))"
    data = plain_json(shown)
    assert data["order"]["level"] == "high" and data["rows"] == [5]
    assert data["order"]["at"].startswith("2024-05-01T12:00:00")
    assert sorted(m["a"] for m in data["members"]) == [2, 3]
    assert data["pair"] == [{"a": 4}, "high"]


def test_text_that_is_not_a_known_value_is_shown_as_stored() -> None:
    assert decode_stored('{"__legato__": "future-kind", "v": 1}', "json") == {
        "__legato__": "future-kind",
        "v": 1,
    }
    assert decode_stored("not json", "json") == "not json"
    assert decode_stored("gASVAAAA", "pickle") == "<pickle payload, 8 characters>"
    assert decode_stored(None, "json") is None
