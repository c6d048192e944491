"""What a worker tells whoever runs it: one log line per claim, outcome, retry and lost
lease (each naming the run and its flow), counts of them, and a one-line summary.

Lines go to the ``legato.worker`` logger: claims, outcomes and retries at INFO, failures
and lost leases at WARNING, every other step transition at DEBUG. ``legato worker``
shows INFO and up (``--quiet``: WARNING and up, ``--verbose``: DEBUG too).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass

from legato.records import EventRecord, RunRecord, parse_wait

log = logging.getLogger("legato.worker")

FLOW_RETRY_PREFIX = "flow attempt "  # the engine's message when a whole flow is retried


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerStats:
    """How many runs a worker claimed since it started, and how each execution ended."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    suspended: int = 0  # waiting on a durable wait, or paused by an operator
    handed_back: int = 0  # given back to the queue because the worker stopped
    leases_lost: int = 0
    retries: int = 0  # step and flow attempts that failed and were retried


def run_label(run_id: str, flow_name: str | None) -> str:
    return f"run {run_id} (flow {flow_name})" if flow_name else f"run {run_id}"


class Activity:
    """Logs and counts what one worker does; every method is thread-safe."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._lost: set[str] = set()

    def stats(self) -> WorkerStats:
        with self._lock:
            return WorkerStats(**self._counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def claimed(self, run: RunRecord) -> None:
        self._count("claimed")
        what = "to unwind its cancel" if run.state.value == "cancelled" else f"queue {run.queue}"
        log.info("claimed %s, %s", run_label(run.run_id, run.flow_name), what)

    def ended(self, record: RunRecord, *, seconds: float) -> None:
        """Log how an execution of the run ended here (``record``: the run as stored)."""
        label = run_label(record.run_id, record.flow_name)
        state = record.state.value
        if state == "completed":
            self._count("completed")
            log.info("%s completed (%.2fs here)", label, seconds)
        elif state == "failed":
            self._count("failed")
            error = record.error.summary() if record.error is not None else "no error recorded"
            log.warning(
                "%s failed: %s (details: legato runs show %s --traceback)",
                label,
                error,
                record.run_id,
            )
        elif state == "cancelled":
            self._count("cancelled")
            log.info("%s cancelled", label)
        elif state in ("waiting", "paused"):
            self._count("suspended")
            log.info("%s %s; it holds no slot meanwhile", label, _suspended_text(record))
        else:
            log.info("%s stopped here as %s", label, state)

    def handed_back(self, run: RunRecord) -> None:
        self._count("handed_back")
        log.info(
            "%s handed back to the queue: this worker is stopping",
            run_label(run.run_id, run.flow_name),
        )

    def lost(self, run: RunRecord) -> None:
        """The lease was lost (logged once per run, whoever notices first)."""
        with self._lock:
            if run.run_id in self._lost:
                return
            self._lost.add(run.run_id)
            self._counts["leases_lost"] += 1
        log.warning(
            "lost the lease of %s (renewal came too late); another worker resumes it, and "
            "this one writes nothing more for it",
            run_label(run.run_id, run.flow_name),
        )

    def listener(self, run: RunRecord) -> _RunListener:
        """An engine listener for one claimed run: logs its retries, and (DEBUG) every
        other step transition."""
        return _RunListener(self, run)

    def summary(self, *, running: int, concurrency: int) -> str:
        stats = self.stats()
        parts = [
            f"claimed {stats.claimed}",
            f"completed {stats.completed}",
            f"failed {stats.failed}",
        ]
        optional = {
            "cancelled": stats.cancelled,
            "suspended": stats.suspended,
            "retried": stats.retries,
            "handed back": stats.handed_back,
            "leases lost": stats.leases_lost,
        }
        parts += [f"{name} {count}" for name, count in optional.items() if count]
        return f"worker {self.worker_id}: {', '.join(parts)}; running now {running}/{concurrency}"


class _RunListener:
    def __init__(self, activity: Activity, run: RunRecord) -> None:
        self._activity = activity
        self._run = run

    def __call__(self, event: EventRecord) -> None:
        flow = self._run.flow_name if event.run_id == self._run.run_id else None
        label = run_label(event.run_id, flow)
        message = event.message or ""
        if event.kind == "run":
            if message.startswith(FLOW_RETRY_PREFIX):
                self._activity._count("retries")
                log.info("%s: %s", label, message)
            return
        if event.state == "retrying":
            self._activity._count("retries")
            log.info("%s: step %s %s", label, event.step_key, message or "failed; retrying")
        elif log.isEnabledFor(logging.DEBUG):
            detail = f": {message}" if message else ""
            log.debug("%s: step %s %s%s", label, event.step_key, event.state, detail)


def _suspended_text(record: RunRecord) -> str:
    if record.state.value == "paused":
        return f"paused; `legato runs unpause {record.run_id}` puts it back in the queue"
    what = parse_wait(record.waiting_for).describe()
    until = f" until {record.wake_at.isoformat()}" if record.wake_at is not None else ""
    return f"waiting for {what}{until}"
