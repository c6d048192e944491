"""PostgreSQL passwords holding reserved characters: the connection gets the password as
written, and nothing legato prints shows any part of it (banner, errors, host errors)."""

from __future__ import annotations

import getpass
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from postgres_service import PG_URL, new_schema, require_server

from legato.errors import StoreError
from legato.store import open_store, redact_url
from legato.store.urls import split_postgres_url

RESERVED = list("?#@/:%[]!$&'()*+,;=") + [" ", "%40", "%3F"]
LEFT, RIGHT = "kq7Left", "zw9Right"  # the password's two halves: neither may be shown
EVERY = f"{LEFT}?#@/:%[]!$&'()*+,;= {RIGHT}"


def _password(char: str) -> str:
    return f"{LEFT}{char}{RIGHT}"


def _assert_hidden(text: str) -> None:
    assert LEFT not in text and RIGHT not in text, text


@pytest.mark.parametrize("char", RESERVED)
def test_a_password_with_a_reserved_character_is_hidden_whole(char: str) -> None:
    url = f"postgresql://root:{_password(char)}@db.example.org:5432/prod?schema=legato"
    assert redact_url(url) == "postgresql://root:***@db.example.org:5432/prod?schema=legato"


@pytest.mark.parametrize("char", RESERVED)
def test_the_password_is_taken_apart_as_written(char: str) -> None:
    split = split_postgres_url(f"postgresql://root:{_password(char)}@h:5432/db?x=1")
    decoded = {"%40": "@", "%3F": "?"}.get(char, char)
    assert (split.user, split.password, split.location) == (
        "root",
        _password(decoded),
        "h:5432/db?x=1",
    )


@pytest.mark.parametrize("char", RESERVED)
def test_a_connection_error_shows_no_part_of_the_password(char: str) -> None:
    # Port 1: nothing listens there, so the driver fails at once.
    with pytest.raises(StoreError, match="cannot open the PostgreSQL store") as caught:
        open_store(f"postgresql://root:{_password(char)}@127.0.0.1:1/test")
    _assert_hidden(str(caught.value))
    assert "root:***@127.0.0.1:1/test" in str(caught.value)


def _legato() -> str:
    found = Path(sys.executable).with_name("legato")
    return str(found) if found.exists() else (shutil.which("legato") or "legato")


def _url(password: str, *, host: str = "127.0.0.1", query: str = "") -> str:
    return f"postgresql://{getpass.getuser()}:{password}@{host}/test{query}"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1:1", "127.0.0.1"), ("no-such-host.invalid", "no-such-host.invalid")],
    ids=["connection-refused", "unknown-host"],
)
def test_cli_errors_show_no_part_of_the_password(host: str, expected: str) -> None:
    done = subprocess.run(
        [_legato(), "runs", "list", "--db", _url(EVERY, host=host)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done
    assert expected in done.stderr and "Traceback" not in done.stderr
    _assert_hidden(done.stdout + done.stderr)


def test_the_worker_banner_shows_no_part_of_the_password(tmp_path: Path) -> None:
    require_server()
    assert "@" not in PG_URL.partition("://")[2], "the test adds its own user:password@"
    schema = new_schema(str(tmp_path))
    # Trust authentication: the server takes any password, so the worker starts.
    host = PG_URL.partition("://")[2].partition("/")[0]
    url = _url(EVERY, host=host, query=f"?schema={schema}")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [_legato(), "worker", "--poll", "0.05", "--db", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "concurrency" not in log.read_text() and worker.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    text = log.read_text()
    assert f"{getpass.getuser()}:***@" in text and "concurrency" in text, text
    _assert_hidden(text)
