"""The scheduler service: fires deployments' schedules, events and run completions.

``Scheduler(store, clock).tick(now)`` does one round and returns the fires it recorded;
``run(stop)`` is a short loop around it. Several schedulers may share a store: each
tick first takes or renews the scheduler lease, so one fires and the others stand by
(``active`` False), taking over once the active one's lease expires. Fires are keyed
(``schedule:<time>``, ``event:<id>``, ``after:<run id>``) and recorded in the
transaction that submits their run, so a takeover never fires anything twice.

File and stream triggers are watched by sources (``legato.scheduler.sources``) that the
active scheduler runs on threads of their own, kept in step with the deployments at
each tick (``self.sources``, a :class:`~legato.scheduler.sources.pool.SourcePool`) and
stopped when the lease is lost or the scheduler stops.

Schedules: the fire times since the deployment's ``scheduled_until`` (its creation at
first) are due. Those not older than ``misfire_grace`` fire; older ones were missed
(no scheduler ran) and follow ``catchup``: ``skip`` none, ``one`` the latest, ``all`` the
latest ``catchup_limit``. Overlap: ``skip`` fires nothing while a run of the deployment
is still going, ``cancel`` cancels it first, ``queue`` lets the store's concurrency
limit on the deployment's tag run them one after the other, ``allow`` does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from legato.clock import utcnow
from legato.errors import LegatoError, RunStateError
from legato.records import DeploymentRecord, EventRecord, FireRecord, RunFilter, SchedulerLease
from legato.scheduler.cron import Cron, Every
from legato.scheduler.deployments import triggers_of
from legato.scheduler.firing import start_run
from legato.scheduler.sources.board import StatusBoard
from legato.scheduler.sources.pool import SourcePool
from legato.scheduler.triggers import After, OnEvent, Trigger
from legato.serialization import loads
from legato.states import RunState
from legato.store.deployments import SchedulingStore

log = logging.getLogger("legato.scheduler")

Clock = Callable[[], datetime]
AFTER_LOOKBACK = 100  # finished runs of an upstream flow looked at per tick


class Scheduler:
    """Fires the deployments of ``store``; see the module docstring."""

    def __init__(
        self,
        store: SchedulingStore,
        clock: Clock = utcnow,
        *,
        holder: str | None = None,
        lease: timedelta = timedelta(seconds=10),
        misfire_grace: timedelta = timedelta(seconds=30),
        interval: float = 0.5,
        board: StatusBoard | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.misfire_grace = misfire_grace
        self.interval = interval
        self.active = False
        self.sources = SourcePool(store, by=f"scheduler {self.holder}", clock=clock)
        self.board = board

    def tick(self, now: datetime | None = None) -> list[FireRecord]:
        """One round: take the lease, then fire what is due. The fires recorded (an
        empty list while another scheduler holds the lease)."""
        now = now or self.clock()
        held = self.store.acquire_scheduler_lease(self.holder, ttl=self.lease, now=now)
        if held is None:
            if self.active:
                log.warning("scheduler %s lost the lease; standing by", self.holder)
                self.active = False
                self.sources.stop_all()
                self._publish(now, watching=False)
            return []
        if not self.active:
            log.info("scheduler %s is active", self.holder)
        self.active = True
        everything = self.store.list_deployments()
        self.sources.sync(everything, now=now)
        self.sources.finish_files()
        self._publish(now)
        deployments = [d for d in everything if not d.paused]
        fired: list[FireRecord] = []
        triggers = {d.name: self._triggers(d) for d in deployments}
        for deployment in deployments:
            mine = triggers[deployment.name]
            fired += self._schedules(deployment, mine, now)
            fired += self._after(deployment, mine, now)
        fired += self._events(deployments, triggers, held, now)
        return fired

    def run(self, stop: threading.Event) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; then give the lease
        up so a standby takes over at once."""
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except LegatoError as exc:
                    log.error("scheduler tick failed: %s", exc)
                stop.wait(self.interval)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the trigger sources and give the lease up (if held) so that a standby
        takes over at once. Ticking again later takes the lease back."""
        self.sources.stop_all()
        if self.active:
            self._publish(self.clock(), watching=False)
            self.store.release_scheduler_lease(self.holder)
            self.active = False

    def _publish(self, now: datetime, *, watching: bool = True) -> None:
        """Tell ``legato deployments show`` what the sources are doing (nothing watched
        once they stopped)."""
        if self.board is None:
            return
        try:
            self.board.publish(self.holder, self.sources.statuses() if watching else {}, now)
        except OSError as exc:
            log.warning(
                "cannot publish the trigger sources' status to %s: %s", self.board.path, exc
            )

    # -- triggers ---------------------------------------------------------------------

    def _triggers(self, deployment: DeploymentRecord) -> list[Trigger]:
        try:
            return triggers_of(deployment)
        except (LegatoError, KeyError, ValueError) as exc:
            log.error("deployment %s: its triggers cannot be read: %s", deployment.name, exc)
            return []

    def _schedules(
        self, deployment: DeploymentRecord, triggers: Sequence[Trigger], now: datetime
    ) -> list[FireRecord]:
        schedules = [t for t in triggers if isinstance(t, Cron | Every)]
        if not schedules:
            return []
        since = (deployment.scheduled_until or deployment.created_at) + timedelta(microseconds=1)
        kinds: dict[datetime, str] = {}
        for schedule in schedules:
            kind = "cron" if isinstance(schedule, Cron) else "interval"
            for at in schedule.between(since, now):
                kinds.setdefault(at, kind)
        if not kinds:
            return []
        due = sorted(kinds)
        fired = []
        for at in self._chosen(deployment, due, now):
            fire = self._fire(
                deployment,
                key=schedule_key(at),
                kind=kinds[at],
                fired_at=at,
                payload={"scheduled_at": at.isoformat()},
                now=now,
            )
            if fire is not None:
                fired.append(fire)
        self.store.advance_schedule(deployment.name, until=due[-1])
        return fired

    def _chosen(
        self, deployment: DeploymentRecord, due: list[datetime], now: datetime
    ) -> list[datetime]:
        """The due fire times to fire, after the catch-up policy."""
        on_time = [at for at in due if now - at <= self.misfire_grace]
        missed = due[: len(due) - len(on_time)]
        if missed:
            made_up = {"skip": 0, "one": 1, "all": deployment.catchup_limit}[deployment.catchup]
            log.info(
                "deployment %s: %d schedule fire(s) missed; catch-up %s makes up %d",
                deployment.name,
                len(missed),
                deployment.catchup,
                min(made_up, len(missed)),
            )
            return (missed[-made_up:] if made_up else []) + on_time
        return on_time

    def _after(
        self, deployment: DeploymentRecord, triggers: Sequence[Trigger], now: datetime
    ) -> list[FireRecord]:
        fired = []
        for trigger in triggers:
            if not isinstance(trigger, After):
                continue
            runs = self.store.list_runs(
                RunFilter(
                    flow_name=trigger.flow, state=RunState(trigger.when), limit=AFTER_LOOKBACK
                )
            )
            ended = [
                r
                for r in runs
                if r.finished_at is not None and r.finished_at >= deployment.created_at
            ]
            known = self.store.known_fire_keys(
                deployment.name, [f"after:{r.run_id}" for r in ended]
            )
            for upstream in reversed(ended):
                key = f"after:{upstream.run_id}"
                if key in known:
                    continue
                payload = {
                    "run_id": upstream.run_id,
                    "flow": upstream.flow_name,
                    "state": upstream.state.value,
                    "result": _result(upstream.result, upstream.serializer),
                    "error": upstream.error.summary() if upstream.error else None,
                }
                fire = self._fire(
                    deployment,
                    key=key,
                    kind="after",
                    fired_at=upstream.finished_at or now,
                    payload=payload,
                    now=now,
                )
                if fire is not None:
                    fired.append(fire)
        return fired

    def _events(
        self,
        deployments: Sequence[DeploymentRecord],
        triggers: dict[str, list[Trigger]],
        held: SchedulerLease,
        now: datetime,
    ) -> list[FireRecord]:
        sent = self.store.sent_events_after(held.event_cursor)
        if not sent:
            return []
        listening = [
            (d, [t for t in triggers[d.name] if isinstance(t, OnEvent)]) for d in deployments
        ]
        listening = [(d, on) for d, on in listening if on]
        fired = []
        for event in sent:
            if event.run_id is not None or not listening:
                continue  # an event for one run wakes that run only
            try:
                payload = json.loads(event.payload)
            except ValueError:
                payload = None
            for deployment, on in listening:
                if event.sent_at < deployment.created_at:
                    continue
                if any(t.name == event.name and t.matches(payload) for t in on):
                    fire = self._fire(
                        deployment,
                        key=f"event:{event.id}",
                        kind="event",
                        fired_at=event.sent_at,
                        payload=payload,
                        now=now,
                    )
                    if fire is not None:
                        fired.append(fire)
        self.store.set_event_cursor(self.holder, sent[-1].id or held.event_cursor)
        return fired

    # -- firing -----------------------------------------------------------------------

    def _fire(
        self,
        deployment: DeploymentRecord,
        *,
        key: str,
        kind: str,
        fired_at: datetime,
        payload: Any,
        now: datetime,
    ) -> FireRecord | None:
        """Start the deployment's run for this fire unless overlap says no; the fire
        recorded (None when skipped or fired before)."""
        if deployment.overlap in ("skip", "cancel") and not self._make_room(deployment, key, now):
            return None
        run, created = start_run(
            self.store,
            deployment,
            key=key,
            kind=kind,
            fired_at=fired_at,
            payload=payload,
            by=f"scheduler {self.holder}",
            now=now,
        )
        if not created:
            return None
        log.info("fired %s (%s %s): run %s", deployment.name, kind, key, run.run_id)
        return self.store.get_fire(run.run_id)

    def _make_room(self, deployment: DeploymentRecord, key: str, now: datetime) -> bool:
        """Overlap ``skip``/``cancel``: whether the fire may start its run."""
        active = [f for f in self.store.active_fires(deployment.name) if f.key != key]
        if not active:
            return True
        if deployment.overlap == "skip":
            if not self.store.known_fire_keys(deployment.name, [key]):
                log.info(
                    "deployment %s: fire %s skipped, run %s is still going (overlap=skip)",
                    deployment.name,
                    key,
                    active[-1].run_id,
                )
            return False
        for fire in active:
            event = EventRecord(
                run_id=fire.run_id or "",
                at=now,
                kind="run",
                state="cancelled",
                message=f"cancelled: deployment {deployment.name} fired again ({key}) "
                "and its overlap policy is cancel",
                by=f"scheduler {self.holder}",
            )
            try:
                self.store.cancel_run(fire.run_id or "", event=event)
            except RunStateError:
                pass  # it ended meanwhile
        return True


def schedule_key(at: datetime) -> str:
    """The fire key of a schedule's fire time (shared by backfills, so a backfilled time
    and a scheduled one are one fire)."""
    return f"schedule:{at.isoformat()}"


def _result(text: str | None, serializer: str) -> Any:
    if text is None or serializer != "json":
        return None
    try:
        return loads(text)
    except LegatoError:
        return None
