"""RedisStreamSource against the real Redis on this machine."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import HERE, eventually, require_service
from source_recorder import Recorder

from legato.errors import ScheduleError
from legato.scheduler.sources.redis_streams import RedisStreamSource
from legato.scheduler.sources.status import Backoff

HOST, PORT = "127.0.0.1", 6379

redis = pytest.importorskip("redis")


@pytest.fixture
def stream() -> Iterator[str]:
    require_service("Redis", HOST, PORT)
    name = f"legato-test-{secrets.token_hex(4)}"
    yield name
    with redis.Redis(host=HOST, port=PORT) as client:
        client.delete(name)


def url(stream: str) -> str:
    return f"redis://{HOST}:{PORT}/{stream}"


def pending(stream: str, group: str = "legato") -> int:
    with redis.Redis(host=HOST, port=PORT) as client:
        return int(client.xpending(stream, group)["pending"])


def test_each_entry_fires_once_and_is_acknowledged_after_emit(
    stream: str, recorder: Recorder
) -> None:
    source = RedisStreamSource(url(stream), "orders", recorder, consumer="a")
    source.start()
    try:
        eventually(lambda: source.status.state == "connected", what="the source to connect")
        with redis.Redis(host=HOST, port=PORT) as client:
            ids = [client.xadd(stream, {"order": str(n)}).decode() for n in range(3)]
        eventually(lambda: len(recorder.keys()) == 3, what="three fires")
        eventually(lambda: pending(stream) == 0, what="the entries to be acknowledged")
    finally:
        source.stop()
    assert recorder.keys() == [f"redis:{stream}:{i}" for i in ids]
    assert recorder.payloads()[0] == {"stream": stream, "id": ids[0], "fields": {"order": "0"}}
    assert source.status.state == "stopped"


def test_an_entry_whose_consumer_died_before_its_ack_is_claimed_and_creates_no_second_run(
    stream: str, recorder: Recorder
) -> None:
    with redis.Redis(host=HOST, port=PORT) as client:
        client.xgroup_create(stream, "legato", id="$", mkstream=True)
        entry = client.xadd(stream, {"ticket": "42"}).decode()
    child = subprocess.run(
        [
            sys.executable,
            str(HERE / "kill_consumer.py"),
            "redis",
            url(stream),
            str(recorder.path),
            json.dumps({"consumer": "doomed"}),
        ],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert child.returncode == -9, child.stderr
    assert recorder.calls() == [f"redis:{stream}:{entry}"]
    assert pending(stream) == 1  # emitted, never acknowledged

    survivor = RedisStreamSource(
        url(stream), "orders", recorder, consumer="survivor", claim_idle=0.5
    )
    survivor.start()
    try:
        eventually(lambda: pending(stream) == 0, what="the claimed entry to be acknowledged")
    finally:
        survivor.stop()
    assert recorder.calls() == [f"redis:{stream}:{entry}"] * 2  # redelivered...
    assert recorder.keys() == [f"redis:{stream}:{entry}"]  # ...and recorded once


def test_a_restarted_consumer_fires_its_own_unacknowledged_entries(
    stream: str, recorder: Recorder
) -> None:
    with redis.Redis(host=HOST, port=PORT) as client:
        client.xgroup_create(stream, "legato", id="$", mkstream=True)
        entry = client.xadd(stream, {"n": "1"}).decode()
        client.xreadgroup("legato", "same", {stream: ">"})  # handed over, never acked
    source = RedisStreamSource(url(stream), "orders", recorder, consumer="same")
    source.start()
    try:
        eventually(lambda: pending(stream) == 0, what="the pending entry to be acknowledged")
    finally:
        source.stop()
    assert recorder.keys() == [f"redis:{stream}:{entry}"]


def test_an_unreachable_redis_is_retried_with_backoff_and_reported_without_password(
    recorder: Recorder,
) -> None:
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    source = RedisStreamSource(
        f"redis://:s3cret@127.0.0.1:{port}/s",
        "orders",
        recorder,
        backoff=Backoff(initial=0.05, maximum=0.1),
    )
    source.start()
    try:
        eventually(lambda: source.status.failures >= 2, what="two failed attempts")
        status = source.status
    finally:
        source.stop()
    assert status.state == "retrying"
    assert status.last_error and "s3cret" not in status.last_error
    assert "retrying since" in status.describe()
    assert recorder.keys() == []


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("http://127.0.0.1/s", "must start with redis:// or rediss://"),
        ("redis://127.0.0.1:6379", "names no stream"),
        ("redis://127.0.0.1:port/s", "port is not a number"),
        ("redis://:pw@127.0.0.1/s?color=red", "unknown option color"),
        ("redis://:pw@127.0.0.1/s?db=x", "db='x'"),
    ],
)
def test_a_url_that_cannot_be_parsed_is_refused_saying_what_and_where(
    bad: str, says: str, recorder: Recorder
) -> None:
    with pytest.raises(ScheduleError) as caught:
        RedisStreamSource(bad, "orders", recorder)
    message = str(caught.value)
    assert (
        says in message and "--on-stream" in message and "redis://127.0.0.1:6379/orders" in message
    )
    assert ":pw@" not in message


def test_an_unused_source_module_does_not_import_redis() -> None:
    code = "import legato.scheduler.sources.redis_streams, sys; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
