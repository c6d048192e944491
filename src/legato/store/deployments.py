"""The ``DeploymentStore`` protocol: deployments, the fires of their triggers, and the
lease that elects one active scheduler.

Every backend implements it (``MemoryStore`` through ``deployments_memory``, the SQL
stores through ``deployments_sql``) and passes ``tests/store/test_deployments_contract.py``.
The key verb is :meth:`DeploymentStore.record_fire`: a fire and the run it starts are
written in one transaction, and a fire key already recorded writes nothing, so no
trigger ever starts two runs for one cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from legato.records import (
    DeploymentRecord,
    EventRecord,
    FireRecord,
    RunRecord,
    SchedulerLease,
    SentEvent,
)
from legato.store.base import Store

SCHEDULER_LEASE = "scheduler"  # the name of the one lease row


@runtime_checkable
class DeploymentStore(Protocol):
    def save_deployment(self, deployment: DeploymentRecord) -> DeploymentRecord:
        """Create the deployment, or replace the one of that name atomically. An update
        keeps the existing ``created_at`` and ``scheduled_until`` (so re-applying a file
        neither re-fires nor forgets past schedule times). Returns what is stored.
        Raises ``StoreError``."""
        ...

    def get_deployment(self, name: str) -> DeploymentRecord | None:
        """The deployment named ``name``, or None."""
        ...

    def list_deployments(self) -> list[DeploymentRecord]:
        """Every deployment, by name."""
        ...

    def delete_deployment(self, name: str) -> bool:
        """Remove the deployment (its fires and runs stay in history); False if there
        was none."""
        ...

    def set_deployment_paused(self, name: str, *, paused: bool, now: datetime) -> bool:
        """Pause or resume the deployment's triggers; False if there is none."""
        ...

    def advance_schedule(self, name: str, *, until: datetime) -> None:
        """Record that the deployment's schedules are evaluated up to ``until`` (never
        moves backwards). Nothing happens for an unknown deployment."""
        ...

    def record_fire(
        self, fire: FireRecord, run: RunRecord, *, events: Sequence[EventRecord] = ()
    ) -> tuple[RunRecord, bool]:
        """Insert the fire (with ``run_id=run.run_id``) and submit ``run`` (pending, for
        workers) with its first ``events``, in ONE transaction; ``(run, True)``.

        If ``(fire.deployment, fire.key)`` is already recorded, nothing is written and
        the run that fire started comes back as ``(existing, False)``. Wakes idle
        workers. Raises ``StoreError`` (nothing written) for a run id that exists."""
        ...

    def get_fire(self, run_id: str) -> FireRecord | None:
        """The fire that started the run, or None (a run started by hand)."""
        ...

    def list_fires(self, deployment: str, *, limit: int = 50) -> list[FireRecord]:
        """The deployment's fires, newest ``fired_at`` first, at most ``limit``."""
        ...

    def known_fire_keys(self, deployment: str, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` already recorded for the deployment."""
        ...

    def active_fires(self, deployment: str) -> list[FireRecord]:
        """The deployment's fires whose run has not ended, oldest first."""
        ...

    def sent_events_after(self, after_id: int, *, limit: int = 500) -> list[SentEvent]:
        """Events sent to flows with an id above ``after_id``, oldest first."""
        ...

    def acquire_scheduler_lease(
        self, holder: str, *, ttl: timedelta, now: datetime
    ) -> SchedulerLease | None:
        """Atomically take or renew the scheduler lease until ``now + ttl``: succeeds
        when nobody holds it, ``holder`` holds it, or its holder let it expire before
        ``now``. The lease (with its event cursor) on success; None (nothing written)
        while another holder's lease is live."""
        ...

    def release_scheduler_lease(self, holder: str) -> None:
        """Give the lease up at once if ``holder`` holds it (its cursor is kept)."""
        ...

    def set_event_cursor(self, holder: str, cursor: int) -> bool:
        """Move the event cursor forward to ``cursor`` if ``holder`` still holds the
        lease; False (nothing written) when it lost it."""
        ...


@runtime_checkable
class SchedulingStore(Store, DeploymentStore, Protocol):
    """What the scheduler needs: the whole store and deployments (every backend)."""
