"""A real legato server (uvicorn on 127.0.0.1) over a real SQLite store, a worker thread
that resumes waiting runs, and Debian's chromium driven by Playwright.

Without /usr/bin/chromium (or the playwright package) the browser tests skip with the
reason, except under LEGATO_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from legato.store.base import Store

CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("LEGATO_REQUIRE_SERVICES") == "1"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "img"


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[dev]'"
    return None


@pytest.fixture
def server(sqlite_store: Store) -> Iterator[str]:
    import uvicorn

    from legato.server.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(sqlite_store, allow_anonymous=True, poll_interval=0.1),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(10)


@pytest.fixture
def worker(sqlite_store: Store) -> Iterator[None]:
    from legato.worker import Worker, WorkerOptions

    stop = threading.Event()
    running = Worker(sqlite_store, options=WorkerOptions(concurrency=2, poll_interval=0.05))
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(20)


@pytest.fixture
def page() -> Iterator[object]:
    reason = _unavailable()
    if reason is not None:
        if REQUIRED:
            pytest.fail(reason + " (LEGATO_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        opened = context.new_page()
        opened.set_default_timeout(15_000)
        yield opened
        context.close()
        browser.close()


@pytest.fixture
def screenshot() -> object:
    """``screenshot(page, name)`` keeps a picture of the page under docs/img/ for the
    README when LEGATO_SCREENSHOTS=1 (make screenshots); otherwise it does nothing."""

    def take(page: object, name: str) -> None:
        if os.environ.get("LEGATO_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))  # type: ignore[attr-defined]

    return take
