"""Drive the real ``legato`` console script in subprocesses, on a store in tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 120  # seconds; only a hang ever gets near it


def legato_executable() -> str:
    beside = Path(sys.executable).parent / "legato"
    if beside.exists():
        return str(beside)
    found = shutil.which("legato")
    if found is None:
        pytest.skip("the legato console script is not installed (pip install -e .)")
    return found


class Cli:
    """Runs ``legato`` with ``LEGATO_DB`` pointing at a fresh SQLite store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_path = root / "store" / "legato.db"
        self.db = f"sqlite:///{self.db_path}"  # db_path is absolute: four slashes
        self.exe = legato_executable()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
        self.env.pop("COLUMNS", None)
        self.env.update(
            LEGATO_DB=self.db, LEGATO_HOME=str(root / "home"), NO_COLOR="1", TERM="dumb"
        )

    def write_flow(self, name: str, source: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(source))
        return path

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.exe, *args],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.root,
            timeout=TIMEOUT,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.exe, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.root,
        )

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def runs(self) -> list[dict[str, Any]]:
        """Every run in the store, newest first (read through the CLI)."""
        if not self.db_path.exists():
            return []
        return self.json("runs", "list", "--limit", "1000")  # type: ignore[no-any-return]

    def run_state(self, run_id: str) -> str:
        return self.json("runs", "show", run_id)["state"]  # type: ignore[no-any-return]

    @staticmethod
    def wait_for(condition: Callable[[], Any], *, what: str, timeout: float = 60) -> Any:
        """Poll ``condition`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    @staticmethod
    def assert_clean_error(done: subprocess.CompletedProcess[str], code: int = 2) -> None:
        """Exit ``code`` with an ``error:`` line on stderr and no traceback anywhere."""
        assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        assert done.stderr.startswith("error: "), done.stderr


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)
