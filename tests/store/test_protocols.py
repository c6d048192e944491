"""The store protocols are honest: every backend implements each protocol it declares,
and every verb of every protocol has a contract test that runs on every backend.

Protocols are found, not listed: any ``*Store`` protocol defined in ``legato.store`` (the
deployment and token protocols to come included) is checked as soon as it exists.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import legato.store
from legato.store import MemoryStore, PostgresStore, SqliteStore
from legato.store.base import ControlStore, QueueStore, RunStore, SignalStore, Store

BACKEND_CLASSES = [MemoryStore, SqliteStore, PostgresStore]
TESTS = Path(__file__).parent
# Fixtures in tests/store/conftest.py that run a test once per backend.
EVERY_BACKEND = {"store", "open_again"}


def store_protocols() -> list[type]:
    """Every ``*Store`` protocol class defined in a module of ``legato.store``."""
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(legato.store.__path__, "legato.store."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == info.name
                and name.endswith("Store")
                and getattr(value, "_is_protocol", False)
            ):
                found[name] = value
    return list(found.values())


def verbs(protocol: type) -> list[str]:
    """The methods ``protocol`` itself defines (a composite defines none of its own)."""
    return [
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ]


def declared(backend: type) -> list[type]:
    """The store protocols ``backend`` inherits (declares it implements)."""
    return [c for c in backend.__mro__ if c in store_protocols()]


def missing_or_different(backend: type, protocol: type) -> list[str]:
    """What ``backend`` lacks of ``protocol``: verbs it does not implement itself (it
    would inherit the protocol's empty body) or implements with another signature."""
    problems = []
    for name in verbs(protocol):
        owner = next(c for c in backend.__mro__ if name in vars(c))
        if getattr(owner, "_is_protocol", False):
            problems.append(f"{name}: not implemented")
            continue
        wanted = inspect.signature(getattr(protocol, name))
        got = inspect.signature(getattr(backend, name))
        if _shape(got) != _shape(wanted):
            problems.append(f"{name}: {got} is not {wanted}")
    return problems


def _shape(signature: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


# -- backends declare and implement ------------------------------------------------------


def test_the_store_protocols_are_split_by_concern_and_store_is_all_of_them() -> None:
    assert {RunStore, QueueStore, SignalStore, ControlStore, Store} <= set(store_protocols())
    assert set(Store.__mro__) >= {RunStore, QueueStore, SignalStore, ControlStore}
    assert verbs(Store) == []
    concerns = [set(verbs(p)) for p in (RunStore, QueueStore, SignalStore, ControlStore)]
    assert sum(map(len, concerns)) == len(set().union(*concerns)), "a verb in two protocols"


@pytest.mark.parametrize("backend", BACKEND_CLASSES, ids=lambda c: c.__name__)
def test_every_backend_declares_the_store_protocols(backend: type) -> None:
    assert Store in declared(backend)
    assert {RunStore, QueueStore, SignalStore, ControlStore} <= set(declared(backend))


@pytest.mark.parametrize("backend", BACKEND_CLASSES, ids=lambda c: c.__name__)
def test_every_backend_implements_each_protocol_it_declares(backend: type) -> None:
    for protocol in declared(backend):
        assert missing_or_different(backend, protocol) == [], protocol.__name__


def test_a_backend_missing_a_verb_or_changing_its_signature_is_caught() -> None:
    class Changed(MemoryStore):
        def get_input(self, run_id: str) -> None:  # type: ignore[override]
            return None

    assert [p.split(":")[0] for p in missing_or_different(Changed, SignalStore)] == ["get_input"]

    class Bare(ControlStore):
        def set_paused(self, run_id: str, *, paused: bool, event: Any) -> bool:
            return False

    assert missing_or_different(Bare, ControlStore) == ["cancel_run: not implemented"]


def test_an_open_store_is_an_instance_of_every_protocol_it_declares(store: Store) -> None:
    for protocol in declared(type(store)):
        assert isinstance(store, protocol), protocol.__name__
    assert store.url


# -- every verb has a contract test -----------------------------------------------------


def contract_calls(source: str) -> set[str]:
    """Names of the methods called (``x.verb(...)``) by the tests of ``source`` that run
    on every backend, and by the module's fixtures and helpers they use."""
    tree = ast.parse(source)
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    every_backend = set(EVERY_BACKEND)
    grew = True
    while grew:  # a module fixture that takes ``store`` runs on every backend too
        grew = False
        for name, node in functions.items():
            if name not in every_backend and _params(node) & every_backend:
                every_backend.add(name)
                grew = True
    todo = [name for name, node in functions.items() if _params(node) & every_backend]
    seen: set[str] = set()
    calls: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in _walk(functions[name]):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                calls.add(node.func.attr)
            elif isinstance(node, ast.Name) and node.id in functions:
                todo.append(node.id)  # a helper or fixture of the module it uses
    return calls


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {arg.arg for arg in node.args.args + node.args.kwonlyargs}


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    yield from ast.walk(node)


def test_the_contract_scanner_counts_only_tests_that_run_on_every_backend() -> None:
    source = """
def helper(s):
    return s.claim_run(worker_id="w")

@pytest.fixture
def seeded(store):
    store.create_run(run)
    return store

def test_a(store):
    helper(store)

def test_b(seeded):
    seeded.get_run("r")

def test_sqlite_only(pg):
    pg.send_event(event)
"""
    assert contract_calls(source) >= {"claim_run", "create_run", "get_run"}
    assert "send_event" not in contract_calls(source)


def test_every_verb_of_every_store_protocol_has_a_contract_test() -> None:
    called: set[str] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name != Path(__file__).name:
            called |= contract_calls(path.read_text())
    untested = {
        protocol.__name__: sorted(set(verbs(protocol)) - called)
        for protocol in store_protocols()
        if set(verbs(protocol)) - called
    }
    assert untested == {}, (
        "these store verbs have no contract test in tests/store (a test taking the "
        f"`store` fixture, which runs it on memory, SQLite and PostgreSQL): {untested}"
    )
