"""Sending one message through one channel: webhook, SMTP or apprise.

Each sender raises ``NotificationError`` when the message was not accepted, with a message
scrubbed of the channel's secrets and no chained driver exception (a driver's message may
quote the URL). The libraries are imported here, when a message is sent, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legato.errors import NotificationError
from legato.notifications.channels import Channel, smtp_target
from legato.notifications.redaction import hide_in_logs

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """One notification, as every sender receives it."""

    text: str
    subject: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    step_key: str | None = None
    idempotency_key: str | None = None


def send(channel: Channel, message: Message, *, timeout: float = TIMEOUT_SECONDS) -> None:
    """Deliver ``message`` through ``channel``; ``NotificationError`` when it was not taken.

    From now on no log record of the process shows the channel's URL or its secrets
    (the sending libraries log the URLs they call)."""
    hide_in_logs((channel.url, *channel.secrets))
    try:
        if channel.kind == "webhook":
            _send_webhook(channel, message, timeout)
        elif channel.kind == "smtp":
            _send_email(channel, message, timeout)
        else:
            _send_apprise(channel, message)
    except NotificationError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated at the boundary, secrets scrubbed
        detail = channel.scrub(f"{type(exc).__name__}: {exc}")
        raise NotificationError(
            f"notification through {channel.label()} failed: {detail}"
        ) from None


def _send_webhook(channel: Channel, message: Message, timeout: float) -> None:
    body = json.dumps(
        {
            "message": message.text,
            "subject": message.subject,
            "data": dict(message.data),
            "run_id": message.run_id,
            "step_key": message.step_key,
        },
        default=str,
    ).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "legato-notify"}
    if message.idempotency_key:
        # Lets a receiver drop the duplicate if a retry follows a lost response.
        headers["Idempotency-Key"] = message.idempotency_key
    status, reason = _post(channel.url, body, headers, timeout)
    if not 200 <= status < 300:
        raise NotificationError(
            f"webhook {channel.label()} answered HTTP {status} {reason}".rstrip()
            + "; legato retries the step if it has retries left."
        )


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    try:
        import httpx
    except ImportError:
        return _post_urllib(url, body, headers, timeout)
    # user:password@ goes as basic auth, not in the URL that httpx logs.
    url, auth = _split_userinfo(url)
    response = httpx.post(url, content=body, headers=headers, auth=auth, timeout=timeout)
    return response.status_code, response.reason_phrase


def _split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@`` part, and that part decoded (or ``None``)."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    auth = (unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), auth


def _post_urllib(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    import base64
    import urllib.error
    import urllib.request

    url, auth = _split_userinfo(url)
    if auth is not None:
        # urllib does not take user:password@ from the URL: send it as HTTP basic auth.
        token = base64.b64encode(":".join(auth).encode()).decode()
        headers = {**headers, "Authorization": f"Basic {token}"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), str(response.reason)
    except urllib.error.HTTPError as exc:
        return exc.code, str(exc.reason)


def _send_email(channel: Channel, message: Message, timeout: float) -> None:
    import smtplib
    from email.message import EmailMessage

    target = smtp_target(channel.url, where=channel.label())
    email = EmailMessage()
    email["Subject"] = message.subject or _first_line(message.text)
    email["From"] = target.sender
    email["To"] = ", ".join(target.recipients)
    if message.idempotency_key:
        email["X-Legato-Idempotency-Key"] = message.idempotency_key
    email.set_content(message.text)
    smtp_class = smtplib.SMTP_SSL if target.ssl else smtplib.SMTP
    with smtp_class(target.host, target.port, timeout=timeout) as server:
        if target.starttls:
            server.starttls()
        if target.username and target.password is not None:
            server.login(target.username, target.password)
        refused = server.send_message(email, target.sender, list(target.recipients))
    if refused:
        raise NotificationError(
            f"email through {channel.label()}: the server refused {sorted(refused)}"
        )


def _send_apprise(channel: Channel, message: Message) -> None:
    import apprise

    sender = apprise.Apprise()
    if not sender.add(channel.url):
        raise NotificationError(f"{channel.label()} was not accepted by apprise")
    if not sender.notify(body=message.text, title=message.subject or ""):
        raise NotificationError(
            f"{channel.label()}: apprise could not deliver the message (see the 'apprise' "
            "logger for the service's answer); legato retries the step if it has retries left."
        )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "legato notification"
    return line if len(line) <= 78 else line[:75] + "..."
