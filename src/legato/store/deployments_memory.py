"""``DeploymentStore`` in memory (for ``MemoryStore``), same contract as SQL."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from legato.records import (
    DeploymentRecord,
    EventRecord,
    FireRecord,
    RunRecord,
    SchedulerLease,
    SentEvent,
)
from legato.states import RunState

_ACTIVE = (RunState.PENDING, RunState.RUNNING, RunState.WAITING, RunState.PAUSED)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class MemoryDeployments:
    """Mixed into ``MemoryStore``; every method holds the store's lock."""

    _lock: threading.Lock
    _runs: dict[str, RunRecord]
    _sent: list[SentEvent]
    _work_signal: threading.Condition

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...
        def create_run(self, run: RunRecord, *, events: Sequence[EventRecord] = ()) -> None: ...
        def submit_run(
            self, run: RunRecord, *, events: Sequence[EventRecord] = ()
        ) -> tuple[RunRecord, bool]: ...

    def _init_deployments(self) -> None:
        self._deployments: dict[str, DeploymentRecord] = {}
        self._fires: dict[tuple[str, str], FireRecord] = {}
        self._fire_of_run: dict[str, FireRecord] = {}
        self._lease: SchedulerLease | None = None
        self._fire_lock = threading.Lock()  # record_fire: check, create, insert

    def save_deployment(self, deployment: DeploymentRecord) -> DeploymentRecord:
        with self._lock:
            self._check_open()
            old = self._deployments.get(deployment.name)
            if old is not None:
                deployment = replace(
                    deployment, created_at=old.created_at, scheduled_until=old.scheduled_until
                )
            self._deployments[deployment.name] = deployment
            return deployment

    def get_deployment(self, name: str) -> DeploymentRecord | None:
        with self._lock:
            self._check_open()
            return self._deployments.get(name)

    def list_deployments(self) -> list[DeploymentRecord]:
        with self._lock:
            self._check_open()
            return [self._deployments[name] for name in sorted(self._deployments)]

    def delete_deployment(self, name: str) -> bool:
        with self._lock:
            self._check_open()
            return self._deployments.pop(name, None) is not None

    def set_deployment_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        with self._lock:
            self._check_open()
            found = self._deployments.get(name)
            if found is None:
                return False
            self._deployments[name] = replace(found, paused=paused, updated_at=now)
            return True

    def advance_schedule(self, name: str, *, until: datetime) -> None:
        with self._lock:
            self._check_open()
            found = self._deployments.get(name)
            if found is not None and (
                found.scheduled_until is None or found.scheduled_until < until
            ):
                self._deployments[name] = replace(found, scheduled_until=until)

    def record_fire(
        self, fire: FireRecord, run: RunRecord, *, events: Sequence[EventRecord] = ()
    ) -> tuple[RunRecord, bool]:
        with self._fire_lock:
            with self._lock:
                self._check_open()
                known = self._fires.get((fire.deployment, fire.key))
                if known is not None:
                    return self._runs[known.run_id or ""], False
            self.create_run(run, events=events)  # StoreError: nothing written
            stored = replace(fire, run_id=run.run_id, fired_at=fire.fired_at.astimezone(UTC))
            with self._lock:
                self._fires[(fire.deployment, fire.key)] = stored
                self._fire_of_run[run.run_id] = stored
                created = self._runs[run.run_id]
        self._wake()
        return created, True

    def _wake(self) -> None:
        with self._work_signal:
            self._work_signal.notify_all()

    def get_fire(self, run_id: str) -> FireRecord | None:
        with self._lock:
            self._check_open()
            return self._fire_of_run.get(run_id)

    def list_fires(self, deployment: str, *, limit: int = 50) -> list[FireRecord]:
        with self._lock:
            self._check_open()
            found = [f for (name, _), f in self._fires.items() if name == deployment]
        found.sort(key=lambda f: (f.fired_at, f.key), reverse=True)
        return found[: max(limit, 0)]

    def known_fire_keys(self, deployment: str, keys: Iterable[str]) -> set[str]:
        with self._lock:
            self._check_open()
            return {key for key in keys if (deployment, key) in self._fires}

    def active_fires(self, deployment: str) -> list[FireRecord]:
        with self._lock:
            self._check_open()
            found = [
                f
                for (name, _), f in self._fires.items()
                if name == deployment and self._runs[f.run_id or ""].state in _ACTIVE
            ]
        found.sort(key=lambda f: (f.fired_at, f.key))
        return found

    def sent_events_after(self, after_id: int, *, limit: int = 500) -> list[SentEvent]:
        with self._lock:
            self._check_open()
            return [e for e in self._sent if (e.id or 0) > after_id][:limit]

    def acquire_scheduler_lease(
        self, holder: str, *, ttl: timedelta, now: datetime
    ) -> SchedulerLease | None:
        with self._lock:
            self._check_open()
            lease = self._lease
            if lease is not None and lease.holder != holder and lease.expires_at >= now:
                return None
            cursor = 0 if lease is None else lease.event_cursor
            self._lease = SchedulerLease(
                holder=holder, expires_at=(now + ttl).astimezone(UTC), event_cursor=cursor
            )
            return self._lease

    def release_scheduler_lease(self, holder: str) -> None:
        with self._lock:
            if self._lease is not None and self._lease.holder == holder:
                self._lease = replace(self._lease, expires_at=_NEVER)

    def set_event_cursor(self, holder: str, cursor: int) -> bool:
        with self._lock:
            self._check_open()
            lease = self._lease
            if lease is None or lease.holder != holder or lease.event_cursor > cursor:
                return False
            self._lease = replace(lease, event_cursor=cursor)
            return True
