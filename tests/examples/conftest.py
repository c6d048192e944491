"""Load the modules under ``examples/`` (not a package), read runs' steps, fake an API."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from legato.records import StepRecord
from legato.store.base import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = EXAMPLES / "seed"


def _load(name: str) -> ModuleType:
    module_name = f"seed_example_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, SEED / f"{name}.py")
        assert spec is not None and spec.loader is not None, f"no example {name!r} in {SEED}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _default_store(sqlite_store: Store) -> Store:
    """Every example runs on a fresh SQLite file store (the process default)."""
    return sqlite_store


@pytest.fixture(scope="session")
def load_example() -> Callable[[str], ModuleType]:
    """``load_example("parallel")`` imports ``examples/seed/parallel.py`` once."""
    return _load


def _ordered(steps: list[StepRecord]) -> dict[str, StepRecord]:
    return {step.key: step for step in sorted(steps, key=lambda step: step.seq)}


@pytest.fixture(scope="session")
def by_key() -> Callable[[list[StepRecord]], dict[str, StepRecord]]:
    """``by_key(handle.steps)``: the run's steps by key, in program order."""
    return _ordered


class FakeApi:
    """Serves ``body`` as JSON, answering the first ``failures`` requests with a 500."""

    def __init__(self) -> None:
        self.body: dict = {"userId": 1, "id": 1, "title": "delectus aut autem"}
        self.failures = 0
        self.paths: list[str] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with api.lock:
                    api.paths.append(self.path)
                    fail = len(api.paths) <= api.failures
                status, payload = (500, {"error": "try again"}) if fail else (200, api.body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}/todos/1"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """A JSON API on 127.0.0.1 for the API example: no public network."""
    fake = FakeApi()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    thread.join(5)
