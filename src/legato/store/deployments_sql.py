"""``DeploymentStore`` on SQL, shared by every SQL backend through ``SqlStore``.

Portable SQL (``INSERT ... ON CONFLICT``), written with ``?`` placeholders and
translated for the driver as ``legato.store.queries`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from legato.errors import StoreError
from legato.records import (
    Change,
    DeploymentRecord,
    EventRecord,
    FireRecord,
    RunRecord,
    SchedulerLease,
    SentEvent,
)
from legato.store import messages, rows
from legato.store.deployments import SCHEDULER_LEASE

if TYPE_CHECKING:
    from legato.store.queries import Queries
    from legato.store.sql import Cursor

T = TypeVar("T")
A = TypeVar("A")

DEPLOYMENT_COLUMNS = (
    "name, flow_name, target, params, queue, priority, triggers, overlap, catchup, catchup_limit, "
    "paused, created_at, updated_at, scheduled_until"
)
FIRE_COLUMNS = "deployment, fire_key, kind, fired_at, payload, run_id"

UPSERT_DEPLOYMENT = (
    f"INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET flow_name = excluded.flow_name, "
    "target = excluded.target, params = excluded.params, "
    "queue = excluded.queue, priority = excluded.priority, triggers = excluded.triggers, "
    "overlap = excluded.overlap, catchup = excluded.catchup, "
    "catchup_limit = excluded.catchup_limit, paused = excluded.paused, "
    "updated_at = excluded.updated_at"
)
SELECT_DEPLOYMENT = f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE name = ?"
SELECT_DEPLOYMENTS = f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments ORDER BY name"
DELETE_DEPLOYMENT = "DELETE FROM deployments WHERE name = ?"
PAUSE_DEPLOYMENT = "UPDATE deployments SET paused = ?, updated_at = ? WHERE name = ?"
ADVANCE_SCHEDULE = (
    "UPDATE deployments SET scheduled_until = ? WHERE name = ? "
    "AND (scheduled_until IS NULL OR scheduled_until < ?)"
)
# A fire key already recorded inserts nothing (rowcount 0): the fire's run comes back.
INSERT_FIRE = f"INSERT INTO fires ({FIRE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
SELECT_FIRE_RUN = "SELECT run_id FROM fires WHERE deployment = ? AND fire_key = ?"
SELECT_FIRE_OF_RUN = f"SELECT {FIRE_COLUMNS} FROM fires WHERE run_id = ?"
SELECT_FIRES = (
    f"SELECT {FIRE_COLUMNS} FROM fires WHERE deployment = ? "
    "ORDER BY fired_at DESC, fire_key DESC LIMIT ?"
)
SELECT_KNOWN_KEYS = "SELECT fire_key FROM fires WHERE deployment = ? AND fire_key IN ({keys})"
SELECT_ACTIVE_FIRES = (
    "SELECT f.deployment, f.fire_key, f.kind, f.fired_at, f.payload, f.run_id FROM fires f "
    "JOIN runs r ON r.run_id = f.run_id WHERE f.deployment = ? "
    "AND r.state IN ('pending', 'running', 'waiting', 'paused') ORDER BY f.fired_at, f.fire_key"
)
SELECT_SENT_AFTER = (
    "SELECT id, name, event_key, payload, sent_at, run_id, sent_by FROM sent_events "
    "WHERE id > ? ORDER BY id LIMIT ?"
)
# Take the lease when it is free, ours, or expired; rowcount 0 while another holds it.
ACQUIRE_LEASE = (
    "INSERT INTO scheduler_lease (lease_name, holder, expires_at, event_cursor) "
    "VALUES (?, ?, ?, 0) ON CONFLICT (lease_name) DO UPDATE SET holder = excluded.holder, "
    "expires_at = excluded.expires_at WHERE scheduler_lease.holder = excluded.holder "
    "OR scheduler_lease.expires_at < ?"
)
SELECT_LEASE = "SELECT holder, expires_at, event_cursor FROM scheduler_lease WHERE lease_name = ?"
RELEASE_LEASE = "UPDATE scheduler_lease SET expires_at = 0 WHERE lease_name = ? AND holder = ?"
SET_EVENT_CURSOR = (
    "UPDATE scheduler_lease SET event_cursor = ? WHERE lease_name = ? AND holder = ? "
    "AND event_cursor <= ?"
)


def deployment_row(d: DeploymentRecord) -> rows.Row:
    return (
        d.name,
        d.flow_name,
        d.target,
        d.params,
        d.queue,
        d.priority,
        d.triggers,
        d.overlap,
        d.catchup,
        d.catchup_limit,
        1 if d.paused else 0,
        rows.micros(d.created_at),
        rows.micros(d.updated_at),
        rows.micros_or_none(d.scheduled_until),
    )


def decode_deployment(row: rows.Row) -> DeploymentRecord:
    return DeploymentRecord(
        name=row[0],
        flow_name=row[1],
        target=row[2],
        params=row[3],
        queue=row[4],
        priority=row[5],
        triggers=row[6],
        overlap=row[7],
        catchup=row[8],
        catchup_limit=row[9],
        paused=bool(row[10]),
        created_at=rows.from_micros(row[11]),
        updated_at=rows.from_micros(row[12]),
        scheduled_until=rows.from_micros(row[13]),
    )


def decode_fire(row: rows.Row) -> FireRecord:
    return FireRecord(
        deployment=row[0],
        key=row[1],
        kind=row[2],
        fired_at=rows.from_micros(row[3]),
        payload=row[4],
        run_id=row[5],
    )


class SqlDeployments:
    """Mixed into ``SqlStore``; relies on its ``_write``, ``_fetch``, ``_q``."""

    placeholder: ClassVar[str]
    url: str
    _q: Queries

    if TYPE_CHECKING:

        def _write(
            self, doing: str, work: Callable[[Cursor, A], T], arg: A, changes: Sequence[Change]
        ) -> T: ...

        def _fetch(self, doing: str, sql: str, params: Sequence[Any], one: bool = False) -> Any: ...

        def _notify_work(self, cur: Cursor) -> None: ...

        def _wake_local_workers(self) -> None: ...

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def save_deployment(self, deployment: DeploymentRecord) -> DeploymentRecord:
        """See ``DeploymentStore.save_deployment``."""
        try:
            row = deployment_row(deployment)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"cannot store deployment {deployment.name!r}: {exc}") from exc
        upsert, select = self._sql(UPSERT_DEPLOYMENT), self._sql(SELECT_DEPLOYMENT)

        def work(cur: Cursor, _: None) -> DeploymentRecord:
            cur.execute(upsert, row)
            return decode_deployment(cur.execute(select, (deployment.name,)).fetchone())

        return self._write(f"save deployment {deployment.name!r}", work, None, ())

    def get_deployment(self, name: str) -> DeploymentRecord | None:
        """See ``DeploymentStore.get_deployment``."""
        row = self._fetch(
            f"read deployment {name!r}", self._sql(SELECT_DEPLOYMENT), (name,), one=True
        )
        return None if row is None else decode_deployment(row)

    def list_deployments(self) -> list[DeploymentRecord]:
        """See ``DeploymentStore.list_deployments``."""
        found = self._fetch("list deployments", self._sql(SELECT_DEPLOYMENTS), ())
        return [decode_deployment(row) for row in found]

    def _update(self, doing: str, sql: str, params: Sequence[Any]) -> int:
        def work(cur: Cursor, _: None) -> int:
            return cur.execute(sql, params).rowcount

        return self._write(doing, work, None, ())

    def delete_deployment(self, name: str) -> bool:
        """See ``DeploymentStore.delete_deployment``."""
        return (
            self._update(f"delete deployment {name!r}", self._sql(DELETE_DEPLOYMENT), (name,)) > 0
        )

    def set_deployment_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        """See ``DeploymentStore.set_deployment_paused``."""
        params = (1 if paused else 0, rows.micros(now), name)
        return self._update(f"pause deployment {name!r}", self._sql(PAUSE_DEPLOYMENT), params) > 0

    def advance_schedule(self, name: str, *, until: datetime) -> None:
        """See ``DeploymentStore.advance_schedule``."""
        at = rows.micros(until)
        self._update(f"advance deployment {name!r}", self._sql(ADVANCE_SCHEDULE), (at, name, at))

    def record_fire(
        self, fire: FireRecord, run: RunRecord, *, events: Sequence[EventRecord] = ()
    ) -> tuple[RunRecord, bool]:
        """See ``DeploymentStore.record_fire``."""
        try:
            run_row = rows.run_row(run)
            event_rows = [rows.event_row(event) for event in events]
            fire_row = (
                fire.deployment,
                fire.key,
                fire.kind,
                rows.micros(fire.fired_at),
                fire.payload,
                run.run_id,
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise StoreError(messages.unencodable(run, exc)) from exc
        q = self._q
        insert_fire, select_fire = self._sql(INSERT_FIRE), self._sql(SELECT_FIRE_RUN)

        def work(cur: Cursor, _: None) -> RunRecord | None:
            # The fire first: a concurrent fire of the same key waits for this one's
            # commit on PostgreSQL, then inserts nothing and finds its run.
            cur.execute(insert_fire, fire_row)
            if cur.rowcount == 0:
                run_id = cur.execute(select_fire, (fire.deployment, fire.key)).fetchone()[0]
                return rows.decode_run(cur.execute(q.select_run, (run_id,)).fetchone())
            cur.execute(q.insert_run, run_row)
            if cur.rowcount == 0:
                raise StoreError(messages.duplicate_run(run.run_id, self.url))
            for event_row in event_rows:
                cur.execute(q.insert_event, event_row)
            self._notify_work(cur)
            return None

        existing = self._write(f"record fire {fire.key!r} of {fire.deployment!r}", work, None, ())
        if existing is not None:
            return existing, False
        self._wake_local_workers()
        return run, True

    def get_fire(self, run_id: str) -> FireRecord | None:
        """See ``DeploymentStore.get_fire``."""
        row = self._fetch(
            f"read the fire of run {run_id}", self._sql(SELECT_FIRE_OF_RUN), (run_id,), one=True
        )
        return None if row is None else decode_fire(row)

    def list_fires(self, deployment: str, *, limit: int = 50) -> list[FireRecord]:
        """See ``DeploymentStore.list_fires``."""
        found = self._fetch(
            f"list the fires of {deployment!r}",
            self._sql(SELECT_FIRES),
            (deployment, max(limit, 0)),
        )
        return [decode_fire(row) for row in found]

    def known_fire_keys(self, deployment: str, keys: Iterable[str]) -> set[str]:
        """See ``DeploymentStore.known_fire_keys``."""
        wanted = list(dict.fromkeys(keys))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            sql = self._sql(SELECT_KNOWN_KEYS.format(keys=", ".join("?" * len(chunk))))
            found = self._fetch(f"read the fires of {deployment!r}", sql, (deployment, *chunk))
            known.update(row[0] for row in found)
        return known

    def active_fires(self, deployment: str) -> list[FireRecord]:
        """See ``DeploymentStore.active_fires``."""
        found = self._fetch(
            f"read the active runs of {deployment!r}", self._sql(SELECT_ACTIVE_FIRES), (deployment,)
        )
        return [decode_fire(row) for row in found]

    def sent_events_after(self, after_id: int, *, limit: int = 500) -> list[SentEvent]:
        """See ``DeploymentStore.sent_events_after``."""
        found = self._fetch("read sent events", self._sql(SELECT_SENT_AFTER), (after_id, limit))
        return [rows.decode_sent_event(row) for row in found]

    def acquire_scheduler_lease(
        self, holder: str, *, ttl: timedelta, now: datetime
    ) -> SchedulerLease | None:
        """See ``DeploymentStore.acquire_scheduler_lease``."""
        params = (SCHEDULER_LEASE, holder, rows.micros(now + ttl), rows.micros(now))
        acquire, select = self._sql(ACQUIRE_LEASE), self._sql(SELECT_LEASE)

        def work(cur: Cursor, _: None) -> SchedulerLease | None:
            if cur.execute(acquire, params).rowcount == 0:
                return None
            found = cur.execute(select, (SCHEDULER_LEASE,)).fetchone()
            return SchedulerLease(
                holder=found[0],
                expires_at=rows.from_micros(found[1]),
                event_cursor=found[2],
            )

        return self._write("take the scheduler lease", work, None, ())

    def release_scheduler_lease(self, holder: str) -> None:
        """See ``DeploymentStore.release_scheduler_lease``."""
        self._update(
            "release the scheduler lease", self._sql(RELEASE_LEASE), (SCHEDULER_LEASE, holder)
        )

    def set_event_cursor(self, holder: str, cursor: int) -> bool:
        """See ``DeploymentStore.set_event_cursor``."""
        params = (cursor, SCHEDULER_LEASE, holder, cursor)
        return self._update("move the event cursor", self._sql(SET_EVENT_CURSOR), params) > 0
