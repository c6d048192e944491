"""A NATS JetStream subject as a trigger: each message fires the deployment once.

The source pulls from a durable consumer (created on first connect with explicit acks
and the subject as its filter; an existing one is used as it is) and acknowledges each
message (``ack_sync``: the server confirms) only after ``emit`` returned. A message that
is not acknowledged within the consumer's ``ack_wait`` (its consumer died, or ``emit``
failed) is redelivered by the server, to this or another consumer of the same durable
name; the fire key ``nats:<stream>:<stream sequence>`` makes the redelivery create no
second run.

nats-py is asyncio: the source runs an event loop of its own on its thread, and calls
``emit`` on a worker thread so that a slow ``emit`` does not starve the connection.

URL: ``nats://[user:password@]host[:port]/SUBJECT[?stream=S&durable=D&start=new]``
(``tls://`` for TLS). Without ``stream``, the stream is the one whose subjects capture
SUBJECT. ``start`` applies when the durable consumer is created: ``new`` (default) for
messages published from then on, ``all`` for the stream's history too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.errors import ScheduleError
from legato.scheduler.sources.broker import OPTION, BrokerSource, BrokerUrl, body_payload
from legato.scheduler.sources.status import Backoff, Emit

if TYPE_CHECKING:
    from nats.aio.msg import Msg

EXAMPLE = "nats://127.0.0.1:4222/tickets.created"


class NoStreamError(LookupError):
    """No JetStream stream captures the subject (reported in the source's status)."""


class NatsSource(BrokerSource):
    """Fires ``deployment`` once per message on a JetStream subject; see the module
    docstring. Options given here win over the URL's; ``ack_wait`` (seconds) is used
    when the consumer is created; a fetch waits up to ``fetch_timeout`` seconds (the
    longest ``stop()`` waits for it)."""

    def __init__(
        self,
        url: str,
        deployment: str,
        emit: Emit,
        *,
        stream: str | None = None,
        durable: str | None = None,
        ack_wait: float = 30.0,
        batch: int = 10,
        fetch_timeout: float = 1.0,
        backoff: Backoff = Backoff(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        parsed = BrokerUrl.parse(
            url,
            schemes=("nats", "tls"),
            default_port=4222,
            example=EXAMPLE,
            options=("stream", "durable", "start"),
        )
        super().__init__(url=parsed, deployment=deployment, emit=emit, backoff=backoff, clock=clock)
        self.subject = parsed.name
        self.stream = stream or parsed.options.get("stream") or None
        self.durable = durable or parsed.options.get("durable") or "legato"
        self.start_at = parsed.options.get("start", "new")
        if self.start_at not in ("new", "all"):
            raise ScheduleError(
                option=OPTION,
                text=parsed.redacted,
                reason=f"start={self.start_at!r} must be new or all; "
                f"write it as {EXAMPLE}?start=all",
            )
        if "." in self.durable or "*" in self.durable or ">" in self.durable:
            raise ScheduleError(
                option=OPTION,
                text=parsed.redacted,
                reason=f"durable={self.durable!r} may not hold '.', '*' or '>'",
            )
        self.ack_wait = ack_wait
        self.batch = batch
        self.fetch_timeout = fetch_timeout

    def consume(self, stop: threading.Event) -> None:
        asyncio.run(self._consume(stop))

    async def _consume(self, stop: threading.Event) -> None:
        import nats
        import nats.errors
        import nats.js.errors
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        async def quiet(_: Exception) -> None:  # failures surface through our own loop
            return None

        client = await nats.connect(
            f"{'tls' if self.url.scheme == 'tls' else 'nats'}://{self.url.host}:{self.url.port}",
            user=self.url.username,
            password=self.url.password,
            connect_timeout=5,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            error_cb=quiet,
        )
        try:
            js = client.jetstream()
            stream = self.stream
            if stream is None:
                try:
                    stream = await js.find_stream_name_by_subject(self.subject)
                except nats.js.errors.NotFoundError:
                    raise NoStreamError(
                        f"no JetStream stream captures subject {self.subject!r}; create one "
                        f"(nats stream add) or name it with ?stream=NAME"
                    ) from None
            deliver = DeliverPolicy.NEW if self.start_at == "new" else DeliverPolicy.ALL
            config = ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait, deliver_policy=deliver
            )
            subscription = await js.pull_subscribe(
                self.subject, durable=self.durable, stream=stream, config=config
            )
            self.connected()
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(self.batch, timeout=self.fetch_timeout)
                except nats.errors.TimeoutError:
                    continue
                for message in messages:
                    await self._handle(message)
        finally:
            await client.close()

    async def _handle(self, message: Msg) -> None:
        meta = message.metadata
        key = f"nats:{meta.stream}:{meta.sequence.stream}"
        payload: dict[str, Any] = {
            "subject": message.subject,
            "stream": meta.stream,
            "sequence": meta.sequence.stream,
            "headers": dict(message.headers or {}),
            **body_payload(message.data),
        }
        await asyncio.to_thread(self.fire, key, payload)
        await message.ack_sync(timeout=5)
