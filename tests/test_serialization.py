from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import os
import pathlib
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
import pydantic
import pytest

import legato.serialization as serialization
from legato.errors import SerializationError
from legato.serialization import TAG, dumps, fingerprint, loads

HERE = pathlib.Path(__file__).resolve()

# -- module-level types (importable, so they round-trip) -----------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"
    SAFE = "safe"


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class Pair(enum.Enum):
    ORIGIN = (0, 0)
    UNIT = (1, 1)


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Shape:
    name: str
    points: list[Point]
    color: Color = Color.RED
    tags: frozenset[str] = frozenset()
    created_at: datetime | None = None


@dataclasses.dataclass
class Counter:
    start: int
    doubled: int = dataclasses.field(init=False)
    history: list[int] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.doubled = self.start * 2


@dataclasses.dataclass
class Row:
    id: int
    owner: Any = None


class Address(pydantic.BaseModel):
    street: str
    zip: str


class User(pydantic.BaseModel):
    name: str
    address: Address
    tags: set[str] = set()
    span: tuple[int, int] = (0, 0)
    seen_at: datetime | None = None
    level: Level = Level.LOW


class Anything(pydantic.BaseModel):
    payload: Any = None


class Names(pydantic.RootModel[list[str]]):
    pass


class Outer:
    @dataclasses.dataclass
    class Inner:
        value: int


@dataclasses.dataclass
class Positive:
    n: int

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ValueError("n must be positive")


class Plain:
    pass


def not_a_class(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("loads must never call a stored callable")


# -- helpers --------------------------------------------------------------------------------


def assert_same_types(a: Any, b: Any, where: str = "value") -> None:
    """Check types recursively, since 1 == 1.0 == True would hide a lost type."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, list | tuple):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_types(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            assert_same_types(ka, kb, f"{where} key")
            assert_same_types(va, vb, f"{where}[{ka!r}]")
    elif isinstance(a, set | frozenset):
        assert sorted(map(repr, a)) == sorted(map(repr, b)), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same_types(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, pydantic.BaseModel):
        for name in type(a).model_fields:
            assert_same_types(getattr(a, name), getattr(b, name), f"{where}.{name}")


def round_trip(value: Any) -> Any:
    text = dumps(value)
    assert isinstance(text, str)
    back = loads(text)
    assert back == value
    assert_same_types(value, back)
    return back


# -- round trips ---------------------------------------------------------------------------

PRIMITIVES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    -(10**40),
    1.5,
    -0.0,
    1e308,
    "",
    "héllo ✓ \x00 \n",
    TAG,
]


@pytest.mark.parametrize("value", PRIMITIVES, ids=repr)
def test_primitives_round_trip(value: Any) -> None:
    round_trip(value)


def test_int_beyond_str_digit_limit_round_trips() -> None:
    round_trip(10**5000 + 7)


def test_negative_zero_keeps_its_sign() -> None:
    assert math.copysign(1.0, loads(dumps(-0.0))) == -1.0


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinities_round_trip(value: float) -> None:
    round_trip(value)
    round_trip([value, {"x": value}])


def test_nan_round_trips() -> None:
    back = loads(dumps(math.nan))
    assert type(back) is float and math.isnan(back)
    back = loads(dumps({"scores": [1.0, math.nan]}))
    assert back["scores"][0] == 1.0 and math.isnan(back["scores"][1])


CONTAINERS = {
    "empty list": [],
    "empty dict": {},
    "flat list": [1, "a", None, True, 2.5],
    "flat dict": {"a": 1, "b": "x", "c": None, "d": False, "e": 0.5},
    "nested": {"a": [1, [2, [3, {"b": [None]}]]], "c": {"d": {"e": "f"}}},
    "int keys": {1: "a", 2: "b"},
    "tuple keys": {(1, 2): "a", ("x",): [1]},
    "mixed keys": {"a": 1, 2: "b", None: 3, 1.5: 4, (1,): 5, Color.RED: 6},
    "bool and int keys": {True: "t", 2: "two"},
    "str enum keys": {Mode.FAST: 1, Mode.SAFE: 2},
    "tuple": (1, "a", None),
    "empty tuple": (),
    "nested tuple": ((1, (2, 3)), [4, (5,)]),
    "set": {1, 2, 3},
    "set of str": {"a", "b"},
    "set of tuples": {(1, 2), (3, 4)},
    "empty set": set(),
    "frozenset": frozenset({"x", "y"}),
    "set of frozensets": {frozenset({1}), frozenset({2, 3})},
    "dict of sets": {"a": {1}, "b": frozenset()},
    "big int in list": [2**70, {"k": -(2**90)}],
    "list of floats": [1.0, 2.0, math.inf],
}


@pytest.mark.parametrize("value", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_containers_round_trip(value: Any) -> None:
    round_trip(value)


def test_dict_key_order_is_kept() -> None:
    value = {"b": 1, "a": 2, 3: "c"}
    assert list(loads(dumps(value))) == ["b", "a", 3]


SCALARS = {
    "bytes": b"\x00\xffbinary",
    "empty bytes": b"",
    "naive datetime": datetime(2024, 2, 29, 13, 45, 1, 123456),
    "utc datetime": datetime(2024, 1, 1, tzinfo=UTC),
    "offset datetime": datetime(
        2024, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))
    ),
    "date": date(1999, 12, 31),
    "naive time": time(23, 59, 59, 999999),
    "aware time": time(12, 0, tzinfo=timezone(timedelta(hours=2))),
    "timedelta": timedelta(days=3, seconds=7, microseconds=9),
    "negative timedelta": timedelta(days=-1, microseconds=1),
    "decimal": Decimal("3.14159265358979323846264338327950288"),
    "decimal trailing zeros": Decimal("1.10"),
    "decimal inf": Decimal("-Infinity"),
    "uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "path": pathlib.Path("/tmp/some dir/file.txt"),
    "relative path": pathlib.Path("a/b"),
    "pure posix path": pathlib.PurePosixPath("/etc/hosts"),
    "pure windows path": pathlib.PureWindowsPath(r"C:\Users\me"),
    "enum": Color.GREEN,
    "int enum": Level.HIGH,
    "str enum": Mode.SAFE,
    "flag": Perm.R | Perm.W,
    "enum with tuple value": Pair.UNIT,
}


@pytest.mark.parametrize("value", SCALARS.values(), ids=SCALARS.keys())
def test_scalars_round_trip(value: Any) -> None:
    round_trip(value)
    round_trip([value, {"k": value}, (value,)])


def test_decimal_keeps_its_exponent() -> None:
    assert str(loads(dumps(Decimal("1.10")))) == "1.10"
    assert loads(dumps(Decimal("NaN"))).is_nan()


def test_enum_comes_back_as_the_same_member() -> None:
    assert loads(dumps(Color.RED)) is Color.RED
    assert loads(dumps(Pair.ORIGIN)) is Pair.ORIGIN


def test_zoneinfo_datetime_keeps_its_zone() -> None:
    value = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York"))
    back = round_trip(value)
    assert back.tzinfo is ZoneInfo("America/New_York")
    assert back.fold == 1 and back.utcoffset() == value.utcoffset()


def test_utc_datetime_comes_back_with_utc() -> None:
    assert loads(dumps(datetime(2024, 1, 1, tzinfo=UTC))).tzinfo is UTC


DATACLASSES = {
    "simple": Point(1, 2),
    "frozen slots kw_only nested": Shape(
        name="tri",
        points=[Point(0, 0), Point(1, 0), Point(0, 1)],
        color=Color.GREEN,
        tags=frozenset({"a", "b"}),
        created_at=datetime(2024, 5, 1, tzinfo=UTC),
    ),
    "init=False field": Counter(start=4, history=[1, 2]),
    "nested class": Outer.Inner(value=3),
    "dataclass in containers": {"pts": (Point(1, 1),), "by_id": {7: Point(2, 2)}},
    "field holding a dataclass in a dict": Row(id=1, owner={"p": Point(3, 4)}),
}


@pytest.mark.parametrize("value", DATACLASSES.values(), ids=DATACLASSES.keys())
def test_dataclasses_round_trip(value: Any) -> None:
    round_trip(value)


def test_dataclass_init_false_field_keeps_its_stored_value() -> None:
    counter = Counter(start=4)
    counter.doubled = 99  # changed after __init__: the stored value must win over __post_init__
    assert loads(dumps(counter)).doubled == 99


MODELS = {
    "nested": User(
        name="ada",
        address=Address(street="1 Main St", zip="00001"),
        tags={"x", "y"},
        span=(3, 4),
        seen_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        level=Level.HIGH,
    ),
    "defaults": User(name="bob", address=Address(street="s", zip="z")),
    "root model": Names(["a", "b"]),
    "any field with tagged values": Anything(payload={"t": (1, 2), "when": date(2020, 1, 1)}),
    "models in containers": [Address(street="a", zip="1"), {"addr": Address(street="b", zip="2")}],
    "dataclass holding a model": Row(id=2, owner=Address(street="c", zip="3")),
}


@pytest.mark.parametrize("value", MODELS.values(), ids=MODELS.keys())
def test_pydantic_models_round_trip(value: Any) -> None:
    round_trip(value)


def test_everything_nested_together() -> None:
    round_trip(
        {
            "shape": Shape(name="sq", points=[Point(0, 0)]),
            "user": MODELS["nested"],
            "when": [datetime(2024, 1, 1), date(2024, 1, 1), time(1), timedelta(1)],
            "ids": {UUID(int=1), UUID(int=2)},
            "raw": (b"ab", b"cd"),
            "money": {Decimal("0.1"): Decimal("0.2")},
            "paths": [pathlib.Path("x")],
            "colors": {Color.RED: [Level.LOW, Mode.FAST]},
            TAG: {"v": (1,), TAG: "tuple"},
            "big": 2**100,
        }
    )


# -- the tag key in user data ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {TAG: "tuple", "v": [1, 2]},
        {TAG: "dataclass", "cls": "os:system", "v": {}},
        {TAG: None},
        [{TAG: "x"}, {"nested": {TAG: {TAG: "set", "v": []}}}],
        {"v": TAG, "x": f"text with {TAG} inside"},
    ],
    ids=["looks like a tuple", "looks like a dataclass", "none value", "nested", "in strings"],
)
def test_user_dicts_containing_the_tag_key_round_trip(value: Any) -> None:
    round_trip(value)


# -- encoded form ---------------------------------------------------------------------------


def test_plain_json_is_written_as_is() -> None:
    assert dumps(1) == "1"
    assert dumps("a") == '"a"'
    assert dumps(None) == "null"
    assert dumps({"a": 1, "b": [1, 2.5]}) == '{"a":1,"b":[1,2.5]}'
    assert dumps([1, "x", True]) == '[1,"x",true]'


def test_tagged_form_is_compact_and_readable() -> None:
    assert orjson.loads(dumps((1, 2))) == {TAG: "tuple", "v": [1, 2]}
    assert orjson.loads(dumps(Point(1, 2))) == {
        TAG: "dataclass",
        "cls": f"{HERE}:Point",  # a loose file (no package): named by its path
        "v": {"x": 1, "y": 2},
    }
    assert orjson.loads(dumps(Outer.Inner(1)))["cls"] == f"{HERE}:Outer.Inner"


def test_loads_reads_plain_json_written_elsewhere() -> None:
    assert loads('{"a": [1, 2.0, null, "x"]}') == {"a": [1, 2.0, None, "x"]}


# -- what cannot be stored -----------------------------------------------------------------


def test_error_names_type_and_path_and_what_to_do() -> None:
    sock = socket.socket()
    try:
        rows = [Row(id=i) for i in range(3)] + [Row(id=3, owner=sock)]
        with pytest.raises(SerializationError) as info:
            dumps({"rows": rows}, name="result")
    finally:
        sock.close()
    message = str(info.value)
    assert "result['rows'][3].owner" in message
    assert "socket.socket" in message
    assert "dataclass" in message and "pydantic model" in message
    assert 'serializer="pickle"' in message


@pytest.mark.parametrize(
    ("value", "path", "type_name"),
    [
        (threading.Lock(), "value", "_thread.lock"),
        ((i for i in range(3)), "value", "generator"),
        (Plain(), "value", f"{__name__}.Plain"),
        ([1, 2, Plain()], "value[2]", "Plain"),
        ({"a": {"b": (0, Plain())}}, "value['a']['b'][1]", "Plain"),
        ({1: Plain()}, "value[1]", "Plain"),
        ({(1, Plain()): 1}, "value[<key>][1]", "Plain"),
        ({"s": {Plain()}}, "value['s'][<set member>]", "Plain"),
        (Anything(payload=Plain()), "value.payload", "Plain"),
        (Anything(payload={"deep": [Plain()]}), "value.payload['deep'][0]", "Plain"),
        (Shape(name="x", points=[Point(1, Plain())]), "value.points[0].y", "Plain"),
        ({TAG: Plain()}, f"value[{TAG!r}]", "Plain"),
        (object(), "value", "object"),
        (print, "value", "builtin_function_or_method"),
        (Plain, "value", "type"),
    ],
)
def test_unstorable_values_name_type_and_path(value: Any, path: str, type_name: str) -> None:
    with pytest.raises(SerializationError) as info:
        dumps(value)
    message = str(info.value)
    assert message.startswith(f"cannot store {path} with the json serializer:"), message
    assert type_name in message


@pytest.mark.parametrize(
    ("value", "base"),
    [
        (OrderedDict(a=1), "dict"),
        (type("Sub", (float,), {})(1.0), "float"),
    ],
    ids=["OrderedDict", "float subclass"],
)
def test_builtin_subclasses_are_refused_not_silently_converted(value: Any, base: str) -> None:
    with pytest.raises(SerializationError, match=f"subclass of {base}.*Convert it to {base}"):
        dumps(value)


def test_classes_defined_in_a_function_are_refused_at_dumps_time() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    class LocalModel(pydantic.BaseModel):
        x: int

    class LocalEnum(enum.Enum):
        A = 1

    for value in (Local(1), LocalModel(x=1), LocalEnum.A):
        with pytest.raises(SerializationError) as info:
            dumps({"item": [value]})
        message = str(info.value)
        assert "value['item'][0]" in message
        assert f"{type(value).__qualname__}" in message
        assert "<locals>" in message and "inside a function" in message
        assert f"Define {type(value).__name__} at module level" in message


def test_classes_that_cannot_be_found_by_name_are_refused_at_dumps_time() -> None:
    Hidden = dataclasses.make_dataclass("Hidden", [("x", int)])
    Hidden.__module__ = __name__  # but no module attribute named Hidden refers to it
    with pytest.raises(SerializationError, match="cannot be found again.*module level"):
        dumps(Hidden(1))


def test_str_with_lone_surrogate_is_an_error_not_a_crash() -> None:
    with pytest.raises(SerializationError, match="cannot store value.*surrogates"):
        dumps(["\udcff"])


def test_self_referencing_value_is_an_error_not_a_crash() -> None:
    value: list[Any] = [1]
    value.append(value)
    with pytest.raises(SerializationError, match="refers to itself|reference to itself"):
        dumps(value)


# -- what cannot be loaded -----------------------------------------------------------------


def tagged(kind: str, cls: str, v: Any) -> str:
    return orjson.dumps({TAG: kind, "cls": cls, "v": v}).decode()


def test_loading_a_class_that_cannot_be_imported_says_which_and_what_to_do() -> None:
    with pytest.raises(SerializationError) as info:
        loads(tagged("dataclass", "no_such_module_xyz:Thing", {"a": 1}))
    message = str(info.value)
    assert "no_such_module_xyz:Thing" in message
    assert "must be importable" in message


def test_loading_a_class_missing_from_its_module_says_which() -> None:
    with pytest.raises(SerializationError, match=rf"{__name__}:Gone.*must be importable"):
        loads(tagged("dataclass", f"{__name__}:Gone", {}))


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        ("dataclass", f"{__name__}:not_a_class"),
        ("enum", f"{__name__}:not_a_class"),
        ("pydantic", f"{__name__}:not_a_class"),
        ("dataclass", f"{__name__}:Plain"),
        ("dataclass", f"{__name__}:Color"),
        ("enum", f"{__name__}:Point"),
        ("pydantic", f"{__name__}:Point"),
        ("enum", "builtins:eval"),
        ("dataclass", "os:system"),
    ],
)
def test_loads_never_calls_anything_but_the_expected_kind(kind: str, ref: str) -> None:
    with pytest.raises(SerializationError, match="is not one now"):
        loads(tagged(kind, ref, {"x": 1} if kind != "enum" else "1"))


def test_dataclass_whose_fields_changed_gives_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="no longer fit dataclass.*change"):
        loads(tagged("dataclass", f"{__name__}:Point", {"x": 1, "z": 2}))
    with pytest.raises(SerializationError, match="no longer fit dataclass"):
        loads(tagged("dataclass", f"{__name__}:Point", {"x": 1}))


def test_dataclass_whose_post_init_rejects_stored_values_gives_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="no longer fit dataclass.*must be positive"):
        loads(tagged("dataclass", f"{__name__}:Positive", {"n": -1}))


def test_enum_member_that_no_longer_exists_gives_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="no longer a member of enum"):
        loads(tagged("enum", f"{__name__}:Color", "purple"))


def test_model_that_no_longer_validates_gives_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="no longer validates"):
        loads(tagged("pydantic", f"{__name__}:Address", {"street": "x"}))


def test_unknown_tag_and_malformed_entries_are_errors() -> None:
    with pytest.raises(SerializationError, match="unknown type tag 'wat'"):
        loads(orjson.dumps({TAG: "wat", "v": 1}).decode())
    with pytest.raises(SerializationError, match="malformed 'tuple'"):
        loads(orjson.dumps({TAG: "tuple"}).decode())
    with pytest.raises(SerializationError, match="malformed 'date'"):
        loads(orjson.dumps({TAG: "date", "v": "yesterday"}).decode())


def test_invalid_json_is_an_error() -> None:
    with pytest.raises(SerializationError, match="not valid JSON"):
        loads("{nope")


# -- pickle ----------------------------------------------------------------------------------


def test_pickle_is_opt_in_and_round_trips_what_json_refuses() -> None:
    value = {"plain": Plain, "ordered": OrderedDict(a=1), "set": {1, 2}}
    with pytest.raises(SerializationError):
        dumps(value)
    text = dumps(value, "pickle")
    assert isinstance(text, str) and text.isascii()
    back = loads(text, "pickle")
    assert back == value and type(back["ordered"]) is OrderedDict


def test_pickle_errors_are_serialization_errors() -> None:
    with pytest.raises(SerializationError, match="pickle serializer.*_thread.lock|lock"):
        dumps({"lock": threading.Lock()}, serializer="pickle", name="result")
    with pytest.raises(SerializationError, match="pickle serializer"):
        loads("not base64 !!", "pickle")
    with pytest.raises(SerializationError, match="not valid JSON"):
        loads(dumps(1, "pickle"))


def test_module_docstring_warns_about_untrusted_pickle() -> None:
    doc = serialization.__doc__ or ""
    assert "opt-in" in doc and "untrusted" in doc


@pytest.mark.parametrize("call", [lambda: dumps(1, "yaml"), lambda: loads("1", "yaml")])
def test_unknown_serializer_lists_the_choices(call: Any) -> None:
    with pytest.raises(SerializationError) as info:
        call()
    message = str(info.value)
    assert "'yaml'" in message and '"json"' in message and '"pickle"' in message


# -- fingerprint -----------------------------------------------------------------------------


def test_fingerprint_is_a_sha256_of_sorted_json() -> None:
    assert fingerprint({"b": 1, "a": 2}) == hashlib.sha256(b'{"a":2,"b":1}').hexdigest()
    assert len(fingerprint(Point(1, 2))) == 64


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"x": {"a": 1, "b": (1, 2)}}, {"x": {"b": (1, 2), "a": 1}}),
        ({1: "a", 2: "b"}, {2: "b", 1: "a"}),
        ({TAG: 1, "z": 2}, {"z": 2, TAG: 1}),
        ({"a", "b", "c", "d"}, {"d", "c", "b", "a"}),
        (frozenset({(1, "x"), (2, "y")}), frozenset({(2, "y"), (1, "x")})),
        (
            Shape(name="s", points=[], tags=frozenset("abc")),
            Shape(name="s", points=[], tags=frozenset("cba")),
        ),
    ],
)
def test_fingerprint_ignores_order(a: Any, b: Any) -> None:
    assert fingerprint(a) == fingerprint(b)


def test_fingerprint_distinguishes_types_and_values() -> None:
    values = [1, 1.0, True, "1", (1,), [1], {1}, Level.LOW, Decimal(1), None, {"a": 1}, {"a": 2}]
    assert len({fingerprint(v) for v in values}) == len(values)


def test_fingerprint_is_stable_across_processes() -> None:
    code = (
        "from legato.serialization import fingerprint;"
        "print(fingerprint({'s': {'alpha', 'beta', 'gamma', 'delta'}, 'k': {('x',): 1, ('y',): 2}}))"
    )
    src = str(pathlib.Path(serialization.__file__).resolve().parents[1])
    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_fingerprint_of_unstorable_value_is_an_error() -> None:
    with pytest.raises(SerializationError, match=r"cannot fingerprint value\['x'\].*Plain"):
        fingerprint({"x": Plain()})


# -- imports ---------------------------------------------------------------------------------


def test_pydantic_is_only_imported_when_a_model_is_stored() -> None:
    code = (
        "import sys, legato\n"
        "before = 'pydantic' in sys.modules\n"
        "from legato.serialization import dumps, loads\n"
        "from dataclasses import dataclass\n"
        "loads(dumps({'a': (1, {2}), 'b': [b'x', 2**80]}))\n"
        "print(before, 'pydantic' in sys.modules)\n"
    )
    src = str(pathlib.Path(serialization.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    before, after = out.stdout.split()
    if before == "True":
        pytest.skip("the legato package itself imports pydantic")
    assert after == "False"
