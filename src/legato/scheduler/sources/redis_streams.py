"""A Redis Stream as a trigger: each entry fires the deployment once.

The source reads through a consumer group (created with ``XGROUP CREATE ... MKSTREAM``
when missing) and acknowledges each entry with ``XACK`` only after ``emit`` returned. On
connecting it first re-reads the entries it was handed before and never acknowledged
(its own pending list), and every ``claim_idle / 2`` seconds it takes over entries that
another consumer was handed and left unacknowledged for ``claim_idle`` seconds
(``XAUTOCLAIM``): a consumer that died between reading and acknowledging loses nothing.
The fire key ``redis:<stream>:<entry id>`` makes such a redelivery create no second run.

URL: ``redis://[user:password@]host[:port]/STREAM[?db=N&group=G&consumer=C&start=$]``
(``rediss://`` for TLS). ``start`` is where a new group begins: ``$`` (default) for the
entries added from then on, ``0`` for the whole stream.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.errors import ScheduleError
from legato.scheduler.sources.broker import OPTION, BrokerSource, BrokerUrl
from legato.scheduler.sources.status import Backoff, Emit

if TYPE_CHECKING:
    import redis

EXAMPLE = "redis://127.0.0.1:6379/orders"
Entry = tuple[bytes, dict[bytes, bytes] | None]


class RedisStreamSource(BrokerSource):
    """Fires ``deployment`` once per entry of a Redis Stream; see the module docstring.
    Options given here win over the URL's; ``batch`` entries are read at a time, and a
    read blocks up to ``block`` seconds (the longest ``stop()`` waits for it)."""

    def __init__(
        self,
        url: str,
        deployment: str,
        emit: Emit,
        *,
        group: str | None = None,
        consumer: str | None = None,
        claim_idle: float = 30.0,
        batch: int = 10,
        block: float = 1.0,
        backoff: Backoff = Backoff(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        parsed = BrokerUrl.parse(
            url,
            schemes=("redis", "rediss"),
            default_port=6379,
            example=EXAMPLE,
            options=("db", "group", "consumer", "start"),
        )
        super().__init__(url=parsed, deployment=deployment, emit=emit, backoff=backoff, clock=clock)
        self.stream = parsed.name
        self.group = group or parsed.options.get("group") or "legato"
        self.consumer = (
            consumer or parsed.options.get("consumer") or f"{socket.gethostname()}-{os.getpid()}"
        )
        self.start_id = parsed.options.get("start") or "$"
        db = parsed.options.get("db", "0")
        if not db.isdigit():
            raise ScheduleError(
                option=OPTION,
                text=parsed.redacted,
                reason=f"db={db!r} is not a database number; write it as {EXAMPLE}?db=0",
            )
        self.db = int(db)
        self.claim_idle = claim_idle
        self.batch = batch
        self.block = block

    def consume(self, stop: threading.Event) -> None:
        import redis

        client = redis.Redis(
            host=self.url.host,
            port=self.url.port,
            db=self.db,
            username=self.url.username,
            password=self.url.password,
            ssl=self.url.scheme == "rediss",
            socket_connect_timeout=5,
            socket_timeout=self.block + 10,
        )
        try:
            self._join_group(client)
            self.connected()
            self._drain_own_pending(client, stop)
            next_claim = 0.0
            while not stop.is_set():
                if time.monotonic() >= next_claim:
                    self._claim_abandoned(client, stop)
                    next_claim = time.monotonic() + self.claim_idle / 2
                reply = client.xreadgroup(
                    self.group,
                    self.consumer,
                    {self.stream: ">"},
                    count=self.batch,
                    block=int(self.block * 1000),
                )
                self._handle(client, _entries(reply))
        finally:
            client.close()

    def _join_group(self, client: redis.Redis) -> None:
        import redis

        try:
            client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # the group exists: join it as it is
                raise

    def _drain_own_pending(self, client: redis.Redis, stop: threading.Event) -> None:
        """Fire what this consumer was handed before (e.g. before a restart) and never
        acknowledged."""
        after = "0"
        while not stop.is_set():
            entries = _entries(
                client.xreadgroup(self.group, self.consumer, {self.stream: after}, count=self.batch)
            )
            if not entries:
                return
            self._handle(client, entries)
            after = entries[-1][0].decode()

    def _claim_abandoned(self, client: redis.Redis, stop: threading.Event) -> None:
        """Take over entries other consumers left unacknowledged for ``claim_idle``."""
        cursor = "0-0"
        while not stop.is_set():
            reply: Any = client.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=int(self.claim_idle * 1000),
                start_id=cursor,
                count=self.batch,
            )
            self._handle(client, list(reply[1]))
            cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            if cursor == "0-0":
                return

    def _handle(self, client: redis.Redis, entries: Sequence[Entry]) -> None:
        for entry_id, fields in entries:
            if fields:  # None or empty: the entry was deleted (XDEL) while pending
                self.fire(
                    f"redis:{self.stream}:{entry_id.decode()}",
                    _payload(self.stream, entry_id, fields),
                )
            client.xack(self.stream, self.group, entry_id)


def _entries(reply: Any) -> list[Entry]:
    """The entries of an XREADGROUP reply for one stream (RESP2 list or RESP3 dict)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [entry for batch in reply.values() for entry in batch[0]]
    return [entry for _stream, batch in reply for entry in batch]


def _payload(stream: str, entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for name, value in fields.items():
        key = name.decode("utf-8", "replace")
        try:
            text[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode("ascii")
    payload: dict[str, Any] = {"stream": stream, "id": entry_id.decode(), "fields": text}
    if binary:
        payload["fields_base64"] = binary
    return payload
