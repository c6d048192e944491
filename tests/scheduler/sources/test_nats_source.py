"""NatsSource against the real NATS JetStream server on this machine."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import HERE, eventually, require_service
from source_recorder import Recorder

from legato.errors import ScheduleError
from legato.scheduler.sources.jetstream import NatsSource

HOST, PORT = "127.0.0.1", 4222
SERVER = f"nats://{HOST}:{PORT}"

nats = pytest.importorskip("nats")


def jetstream(action: Any) -> Any:
    """Run ``action(js)`` on a fresh connection and return its result."""

    async def main() -> Any:
        client = await nats.connect(SERVER)
        try:
            return await action(client.jetstream())
        finally:
            await client.close()

    return asyncio.run(main())


@pytest.fixture
def subject() -> Iterator[str]:
    """A subject captured by a stream of its own (named like it with _ for .)."""
    require_service("NATS", HOST, PORT)
    name = f"legato.test.{secrets.token_hex(4)}"
    stream = name.replace(".", "_")
    jetstream(lambda js: js.add_stream(name=stream, subjects=[name]))
    yield name
    jetstream(lambda js: js.delete_stream(stream))


def publish(subject: str, *bodies: bytes) -> list[int]:
    async def send(js: Any) -> list[int]:
        return [(await js.publish(subject, body)).seq for body in bodies]

    return jetstream(send)


def unacknowledged(subject: str, durable: str = "legato") -> int:
    """Messages of the consumer delivered and not acknowledged, plus those not delivered."""

    async def info(js: Any) -> int:
        state = await js.consumer_info(subject.replace(".", "_"), durable)
        return int(state.num_ack_pending + state.num_pending)

    return jetstream(info)


def test_each_message_fires_once_and_is_acknowledged_after_emit(
    subject: str, recorder: Recorder
) -> None:
    source = NatsSource(f"{SERVER}/{subject}", "tickets", recorder)
    source.start()
    try:
        eventually(lambda: source.status.state == "connected", what="the source to connect")
        sequences = publish(subject, b'{"priority": "high"}', b"plain text")
        eventually(lambda: len(recorder.keys()) == 2, what="two fires")
        eventually(lambda: unacknowledged(subject) == 0, what="the acknowledgements")
    finally:
        source.stop()
    stream = subject.replace(".", "_")
    assert recorder.keys() == [f"nats:{stream}:{seq}" for seq in sequences]
    first, second = recorder.payloads()
    assert first["json"] == {"priority": "high"} and first["subject"] == subject
    assert second["body"] == "plain text" and "json" not in second


def test_a_message_whose_consumer_died_before_its_ack_is_redelivered_and_creates_no_second_run(
    subject: str, recorder: Recorder
) -> None:
    url = f"{SERVER}/{subject}?start=all"
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "kill_consumer.py"),
            "nats",
            url,
            str(recorder.path),
            json.dumps({"ack_wait": 1.0}),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    (sequence,) = publish(subject, b"ticket 42")
    _, err = child.communicate(timeout=60)
    assert child.returncode == -9, err
    key = f"nats:{subject.replace('.', '_')}:{sequence}"
    assert recorder.calls() == [key]

    survivor = NatsSource(url, "tickets", recorder)
    survivor.start()
    try:
        eventually(lambda: len(recorder.calls()) == 2, what="the redelivery after ack_wait")
        eventually(lambda: unacknowledged(subject) == 0, what="the acknowledgement")
    finally:
        survivor.stop()
    assert recorder.calls() == [key, key]
    assert recorder.keys() == [key]


def test_a_subject_no_stream_captures_is_reported_in_the_status(recorder: Recorder) -> None:
    require_service("NATS", HOST, PORT)
    source = NatsSource(f"{SERVER}/legato.nowhere.{secrets.token_hex(4)}", "t", recorder)
    source.start()
    try:
        eventually(lambda: source.status.state == "retrying", what="the failure")
    finally:
        source.stop()
    assert "no JetStream stream captures subject" in (source.status.last_error or "")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("redis://127.0.0.1/s", "must start with nats:// or tls://"),
        ("nats://u:pw@127.0.0.1:4222/", "names no stream, subject or queue"),
        ("nats://127.0.0.1/s?start=first", "start='first' must be new or all"),
        ("nats://127.0.0.1/s?durable=a.b", "may not hold"),
    ],
)
def test_a_url_that_cannot_be_parsed_is_refused_saying_what_and_where(
    bad: str, says: str, recorder: Recorder
) -> None:
    with pytest.raises(ScheduleError) as caught:
        NatsSource(bad, "tickets", recorder)
    assert says in str(caught.value) and "--on-stream" in str(caught.value)
    assert ":pw@" not in str(caught.value)


def test_a_server_that_goes_away_is_retried_and_no_message_is_lost(
    tmp_path: Any, recorder: Recorder
) -> None:
    import shutil
    import socket

    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip("nats-server is not installed: a private server cannot be started")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "js")]

    def serve() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually(lambda: _accepts(port), what="the private nats-server")
        return server

    def on_private(action: Any) -> Any:
        async def main() -> Any:
            client = await nats.connect(f"nats://127.0.0.1:{port}")
            try:
                return await action(client.jetstream())
            finally:
                await client.close()

        return asyncio.run(main())

    from legato.scheduler.sources.status import Backoff

    server = serve()
    source = NatsSource(
        f"nats://127.0.0.1:{port}/jobs", "jobs", recorder, backoff=Backoff(initial=0.1, maximum=0.5)
    )
    try:
        on_private(lambda js: js.add_stream(name="JOBS", subjects=["jobs"]))
        source.start()
        eventually(lambda: source.status.state == "connected", what="the source to connect")
        server.terminate()
        server.wait(30)
        eventually(lambda: source.status.state == "retrying", what="the source to notice")
        assert source.status.last_error
        server = serve()  # same storage: the stream and the durable consumer survive
        on_private(lambda js: js.publish("jobs", b"while away"))
        eventually(lambda: recorder.keys() == ["nats:JOBS:1"], what="the message's fire")
        assert source.status.state == "connected" and source.status.failures == 0
    finally:
        source.stop()
        server.terminate()
        server.wait(30)


def _accepts(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
