"""Options validate themselves: every wrong value is refused the same way whether it is
given to ``@task``/``@flow``, to ``with_options`` or read from a declarative file
(``from_mapping``), and the error names the option, the value and where it was given."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from legato import DefinitionError, OptionError, flow, task
from legato.engine.options import FlowOptions, TaskOptions
from legato.engine.retries import RetryPolicy

NAN = float("nan")
INF = float("inf")


def body() -> None:
    """What the decorators are applied to."""


def not_a_number(_: object) -> bool:
    return False


# (option, value, the option as named in the error, the value as shown in the error)
TASK_BAD: list[tuple[str, Any, str, str]] = [
    ("name", "", "name", "''"),
    ("name", "a#b", "name", "'a#b'"),
    ("name", "a/b", "name", "'a/b'"),
    ("name", " padded", "name", "' padded'"),
    ("name", 3, "name", "3"),
    ("retries", -3, "retries", "-3"),
    ("retries", 1.5, "retries", "1.5"),
    ("retries", True, "retries", "True"),
    ("retries", "3", "retries", "'3'"),
    ("retries", None, "retries", "None"),
    ("retry_delay", "soon", "retry_delay", "'soon'"),
    ("retry_delay", [], "retry_delay", "[]"),
    ("retry_delay", [1, -1], "retry_delay", "-1"),
    ("retry_delay", [1, NAN], "retry_delay", "nan"),
    ("retry_delay", INF, "retry_delay", "inf"),
    ("retry_delay", None, "retry_delay", "None"),
    ("backoff", 0.5, "backoff", "0.5"),
    ("backoff", NAN, "backoff", "nan"),
    ("backoff", INF, "backoff", "inf"),
    ("backoff", "2", "backoff", "'2'"),
    ("backoff", True, "backoff", "True"),
    ("max_retry_delay", -1, "max_retry_delay", "-1"),
    ("max_retry_delay", NAN, "max_retry_delay", "nan"),
    ("max_retry_delay", "1m", "max_retry_delay", "'1m'"),
    ("jitter", -0.1, "jitter", "-0.1"),
    ("jitter", 2, "jitter", "2"),
    ("jitter", NAN, "jitter", "nan"),
    ("jitter", "0.2", "jitter", "'0.2'"),
    ("retry_on", 3, "retry_on", "3"),
    ("retry_on", "ValueError", "retry_on", "'ValueError'"),
    ("retry_on", [], "retry_on", "[]"),
    ("retry_on", [ValueError, "KeyError"], "retry_on", "[<class 'ValueError'>, 'KeyError']"),
    ("retry_on", int, "retry_on", "<class 'int'>"),
    ("retry_on_result", "yes", "retry_on_result", "'yes'"),
    ("retry_policies", 3, "retry_policies", "3"),
    ("retry_policies", {"ValueError": 1}, "retry_policies", "'ValueError'"),
    ("retry_policies", {ValueError: "x"}, "retry_policies[ValueError]", "'x'"),
    ("retry_policies", {ValueError: True}, "retry_policies[ValueError]", "True"),
    ("retry_policies", {ValueError: {"retry": 1}}, "retry_policies[ValueError]", "{'retry': 1}"),
    ("retry_policies", {ValueError: -1}, "retry_policies[ValueError].retries", "-1"),
    ("retry_policies", {OSError: {"jitter": 5}}, "retry_policies[OSError].jitter", "5"),
    ("timeout", 0, "timeout", "0"),
    ("timeout", -1, "timeout", "-1"),
    ("timeout", NAN, "timeout", "nan"),
    ("timeout", INF, "timeout", "inf"),
    ("timeout", "10s", "timeout", "'10s'"),
    ("timeout", True, "timeout", "True"),
    ("cache_key", 3, "cache_key", "3"),
    ("cache_key", "args", "cache_key", "'args'"),
    ("cache_ttl", -1, "cache_ttl", "-1"),
    ("cache_ttl", NAN, "cache_ttl", "nan"),
    ("cache_ttl", "1h", "cache_ttl", "'1h'"),
    ("tags", "io", "tags", "'io'"),
    ("tags", [1], "tags", "[1]"),
    ("tags", [""], "tags", "['']"),
    ("tags", {"io": 1}, "tags", "{'io': 1}"),
    ("serializer", "yaml", "serializer", "'yaml'"),
    ("serializer", None, "serializer", "None"),
    ("on_failure", 3, "on_failure", "3"),
    ("on_failure", ["notify"], "on_failure", "'notify'"),
    ("compensate", "undo", "compensate", "'undo'"),
]

FLOW_DECLARABLE_BAD: list[tuple[str, Any, str, str]] = [
    ("name", "a#b", "name", "'a#b'"),
    ("name", " etl", "name", "' etl'"),
    ("version", 2, "version", "2"),
    ("version", "", "version", "''"),
    ("timeout", 0, "timeout", "0"),
    ("timeout", -1, "timeout", "-1"),
    ("timeout", NAN, "timeout", "nan"),
    ("timeout", "1h", "timeout", "'1h'"),
    ("retries", -3, "retries", "-3"),
    ("retries", True, "retries", "True"),
    ("retries", 1.5, "retries", "1.5"),
    ("queue", "", "queue", "''"),
    ("queue", "  ", "queue", "'  '"),
    ("queue", 3, "queue", "3"),
    ("queue", None, "queue", "None"),
    ("priority", "high", "priority", "'high'"),
    ("priority", 1.5, "priority", "1.5"),
    ("priority", True, "priority", "True"),
    ("priority", 2**31, "priority", str(2**31)),
    ("tags", "gpu", "tags", "'gpu'"),
    ("tags", [1], "tags", "[1]"),
    ("on_failure", 3, "on_failure", "3"),
]

FLOW_PER_USE_BAD: list[tuple[str, Any, str, str]] = [
    ("store", 3, "store", "3"),
    ("store", "nowhere", "store", "'nowhere'"),
    ("target", "module_only", "target", "'module_only'"),
    ("target", "module:", "target", "'module:'"),
    ("target", 3, "target", "3"),
    ("idempotency_key", "", "idempotency_key", "''"),
    ("idempotency_key", 42, "idempotency_key", "42"),
    ("wait", "yes", "wait", "'yes'"),
    ("wait", 1, "wait", "1"),
]


def _ids(table: list[tuple[str, Any, str, str]]) -> list[str]:
    return [f"{option}={shown}" for option, _, _, shown in table]


def _assert_names(exc: OptionError, option: str, shown: str, place: str) -> None:
    message = str(exc)
    assert exc.option == option
    assert f"{option}={shown} " in message, message
    assert place in message and exc.where in message
    assert exc.allowed and message.endswith(exc.allowed)  # and what is allowed


@pytest.mark.parametrize(("option", "value", "named", "shown"), TASK_BAD, ids=_ids(TASK_BAD))
def test_a_bad_task_option_is_refused_at_decoration(option, value, named, shown) -> None:
    with pytest.raises(OptionError) as info:
        task(**{option: value})(body)
    _assert_names(info.value, named, shown, "@task on body (")
    assert "test_options.py" in str(info.value)


@pytest.mark.parametrize(("option", "value", "named", "shown"), TASK_BAD, ids=_ids(TASK_BAD))
def test_a_bad_task_option_is_refused_by_with_options(option, value, named, shown) -> None:
    fine = task(body)
    with pytest.raises(OptionError) as info:
        fine.with_options(**{option: value})
    _assert_names(info.value, named, shown, "body.with_options()")
    assert "test_options.py" in str(info.value)


@pytest.mark.parametrize(("option", "value", "named", "shown"), TASK_BAD, ids=_ids(TASK_BAD))
def test_a_bad_task_option_is_refused_from_a_mapping(option, value, named, shown) -> None:
    data = {"name": "fetch", option: value}
    with pytest.raises(OptionError) as info:
        TaskOptions.from_mapping(data, where="flows.yaml:12")
    _assert_names(info.value, named, shown, "flows.yaml:12: ")
    assert info.value.where == "flows.yaml:12"


@pytest.mark.parametrize(
    ("option", "value", "named", "shown"), FLOW_DECLARABLE_BAD, ids=_ids(FLOW_DECLARABLE_BAD)
)
def test_a_bad_flow_option_is_refused_at_decoration(option, value, named, shown) -> None:
    with pytest.raises(OptionError) as info:
        flow(**{option: value})(body)
    _assert_names(info.value, named, shown, "@flow on body (")
    assert "test_options.py" in str(info.value)


@pytest.mark.parametrize(
    ("option", "value", "named", "shown"),
    FLOW_DECLARABLE_BAD + FLOW_PER_USE_BAD,
    ids=_ids(FLOW_DECLARABLE_BAD + FLOW_PER_USE_BAD),
)
def test_a_bad_flow_option_is_refused_by_with_options(option, value, named, shown) -> None:
    fine = flow(body)
    with pytest.raises(OptionError) as info:
        fine.with_options(**{option: value})
    _assert_names(info.value, named, shown, "body.with_options()")


@pytest.mark.parametrize(
    ("option", "value", "named", "shown"), FLOW_DECLARABLE_BAD, ids=_ids(FLOW_DECLARABLE_BAD)
)
def test_a_bad_flow_option_is_refused_from_a_mapping(option, value, named, shown) -> None:
    with pytest.raises(OptionError) as info:
        FlowOptions.from_mapping({"name": "etl", option: value}, where="etl.yaml:3")
    _assert_names(info.value, named, shown, "etl.yaml:3: ")


def test_the_issue_example_is_refused_naming_the_first_bad_option() -> None:
    fine = flow(body)
    with pytest.raises(OptionError, match=r"retries=-3 must be an integer >= 0"):
        fine.with_options(retries=-3, priority="high")
    with pytest.raises(OptionError, match=r"priority='high' must be an integer"):
        fine.with_options(priority="high")


def test_a_store_url_that_cannot_be_used_is_refused_without_its_password() -> None:
    fine = flow(body)
    with pytest.raises(OptionError) as info:
        fine.with_options(store="mysql://admin:hunter2@db.example/runs")
    message = str(info.value)
    assert "hunter2" not in message and "admin:***@db.example" in message
    assert "store=" in message and "sqlite:///" in message  # says which forms work


@pytest.mark.parametrize(
    "make",
    [
        lambda: task(retires=3)(body),
        lambda: task(body).with_options(retires=3),
        lambda: TaskOptions.from_mapping({"name": "fetch", "retires": 3}, where="f.yaml:2"),
    ],
    ids=["decorator", "with_options", "from_mapping"],
)
def test_an_unknown_task_option_is_named_with_the_known_ones(make) -> None:
    with pytest.raises(DefinitionError) as info:
        make()
    message = str(info.value)
    assert "unknown option(s) ['retires']" in message and "retry_delay" in message


def test_from_mapping_names_every_unknown_key_and_where() -> None:
    with pytest.raises(DefinitionError) as info:
        FlowOptions.from_mapping(
            {"name": "etl", "colour": "red", "retires": 1, "retries": 1}, where="etl.yaml:7"
        )
    message = str(info.value)
    assert message.startswith("etl.yaml:7: unknown option(s) ['colour', 'retires']")
    assert "priority" in message and "queue" in message


def test_per_use_flow_options_are_not_declarable() -> None:
    with pytest.raises(DefinitionError, match=r"unknown option\(s\) \['store'\]"):
        flow(store="memory://")(body)  # type: ignore[call-overload]
    with pytest.raises(DefinitionError, match=r"unknown option\(s\) \['wait'\]"):
        FlowOptions.from_mapping({"name": "etl", "wait": True}, where="etl.yaml:1")


@pytest.mark.parametrize("kind", [TaskOptions, FlowOptions])
def test_from_mapping_needs_a_mapping_with_a_name(kind) -> None:
    with pytest.raises(DefinitionError, match="x.yaml:4: a .* needs a name"):
        kind.from_mapping({"retries": 1}, where="x.yaml:4")
    with pytest.raises(DefinitionError, match="x.yaml:4: .* options must be a mapping"):
        kind.from_mapping(["retries", 1], where="x.yaml:4")


def test_options_refuse_bad_values_however_they_are_built() -> None:
    with pytest.raises(OptionError, match="task fetch: retries=-3"):
        TaskOptions(name="fetch", retries=-3)
    good = TaskOptions(name="fetch")
    with pytest.raises(OptionError, match="task fetch: jitter=2"):
        dataclasses.replace(good, jitter=2)
    with pytest.raises(OptionError, match="flow etl: priority='high'"):
        FlowOptions(name="etl", priority="high")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="retry_delay=-1"):
        RetryPolicy(delays=(-1.0,))


def predicate(result: object) -> bool:
    return result is None


# (option, value given, attribute read, value expected)
TASK_GOOD: list[tuple[str, Any, str, Any]] = [
    ("name", "fetch_v2", "name", "fetch_v2"),
    ("retries", 3, "retries", 3),
    ("retry_delay", 2, "retry_delay", (2.0,)),
    ("retry_delay", [1, timedelta(seconds=5), 30], "retry_delay", (1.0, 5.0, 30.0)),
    ("backoff", 2, "backoff", 2.0),
    ("max_retry_delay", timedelta(minutes=1), "max_retry_delay", 60.0),
    ("jitter", 0.2, "jitter", 0.2),
    ("retry_on", ValueError, "retry_on", (ValueError,)),
    ("retry_on", [ValueError, KeyError], "retry_on", (ValueError, KeyError)),
    ("retry_on", not_a_number, "retry_on", not_a_number),
    ("retry_on_result", predicate, "retry_on_result", predicate),
    ("timeout", timedelta(seconds=90), "timeout", 90.0),
    ("timeout", 2.5, "timeout", 2.5),
    ("cache_key", "inputs", "cache_key", "inputs"),
    ("cache_ttl", 60, "cache_ttl", timedelta(seconds=60)),
    ("cache_ttl", timedelta(hours=1), "cache_ttl", timedelta(hours=1)),
    ("tags", ["io", "gpu"], "tags", ("io", "gpu")),
    ("serializer", "pickle", "serializer", "pickle"),
]

FLOW_GOOD: list[tuple[str, Any, str, Any]] = [
    ("name", "etl", "name", "etl"),
    ("version", "2", "version", "2"),
    ("timeout", timedelta(minutes=5), "timeout", 300.0),
    ("retries", 2, "retries", 2),
    ("queue", "gpu", "queue", "gpu"),
    ("priority", -5, "priority", -5),
    ("tags", ("gpu",), "tags", ("gpu",)),
]


def _good_ids(table: list[tuple[str, Any, str, Any]]) -> list[str]:
    return [
        f"{option}={getattr(value, '__name__', None) or value!r}" for option, value, *_ in table
    ]


@pytest.mark.parametrize(
    ("option", "value", "attr", "expected"), TASK_GOOD, ids=_good_ids(TASK_GOOD)
)
def test_good_task_options_are_reflected_however_given(option, value, attr, expected) -> None:
    built = [
        task(**{option: value})(body).options,
        task(body).with_options(**{option: value}).options,
        TaskOptions.from_mapping({"name": "body", option: value}, where="f.yaml:1"),
    ]
    for options in built:
        if option != "name":
            assert options.name == "body"
        assert getattr(options, attr) == expected


@pytest.mark.parametrize(
    ("option", "value", "attr", "expected"), FLOW_GOOD, ids=_good_ids(FLOW_GOOD)
)
def test_good_flow_options_are_reflected_however_given(option, value, attr, expected) -> None:
    built = [
        flow(**{option: value})(body).options,
        flow(body).with_options(**{option: value}).options,
        FlowOptions.from_mapping({"name": "body", option: value}, where="f.yaml:1"),
    ]
    for options in built:
        assert getattr(options, attr) == expected


def test_with_options_changes_only_what_it_is_given() -> None:
    fetch = task(retries=2, retry_delay=[1, 5], timeout=30, tags=["io"])(body)
    changed = fetch.with_options(retries=4)
    assert changed.options.retries == changed.options.retry.retries == 4
    assert changed.options.retry_delay == (1.0, 5.0) and changed.options.timeout == 30.0
    assert changed.options.tags == ("io",)
    assert fetch.options.retries == fetch.options.retry.retries == 2  # the original is kept


def test_retry_policies_take_defaults_from_the_task() -> None:
    options = task(
        retries=1, retry_delay=3, retry_policies={OSError: 5, KeyError: {"jitter": 0.5}}
    )(body).options
    by_type = dict(options.retry_policies)
    assert by_type[OSError].retries == 5 and by_type[OSError].delays == (3.0,)
    assert by_type[KeyError].retries == 1 and by_type[KeyError].jitter == 0.5
    assert by_type[KeyError].retry_on == (KeyError,)


def test_handlers_given_as_functions_become_tasks() -> None:
    def notify(failure: object) -> None: ...

    def undo(result: object) -> None: ...

    options = TaskOptions.from_mapping(
        {"name": "charge", "on_failure": notify, "compensate": undo}, where="f.yaml:1"
    )
    assert [h.name for h in options.on_failure] == ["notify"]
    assert options.compensate is not None and options.compensate.name == "undo"
    flow_options = flow(on_failure=[notify])(body).options
    assert [h.name for h in flow_options.on_failure] == ["notify"]


def test_per_use_flow_options_are_taken_by_with_options(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    changed = flow(body).with_options(
        store=url, target="pkg.mod:body", idempotency_key="order-42", wait=True
    )
    assert changed.options.store == url and changed.options.target == "pkg.mod:body"
    assert changed.options.idempotency_key == "order-42" and changed.options.wait is True


def test_options_read_from_a_mapping_drive_the_run(store) -> None:
    from legato.engine.definitions import Task

    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return "ok"

    options = TaskOptions.from_mapping(
        {"name": "flaky", "retries": 2, "retry_delay": [0], "retry_on": ConnectionError},
        where="flows.yaml:5",
    )
    flaky_task = Task(flaky, options)

    @flow
    def uses_it() -> str:
        return flaky_task()

    assert uses_it() == "ok"
    assert len(calls) == 3  # the first attempt and the 2 retries the mapping allowed


def _documented(heading: str) -> list[str]:
    reference = Path(__file__).parents[2] / "docs" / "reference.md"
    section = reference.read_text().split(f"### {heading}\n", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [row.split("`")[1] for row in rows]


def test_the_reference_documents_exactly_the_options_the_code_takes() -> None:
    assert _documented("`@task`") == list(TaskOptions.option_names())
    assert sorted(_documented("`@flow`")) == sorted(FlowOptions.DECLARABLE)
