"""Trigger definitions: what starts a deployment's runs.

Each trigger is a frozen dataclass checked at construction (a bad cron expression, time
zone, filter, interval, folder, webhook path or stream URL raises ``ScheduleError`` or
``ExpressionError`` naming the option and the column), stored with its deployment as
JSON (:func:`trigger_json`, :func:`trigger_from_json`).

- ``Cron("0 9 * * 1-5", tz="Europe/Paris")`` and ``Every("30s")``: schedules
  (``legato.scheduler.cron``), fired by the scheduler service.
- ``OnEvent("ticket.created", filter="priority == 'high'")``: a named event sent with
  ``legato events send`` / ``legato.send_event``, its payload matching the filter.
- ``After("flow_a", when="completed")``: a run of flow ``flow_a`` reached that state.
- ``Webhook("tickets", secret_env="TICKETS_SECRET")``: ``POST /hooks/tickets``
  (``legato.scheduler.webhooks``).
- ``OnFile(dir, pattern)`` and ``OnStream(url)``: file arrivals and broker messages;
  defined and stored here, watched by their sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legato.errors import ScheduleError
from legato.scheduler.cron import Cron, Every, parse_duration
from legato.spec.expressions import Expression, parse
from legato.store.urls import redact_url

_WEBHOOK_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~/-]*$")
_STREAM_SCHEMES = ("redis", "rediss", "nats", "amqp", "amqps")
_WHEN = ("completed", "failed")


@dataclass(frozen=True, slots=True)
class OnEvent:
    """Fires for every event named ``name`` (sent to any run) whose payload matches
    ``filter`` (a safe expression, ``legato.spec.expressions``)."""

    name: str
    filter: str | None = None
    _expression: Expression | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ScheduleError(option="--on-event", text=self.name, reason="name an event")
        expression = None if self.filter is None else parse(self.filter, where="--filter")
        object.__setattr__(self, "_expression", expression)

    def matches(self, payload: Any) -> bool:
        if self._expression is None:
            return True
        return isinstance(payload, dict) and bool(self._expression.matches(payload))


@dataclass(frozen=True, slots=True)
class After:
    """Fires when a run of flow ``flow`` ends ``completed`` or ``failed``."""

    flow: str
    when: str = "completed"

    def __post_init__(self) -> None:
        if not self.flow.strip():
            raise ScheduleError(option="--after", text=self.flow, reason="name a flow")
        if self.when not in _WHEN:
            raise ScheduleError(option="--when", text=self.when, reason="write completed or failed")


@dataclass(frozen=True, slots=True)
class Webhook:
    """Fires for each ``POST /hooks/{path}``; with ``secret_env`` the request must carry
    ``X-Legato-Signature: sha256=<hex HMAC of the body>`` keyed by that variable."""

    path: str
    secret_env: str | None = None

    def __post_init__(self) -> None:
        path = self.path.strip().strip("/").removeprefix("hooks/")
        if not _WEBHOOK_PATH.match(path):
            raise ScheduleError(
                option="--webhook",
                text=self.path,
                reason="write a URL path of letters, digits and . _ ~ / -, such as tickets",
            )
        object.__setattr__(self, "path", path)
        if self.secret_env is not None and not re.match(
            r"^[A-Za-z_][A-Za-z0-9_]*$", self.secret_env
        ):
            raise ScheduleError(
                option="--secret-env",
                text=self.secret_env,
                reason="name an environment variable (letters, digits, _), not the secret",
            )


@dataclass(frozen=True, slots=True)
class OnFile:
    """Fires once for each file matching ``pattern`` that lands, fully written, in the
    folder ``dir`` (watched by the file source). With ``processed`` (a folder, relative
    to ``dir`` or absolute), a file whose run completed is moved there."""

    dir: str
    pattern: str = "*"
    settle: str = "1s"
    processed: str | None = None

    def __post_init__(self) -> None:
        if not Path(self.dir).expanduser().is_dir():
            raise ScheduleError(
                option="--on-file",
                text=self.dir,
                reason="no such folder; create it first or fix the path",
            )
        object.__setattr__(self, "dir", str(Path(self.dir).expanduser().resolve()))
        if not self.pattern or "/" in self.pattern:
            raise ScheduleError(
                option="--pattern", text=self.pattern, reason="write a file name glob, e.g. *.csv"
            )
        parse_duration(self.settle, option="--settle")


@dataclass(frozen=True, slots=True)
class OnStream:
    """Fires for each message of a broker stream: ``redis://host/stream``,
    ``nats://host/subject`` or ``amqp://host/queue`` (consumed by the stream sources)."""

    url: str

    def __post_init__(self) -> None:
        scheme, sep, rest = self.url.partition("://")
        if not sep or scheme not in _STREAM_SCHEMES or "/" not in rest.strip("/"):
            raise ScheduleError(
                option="--on-stream",
                text=self.url,
                reason="write redis://host/stream, nats://host/subject or amqp://host/queue",
            )


Trigger = Cron | Every | OnEvent | After | Webhook | OnFile | OnStream


def trigger_json(trigger: Trigger) -> dict[str, Any]:
    """The trigger as stored (a JSON object with its ``kind``)."""
    match trigger:
        case Cron():
            return {"kind": "cron", "expression": trigger.expression, "tz": trigger.tz}
        case Every():
            return {"kind": "interval", "seconds": trigger.interval.total_seconds()}
        case OnEvent():
            return {"kind": "event", "name": trigger.name, "filter": trigger.filter}
        case After():
            return {"kind": "after", "flow": trigger.flow, "when": trigger.when}
        case Webhook():
            return {"kind": "webhook", "path": trigger.path, "secret_env": trigger.secret_env}
        case OnFile():
            stored = {
                "kind": "file",
                "dir": trigger.dir,
                "pattern": trigger.pattern,
                "settle": trigger.settle,
            }
            if trigger.processed is not None:
                stored["processed"] = trigger.processed
            return stored
        case OnStream():
            return {"kind": "stream", "url": trigger.url}
    raise TypeError(f"not a trigger: {trigger!r}")


def trigger_from_json(data: dict[str, Any]) -> Trigger:
    """The trigger stored as ``data``; ``ScheduleError`` if it no longer validates."""
    from datetime import timedelta

    kind = data.get("kind")
    if kind == "cron":
        return Cron(data["expression"], tz=data.get("tz"))
    if kind == "interval":
        return Every(timedelta(seconds=float(data["seconds"])))
    if kind == "event":
        return OnEvent(data["name"], filter=data.get("filter"))
    if kind == "after":
        return After(data["flow"], when=data.get("when", "completed"))
    if kind == "webhook":
        return Webhook(data["path"], secret_env=data.get("secret_env"))
    if kind == "file":
        return _stored_file(data)
    if kind == "stream":
        return OnStream(data["url"])
    raise ScheduleError(option="triggers", text=str(kind), reason="unknown trigger kind")


def _stored_file(data: dict[str, Any]) -> OnFile:
    """A stored file trigger, even if its folder went away since (the source reports
    that); validation of the folder happens when it is deployed."""
    found = object.__new__(OnFile)
    for name in ("dir", "pattern", "settle"):
        object.__setattr__(found, name, data.get(name, "*" if name == "pattern" else "1s"))
    object.__setattr__(found, "processed", data.get("processed"))
    return found


def describe(trigger: Trigger) -> str:
    """One line for people: ``cron '0 9 * * 1-5' (Europe/Paris)``, ``every 30s``..."""
    match trigger:
        case Cron():
            return f"cron {trigger.expression!r}" + (f" ({trigger.tz})" if trigger.tz else "")
        case Every():
            return f"every {_seconds(trigger.interval.total_seconds())}"
        case OnEvent():
            text = f"event {trigger.name!r}"
            return text + (f" where {trigger.filter}" if trigger.filter else "")
        case After():
            return f"after {trigger.flow} {trigger.when}"
        case Webhook():
            return f"webhook /hooks/{trigger.path}" + (" (signed)" if trigger.secret_env else "")
        case OnFile():
            text = f"file {trigger.pattern} in {trigger.dir}"
            return text + (f" (then to {trigger.processed})" if trigger.processed else "")
        case OnStream():
            return f"stream {redact_url(trigger.url)}"
    return repr(trigger)


def _seconds(total: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total >= size and total % size == 0:
            return f"{int(total // size)}{unit}"
    return f"{total:g}s"
