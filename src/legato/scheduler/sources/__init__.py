"""Trigger sources: components that watch for a cause (a file that arrived, a broker
message) and fire a deployment through the scheduler's ``emit`` callback, acknowledging
the cause only after ``emit`` returned.

- :class:`~legato.scheduler.sources.file_arrivals.FileArrivals`: a watched folder.
- :class:`~legato.scheduler.sources.redis_streams.RedisStreamSource`: a Redis Stream.
- :class:`~legato.scheduler.sources.jetstream.NatsSource`: a NATS JetStream subject.
- :class:`~legato.scheduler.sources.amqp.AmqpSource`: a RabbitMQ queue.

Each module imports its client library (watchdog, redis, nats-py, pika) only when a
source starts, so importing this package stays light.
"""

from __future__ import annotations
