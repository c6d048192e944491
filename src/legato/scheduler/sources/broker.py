"""What the broker sources share: their URL, and the thread that consumes, reconnecting
with backoff when the broker goes away.

A broker source runs its own loop: ``start()`` starts a daemon thread, ``stop()`` asks it
to finish and waits. The loop connects, consumes until stopped, and when anything fails
(the broker went away, ``emit`` raised) drops the connection without acknowledging what
it was handling, reports ``retrying`` in :attr:`BrokerSource.status`, waits per its
:class:`~legato.scheduler.sources.status.Backoff` and connects again. Unacknowledged
messages stay with the broker, so none is lost; the fire key makes their redelivery
create no second run.
"""

from __future__ import annotations

import base64
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from legato.errors import ScheduleError
from legato.records import FireRecord
from legato.scheduler.sources.status import Backoff, Emit, SourceStatus, State
from legato.store.urls import redact_url

OPTION = "--on-stream"


@dataclass(frozen=True, kw_only=True, slots=True)
class BrokerUrl:
    """A parsed ``scheme://[user[:password]@]host[:port]/NAME[?option=value...]``: NAME
    is the stream, subject or queue."""

    scheme: str
    host: str
    port: int
    name: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: Mapping[str, str] = field(default_factory=dict)
    text: str = field(default="", repr=False)  # the URL as given (holds the password)

    @property
    def redacted(self) -> str:
        return redact_url(self.text)

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        schemes: tuple[str, ...],
        default_port: int,
        example: str,
        options: tuple[str, ...] = (),
    ) -> BrokerUrl:
        """Parse ``url``; ``ScheduleError`` naming the option, the URL (password hidden),
        what is wrong and an ``example`` of a good one."""

        def refuse(reason: str) -> ScheduleError:
            return ScheduleError(
                option=OPTION, text=redact_url(url), reason=f"{reason}; write it as {example}"
            )

        parts = urlsplit(url)
        if parts.scheme.lower() not in schemes:
            wanted = " or ".join(f"{s}://" for s in schemes)
            return _raise(refuse(f"the URL must start with {wanted}"))
        try:
            port = parts.port or default_port
        except ValueError:
            return _raise(refuse("the port is not a number from 0 to 65535"))
        if not parts.hostname:
            return _raise(refuse("the URL names no host"))
        name = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
        if not name:
            return _raise(refuse("the URL names no stream, subject or queue after the host"))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - set(options))
        if unknown:
            known = ", ".join(options) or "none"
            return _raise(refuse(f"unknown option {', '.join(unknown)} (known: {known})"))
        return cls(
            scheme=parts.scheme.lower(),
            host=parts.hostname,
            port=port,
            name=name,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            options=query,
            text=url,
        )

    def scrub(self, text: str) -> str:
        """``text`` (an error message) with this URL's password hidden."""
        text = text.replace(self.text, self.redacted)
        if self.password:
            text = text.replace(self.password, "***")
        return text


def _raise(error: ScheduleError) -> BrokerUrl:
    raise error


def body_payload(body: bytes) -> dict[str, Any]:
    """A message body for a fire's payload: ``body`` as text (``json`` too when it parses
    as JSON), or ``body_base64`` when it is not UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}
    payload: dict[str, Any] = {"body": text}
    try:
        payload["json"] = json.loads(text)
    except ValueError:
        pass
    return payload


class BrokerSource(ABC):
    """A broker consumer running on a thread of its own; see the module docstring."""

    kind = "stream"

    def __init__(
        self,
        *,
        url: BrokerUrl,
        deployment: str,
        emit: Emit,
        backoff: Backoff,
        clock: Callable[[], datetime],
    ) -> None:
        self.url = url
        self.deployment = deployment
        self._emit = emit
        self._backoff = backoff
        self._clock = clock
        self._status = SourceStatus(state="stopped", since=clock())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.redacted!r}, deployment={self.deployment!r})"

    @property
    def status(self) -> SourceStatus:
        """Connected, retrying since when and why (password hidden), or stopped."""
        with self._lock:
            return self._status

    def start(self) -> None:
        """Start consuming on a daemon thread; returns at once (see :attr:`status`)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._set(state="starting")
        self._thread = threading.Thread(
            target=self.run,
            args=(self._stop,),
            daemon=True,
            name=f"legato-source-{self.deployment}",
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to finish (a message being handled is finished first) and wait
        up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, reconnecting with backoff; blocks."""
        while not stop.is_set():
            try:
                self.consume(stop)
            except Exception as exc:  # any failure: drop the connection, back off, retry
                failures = self.status.failures + 1
                self._set(
                    state="retrying",
                    error=self.url.scrub(_describe(exc)),
                    failures=failures,
                    keep_since=self.status.state == "retrying",
                )
                stop.wait(self._backoff.delay(failures))
        self._set(state="stopped")

    @abstractmethod
    def consume(self, stop: threading.Event) -> None:
        """Connect, call :meth:`connected`, and handle messages until ``stop`` is set
        (then return) or something fails (then raise, having acknowledged nothing it
        did not fire). Closes its connection either way."""

    def connected(self) -> None:
        """Called by :meth:`consume` once the connection and subscription are up."""
        self._set(state="connected", failures=0)

    def fire(self, key: str, payload: Mapping[str, Any]) -> FireRecord:
        """Hand one message to ``emit`` and return the fire with its run id. The caller
        acknowledges the message after this returned, never before."""
        fire = FireRecord(
            deployment=self.deployment,
            key=key,
            kind=self.kind,
            fired_at=self._clock(),
            payload=json.dumps(payload, separators=(",", ":"), default=str),
        )
        return replace(fire, run_id=self._emit(fire))

    def _set(
        self, *, state: State, error: str | None = None, failures: int = 0, keep_since: bool = False
    ) -> None:
        with self._lock:
            old = self._status
            self._status = SourceStatus(
                state=state,
                since=old.since if keep_since else self._clock(),
                last_error=error if error is not None else old.last_error,
                failures=failures,
            )


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
