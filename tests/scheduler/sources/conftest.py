"""Fixtures for the trigger-source tests: the emit recorder, the brokers on this machine
(skipped with the reason when unreachable, failed under LEGATO_REQUIRE_SERVICES=1), and a
helper that waits for a condition."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from source_recorder import Recorder

REQUIRED = os.environ.get("LEGATO_REQUIRE_SERVICES") == "1"
HERE = Path(__file__).parent


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path / "fires.db")


def require_service(name: str, host: str, port: int) -> None:
    """Skip (fail under LEGATO_REQUIRE_SERVICES=1) unless ``host:port`` accepts a TCP
    connection."""
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        reason = f"{name} is not reachable at {host}:{port} ({exc}); start it to run this test"
        if REQUIRED:
            pytest.fail(f"LEGATO_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


def eventually(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    """Wait until ``condition()`` is true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.05)
