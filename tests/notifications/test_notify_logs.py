"""Secrets of a notification channel never reach any logger: not legato's, not httpx's,
httpcore's, apprise's, requests' or urllib3's, even with every logger at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import legato
from legato import flow, notify
from legato.errors import DefinitionError
from legato.notifications import parse_channel

PASSWORD = "Pa55-word-in-log-7"
ENV_TOKEN = "envtoken-0a1b2c3d-in-path"
API_KEY = "apikey-9z8y7x-in-query"


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """A root handler that formats every record (exceptions included) of every logger at
    DEBUG into one text buffer, as an application with verbose logging would."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    saved = {name: log.level for name, log in _loggers()}
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for _, log in _loggers():
        log.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _loggers() -> list[tuple[str, logging.Logger]]:
    return [
        (name, log)
        for name, log in logging.root.manager.loggerDict.items()
        if isinstance(log, logging.Logger)
    ]


def _channel(scheme: str, port: int) -> str:
    return f"{scheme}://bot:{PASSWORD}@127.0.0.1:{port}/hooks/${{HOOK_TOKEN}}?api_key={API_KEY}"


def _assert_no_secret(text: str) -> None:
    for secret in (PASSWORD, ENV_TOKEN, API_KEY):
        assert secret not in text, f"{secret!r} was logged:\n{text}"


@pytest.mark.parametrize("scheme", ["http", "json"], ids=["webhook-httpx", "apprise"])
def test_no_logger_sees_a_channel_secret(scheme, http_receiver, monkeypatch, everything_logged):
    pytest.importorskip("httpx")
    monkeypatch.setenv("HOOK_TOKEN", ENV_TOKEN)
    # Both calls are logged in detail: the third-party loggers really saw the requests.
    notify(_channel(scheme, http_receiver.port), "first")
    notify(_channel(scheme, http_receiver.port), "second")

    assert len(http_receiver.received) == 2
    assert http_receiver.received[0].path.startswith(f"/hooks/{ENV_TOKEN}")
    text = everything_logged.getvalue()
    assert "127.0.0.1" in text  # the libraries did log the requests
    _assert_no_secret(text)


def test_retries_of_a_notify_step_log_no_secret(
    tmp_path: Path, http_receiver, monkeypatch, everything_logged
):
    monkeypatch.setenv("HOOK_TOKEN", ENV_TOKEN)
    legato.use_store(f"sqlite:///{tmp_path}/n.db")
    http_receiver.statuses = [500]
    url = _channel("http", http_receiver.port)

    @flow
    def announce() -> None:
        notify(url, "deployed")

    announce()
    assert len(http_receiver.seen) == 2
    assert "127.0.0.1" in everything_logged.getvalue()
    _assert_no_secret(everything_logged.getvalue())


def test_checking_an_apprise_url_logs_no_part_of_its_password(everything_logged):
    with pytest.raises(DefinitionError):
        parse_channel("nosuch://user:Hunter2secret@host/path")
    text = everything_logged.getvalue()
    assert "apprise" in text  # apprise did log the URL it could not parse
    assert "Hunter2secret" not in text and "H...t" not in text
