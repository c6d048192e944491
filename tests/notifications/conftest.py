"""Real local receivers for notifications: an HTTP server and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    """Answers each POST with the next status in ``statuses`` (then 200) and keeps the
    requests it answered with 2xx in ``received`` (all of them in ``seen``)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    seen: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(port=0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode()
            request = Received(self.path, dict(self.headers.items()), body)
            with lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.seen.append(request)
                if 200 <= status < 300:
                    receiver.received.append(request)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    port: int
    user: str
    password: str
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox(port=free_port(), user="alerts", password="Sm7p-Pa55word-xyz")

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            box.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
            )
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == box.user
            and data.password.decode() == box.password
        )
        if ok:
            box.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()
