"""Naming an executor by URL, and keeping dask out of `import legato`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from legato.errors import ExecutorError
from legato.executors import executor_from_url
from legato.executors.threads import ThreadExecutor


def test_threads_urls() -> None:
    default = executor_from_url("threads")
    assert isinstance(default, ThreadExecutor) and default.max_workers == 16
    four = executor_from_url("threads://4")
    assert isinstance(four, ThreadExecutor) and four.max_workers == 4


@pytest.mark.parametrize(
    "url", ["thread", "threads://0", "threads://many", "dask://", "dask://host", "tcp://h:1"]
)
def test_unknown_urls_say_what_is_accepted(url: str) -> None:
    with pytest.raises(ExecutorError, match="'threads', 'threads://N' .* 'dask://HOST:PORT'"):
        executor_from_url(url)


def test_import_legato_does_not_import_dask() -> None:
    code = (
        "import sys, legato, legato.executors, legato.executors.dask\n"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
