"""The web UI: plain HTML, CSS and JavaScript written for legato and served by the same
server (no CDN, no build step, no third-party front-end code). It reads and acts through
the REST API under ``/api/v1`` with the caller's token."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the UI at ``/ui/`` and send ``/`` there."""
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")
    app.add_api_route("/", _to_ui, methods=["GET"], include_in_schema=False)


def _to_ui() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)
