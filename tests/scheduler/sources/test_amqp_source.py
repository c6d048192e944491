"""AmqpSource against the real RabbitMQ on this machine (guest/guest)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import HERE, eventually, require_service
from source_recorder import Recorder

from legato.errors import ScheduleError
from legato.scheduler.sources.amqp import AmqpSource

HOST, PORT = "127.0.0.1", 5672
SERVER = f"amqp://guest:guest@{HOST}:{PORT}"

pika = pytest.importorskip("pika")


def connect() -> Any:
    credentials = pika.PlainCredentials("guest", "guest")
    return pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT, credentials=credentials))


@pytest.fixture
def queue() -> Iterator[str]:
    require_service("RabbitMQ", HOST, PORT)
    name = f"legato-test-{secrets.token_hex(4)}"
    with connect() as connection:
        connection.channel().queue_declare(name, durable=True)
    yield name
    with connect() as connection:
        connection.channel().queue_delete(name)


def publish(queue: str, body: bytes, message_id: str | None = None) -> None:
    with connect() as connection:
        properties = pika.BasicProperties(message_id=message_id, delivery_mode=2)
        connection.channel().basic_publish("", queue, body, properties)


def ready(queue: str) -> int:
    """Messages in the queue waiting for a consumer (unacknowledged ones come back when
    their consumer's connection closes)."""
    with connect() as connection:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)


def test_each_message_fires_once_and_is_acknowledged_after_emit(
    queue: str, recorder: Recorder
) -> None:
    source = AmqpSource(f"{SERVER}/{queue}", "orders", recorder)
    source.start()
    try:
        eventually(lambda: source.status.state == "connected", what="the source to connect")
        publish(queue, b'{"order": 1}', message_id="order-1")
        publish(queue, b"no id")
        eventually(lambda: len(recorder.keys()) == 2, what="two fires")
    finally:
        source.stop()
    assert ready(queue) == 0  # both were acknowledged: nothing came back on close
    import hashlib

    digest = hashlib.sha256(b"no id").hexdigest()
    assert recorder.keys() == [f"amqp:{queue}:id:order-1", f"amqp:{queue}:sha256:{digest}"]
    assert recorder.payloads()[0]["json"] == {"order": 1}


def test_a_message_whose_consumer_died_before_its_ack_is_redelivered_and_creates_no_second_run(
    queue: str, recorder: Recorder
) -> None:
    publish(queue, b"ticket 42", message_id="t-42")
    child = subprocess.run(
        [
            sys.executable,
            str(HERE / "kill_consumer.py"),
            "amqp",
            f"{SERVER}/{queue}",
            str(recorder.path),
        ],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert child.returncode == -9, child.stderr
    assert recorder.calls() == [f"amqp:{queue}:id:t-42"]

    survivor = AmqpSource(f"{SERVER}/{queue}", "tickets", recorder)
    survivor.start()
    try:
        eventually(lambda: len(recorder.calls()) == 2, what="the redelivery")
    finally:
        survivor.stop()
    assert ready(queue) == 0
    assert recorder.keys() == [f"amqp:{queue}:id:t-42"]


def test_without_a_message_id_equal_bodies_fire_once(queue: str, recorder: Recorder) -> None:
    source = AmqpSource(f"{SERVER}/{queue}", "orders", recorder)
    source.start()
    try:
        for _ in range(2):
            publish(queue, b"same body")
        publish(queue, b"other body")
        eventually(lambda: len(recorder.calls()) == 3, what="three deliveries")
    finally:
        source.stop()
    assert len(recorder.keys()) == 2


def test_a_missing_queue_is_declared_durable(recorder: Recorder) -> None:
    require_service("RabbitMQ", HOST, PORT)
    name = f"legato-test-{secrets.token_hex(4)}"
    source = AmqpSource(f"{SERVER}/{name}", "orders", recorder)
    source.start()
    try:
        eventually(lambda: source.status.state == "connected", what="the source to connect")
        publish(name, b"x", message_id="1")
        eventually(lambda: recorder.keys() == [f"amqp:{name}:id:1"], what="the fire")
    finally:
        source.stop()
        with connect() as connection:
            connection.channel().queue_delete(name)


def test_wrong_credentials_are_retried_and_reported_without_the_password(
    recorder: Recorder,
) -> None:
    require_service("RabbitMQ", HOST, PORT)
    from legato.scheduler.sources.status import Backoff

    source = AmqpSource(
        f"amqp://guest:n0tThePassw0rd@{HOST}:{PORT}/q",
        "orders",
        recorder,
        backoff=Backoff(initial=0.05, maximum=0.1),
    )
    source.start()
    try:
        eventually(lambda: source.status.failures >= 2, what="two failed attempts")
    finally:
        source.stop()
    assert source.status.last_error
    assert "n0tThePassw0rd" not in source.status.describe()


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("amqp://guest:pw@127.0.0.1:5672", "names no stream, subject or queue"),
        ("amqp://guest:pw@127.0.0.1:99999/q", "port is not a number"),
        ("amqp://guest:pw@127.0.0.1/q?prefetch=0", "prefetch='0' is not a positive"),
        ("amqp://guest:pw@127.0.0.1/q?exchange=x", "unknown option exchange"),
    ],
)
def test_a_url_that_cannot_be_parsed_is_refused_saying_what_and_where(
    bad: str, says: str, recorder: Recorder
) -> None:
    with pytest.raises(ScheduleError) as caught:
        AmqpSource(bad, "orders", recorder)
    assert says in str(caught.value) and "--on-stream" in str(caught.value)
    assert ":pw@" not in str(caught.value)
