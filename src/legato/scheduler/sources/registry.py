"""Which source watches which trigger: :func:`source_for` builds the source of one
``OnFile`` or ``OnStream`` trigger (the URL's scheme picks the broker class).

The scheduler owns the sources it builds: it starts them while it holds the scheduler
lease and stops them when it loses the lease, when the deployment is paused, changed or
deleted, and when it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from legato.clock import utcnow
from legato.errors import ScheduleError
from legato.scheduler.cron import parse_duration
from legato.scheduler.sources.status import Emit, SourceStatus
from legato.scheduler.triggers import OnFile, OnStream, describe

_BROKERS = {
    "redis": "redis",
    "rediss": "redis",
    "nats": "nats",
    "tls": "nats",
    "amqp": "amqp",
    "amqps": "amqp",
}


class Source(Protocol):
    """What the scheduler needs of a trigger source."""

    deployment: str
    kind: str

    @property
    def status(self) -> SourceStatus: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


def source_for(
    trigger: OnFile | OnStream,
    deployment: str,
    emit: Emit,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Source:
    """A stopped source firing ``deployment`` through ``emit`` for ``trigger``.
    Raises ``ScheduleError`` for a folder that no longer exists or a URL it cannot
    use (naming the option, the password hidden)."""
    if isinstance(trigger, OnFile):
        from legato.scheduler.sources.file_arrivals import FileArrivals

        return FileArrivals(
            trigger.dir,
            trigger.pattern,
            deployment,
            emit,
            settle=parse_duration(trigger.settle, option="--settle").total_seconds(),
            processed_dir=trigger.processed,
            clock=clock,
        )
    scheme = trigger.url.partition("://")[0].lower()
    broker = _BROKERS.get(scheme)
    if broker == "redis":
        from legato.scheduler.sources.redis_streams import RedisStreamSource

        return RedisStreamSource(trigger.url, deployment, emit, clock=clock)
    if broker == "nats":
        from legato.scheduler.sources.jetstream import NatsSource

        return NatsSource(trigger.url, deployment, emit, clock=clock)
    if broker == "amqp":
        from legato.scheduler.sources.amqp import AmqpSource

        return AmqpSource(trigger.url, deployment, emit, clock=clock)
    from legato.store.urls import redact_url

    raise ScheduleError(
        option="--on-stream",
        text=redact_url(trigger.url),
        reason="write redis://host/stream, nats://host/subject or amqp://host/queue",
    )


def describe_source(trigger: OnFile | OnStream) -> str:
    """The trigger in one line for people, a stream URL's password hidden."""
    return describe(trigger)


class BrokenSource:
    """Stands for a source that could not be built (its folder went away, its URL is
    no longer accepted): it reports the error as its status and does nothing."""

    kind = "broken"

    def __init__(self, deployment: str, error: str, *, clock: Callable[[], datetime]) -> None:
        self.deployment = deployment
        self._status = SourceStatus(state="stopped", since=clock(), last_error=error)

    @property
    def status(self) -> SourceStatus:
        return self._status

    def start(self) -> None:
        return None

    def stop(self, timeout: float = 10.0) -> None:
        return None
