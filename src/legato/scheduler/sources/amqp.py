"""A RabbitMQ (AMQP 0-9-1) queue as a trigger: each message fires the deployment once.

The source consumes with manual acknowledgement and a prefetch window (``basic_qos``),
and acknowledges each message only after ``emit`` returned. A message whose consumer
died or lost its connection before the ack goes back to the queue and is delivered
again; its fire key makes that redelivery create no second run:

- ``amqp:<queue>:id:<message_id>`` when the publisher set the ``message_id`` property
  (the reliable way: set it);
- otherwise ``amqp:<queue>:sha256:<hex of the body>``. The trade-off: without a
  message id, two messages with the same body on one queue are taken as one delivery
  and fire once, ever. Publishers that may send equal bodies must set ``message_id``.

The queue is used as it is when it exists; otherwise it is declared durable.

URL: ``amqp://[user:password@]host[:port]/QUEUE[?vhost=/&prefetch=10]`` (``amqps://``
for TLS; user and password default to guest). The path is the queue, so the virtual host
goes in ``?vhost=`` (default ``/``). Uses pika's blocking connection on the source's
own thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.errors import ScheduleError
from legato.scheduler.sources.broker import OPTION, BrokerSource, BrokerUrl, body_payload
from legato.scheduler.sources.status import Backoff, Emit

if TYPE_CHECKING:
    import pika
    from pika.adapters.blocking_connection import BlockingChannel

EXAMPLE = "amqp://guest:guest@127.0.0.1:5672/orders"


class AmqpSource(BrokerSource):
    """Fires ``deployment`` once per message of a RabbitMQ queue; see the module
    docstring. ``prefetch`` (here or ``?prefetch=``) bounds unacknowledged deliveries;
    ``stop()`` waits up to ``poll`` seconds for the loop to notice."""

    def __init__(
        self,
        url: str,
        deployment: str,
        emit: Emit,
        *,
        prefetch: int | None = None,
        heartbeat: int = 30,
        poll: float = 0.5,
        backoff: Backoff = Backoff(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        parsed = BrokerUrl.parse(
            url,
            schemes=("amqp", "amqps"),
            default_port=5671 if url.lower().startswith("amqps:") else 5672,
            example=EXAMPLE,
            options=("vhost", "prefetch"),
        )
        super().__init__(url=parsed, deployment=deployment, emit=emit, backoff=backoff, clock=clock)
        self.queue = parsed.name
        self.vhost = parsed.options.get("vhost") or "/"
        text = parsed.options.get("prefetch", "10")
        if prefetch is None and not (text.isdigit() and int(text) > 0):
            raise ScheduleError(
                option=OPTION,
                text=parsed.redacted,
                reason=f"prefetch={text!r} is not a positive whole number; "
                f"write it as {EXAMPLE}?prefetch=10",
            )
        self.prefetch = prefetch if prefetch is not None else int(text)
        self.heartbeat = heartbeat
        self.poll = poll

    def consume(self, stop: threading.Event) -> None:
        import pika

        connection = pika.BlockingConnection(self._parameters())
        try:
            channel = self._open_queue(connection)
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.basic_consume(self.queue, on_message_callback=self._on_message)
            self.connected()
            while not stop.is_set():
                connection.process_data_events(time_limit=self.poll)
        finally:
            # Closing hands every delivery not yet acknowledged back to the queue.
            if connection.is_open:
                try:
                    connection.close()
                except Exception:  # the connection broke while closing: nothing to hand back
                    pass

    def _parameters(self) -> pika.ConnectionParameters:
        import ssl

        import pika

        tls = None
        if self.url.scheme == "amqps":
            tls = pika.SSLOptions(ssl.create_default_context(), self.url.host)
        return pika.ConnectionParameters(
            host=self.url.host,
            port=self.url.port,
            virtual_host=self.vhost,
            credentials=pika.PlainCredentials(
                self.url.username or "guest", self.url.password or "guest"
            ),
            heartbeat=self.heartbeat,
            connection_attempts=1,
            socket_timeout=5,
            blocked_connection_timeout=60,
            ssl_options=tls,
        )

    def _open_queue(self, connection: pika.BlockingConnection) -> BlockingChannel:
        """A channel on which the queue exists: used as it is, or declared durable."""
        import pika.exceptions

        channel = connection.channel()
        try:
            channel.queue_declare(self.queue, passive=True)
            return channel
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
        channel = connection.channel()  # the failed passive declare closed the first one
        channel.queue_declare(self.queue, durable=True)
        return channel

    def _on_message(
        self, channel: BlockingChannel, method: Any, properties: Any, body: bytes
    ) -> None:
        if properties.message_id:
            key = f"amqp:{self.queue}:id:{properties.message_id}"
        else:
            key = f"amqp:{self.queue}:sha256:{hashlib.sha256(body).hexdigest()}"
        payload: dict[str, Any] = {
            "queue": self.queue,
            "message_id": properties.message_id,
            "exchange": method.exchange,
            "routing_key": method.routing_key,
            "redelivered": bool(method.redelivered),
            "content_type": properties.content_type,
            "headers": dict(properties.headers or {}),
            **body_payload(body),
        }
        self.fire(key, payload)
        channel.basic_ack(method.delivery_tag)
