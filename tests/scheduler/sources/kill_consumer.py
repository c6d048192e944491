"""A consumer that dies between emit and ack: run as
``python kill_consumer.py KIND URL FIRES_DB [OPTIONS_JSON]``.

It consumes with the real source of KIND (redis, nats, amqp); its emit records the fire
in FIRES_DB (the test's recorder) and then SIGKILLs its own process, so the broker never
sees the acknowledgement. The test then starts another consumer and checks that the
redelivered message creates no second run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from source_recorder import Recorder

from legato.records import FireRecord


def main() -> None:
    kind, url, db = sys.argv[1:4]
    options = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    recorder = Recorder(Path(db))

    def emit_then_die(fire: FireRecord) -> str:
        recorder(fire)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    if kind == "redis":
        from legato.scheduler.sources.redis_streams import RedisStreamSource as Source
    elif kind == "nats":
        from legato.scheduler.sources.jetstream import NatsSource as Source  # type: ignore[assignment]
    else:
        from legato.scheduler.sources.amqp import AmqpSource as Source  # type: ignore[assignment]
    Source(url, "killed", emit_then_die, **options).run(threading.Event())


if __name__ == "__main__":
    main()
