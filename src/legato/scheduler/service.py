"""The scheduler service: fires deployments' schedules, events and run completions.

``Scheduler(store, clock).tick(now)`` does one round and returns the fires it recorded;
``run(stop)`` is the loop around it (see Timing). Several schedulers may share a store: each
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

Timing: ``run`` reads the deployments on a thread of its own (every ``interval``, or five
times as long as a read takes, so that reading thousands neither holds fires up nor
takes more than a fifth of the time), and each round remembers every deployment's next
fire time in a heap. Between rounds the loop wakes at the next fire time and every
``event_poll`` seconds, and fires what fell due and the events sent since, for the
deployments of the last round: a deployment created, changed, paused or deleted is
seen by the next round.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from legato.clock import utcnow
from legato.errors import LegatoError, RunStateError
from legato.records import (
    DeploymentRecord,
    EventRecord,
    FireRecord,
    RunFilter,
    SchedulerLease,
    SentEvent,
)
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
        event_poll: float = 0.01,
    ) -> None:
        self.store = store
        self.clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.misfire_grace = misfire_grace
        self.interval = interval
        self.event_poll = event_poll
        self.active = False
        self.sources = SourcePool(store, by=f"scheduler {self.holder}", clock=clock)
        self.board = board
        self._parsed: dict[str, tuple[str, list[Trigger]]] = {}  # name: (JSON, triggers)
        self._listens_to: dict[str, tuple[str, bool]] = {}  # name: (JSON, event or After)
        self._next: dict[str, tuple[datetime, str, datetime | None]] = {}  # since, JSON, due
        self._advanced: dict[str, tuple[datetime | None, datetime]] = {}  # stored, until
        # What the last round saw, for the quick rounds between rounds (``run``).
        self._round: dict[str, DeploymentRecord] = {}
        self._due: list[tuple[datetime, str]] = []  # heap of next fire times
        self._queued: dict[str, datetime] = {}  # the live entry of each name in the heap
        self._listening: list[DeploymentRecord] = []  # with an event or After trigger
        self._cursor = 0  # events looked at, up to this id
        self._recheck_from: int | None = None  # events looked at by quick rounds since

    def tick(
        self, now: datetime | None = None, *, listing: Sequence[DeploymentRecord] | None = None
    ) -> list[FireRecord]:
        """One round: take the lease, then fire what is due. The fires recorded (an
        empty list while another scheduler holds the lease). ``listing``: the
        deployments as read just before (``run`` reads them on a thread of its own, so
        that reading thousands does not hold fires up); read here when None."""
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
        if listing is None:
            listing = self.store.list_deployments()
        self.sources.sync(listing, now=now)
        self.sources.finish_files()
        self._publish(now)
        deployments = [d for d in listing if not d.paused]
        previous, self._round = self._round, {d.name: d for d in deployments}
        for gone in previous.keys() - self._round.keys():
            for cache in (self._queued, self._parsed, self._listens_to, self._next):
                cache.pop(gone, None)
        for deployment in deployments:
            if _changed(previous.get(deployment.name), deployment):
                self._queue(deployment)
        self._listening = [d for d in deployments if self._listens(d)]
        triggers = {d.name: self._triggers(d) for d in self._listening}
        fired = self._fire_due(now)
        for deployment in self._listening:
            fired += self._after(deployment, triggers[deployment.name], now)
        fired += self._round_events(previous, triggers, held, now)
        return fired

    def quick_tick(self, now: datetime | None = None) -> list[FireRecord]:
        """Between rounds: fire the schedules that fell due and the events sent since the
        last look, for the deployments of the last round (nothing while standing by).
        The fires recorded."""
        if not self.active:
            return []
        now = now or self.clock()
        fired = self._fire_due(now)
        sent = self.store.sent_events_after(self._cursor)
        if sent:
            if self._recheck_from is None:
                self._recheck_from = self._cursor
            triggers = {d.name: self._triggers(d) for d in self._listening}
            fired += self._events(sent, self._listening, triggers, now)
        return fired

    def _queue(self, deployment: DeploymentRecord) -> None:
        """Put the deployment's next schedule fire time in the heap (replacing the one
        there: stale entries are skipped when they come up)."""
        due = self._next_due(deployment)
        if due is None:
            self._queued.pop(deployment.name, None)
        elif self._queued.get(deployment.name) != due:
            self._queued[deployment.name] = due
            heapq.heappush(self._due, (due, deployment.name))

    def _fire_due(self, now: datetime) -> list[FireRecord]:
        """Fire the schedules of the last round's deployments due by ``now``."""
        fired: list[FireRecord] = []
        while self._due and self._due[0][0] <= now:
            due, name = heapq.heappop(self._due)
            if self._queued.get(name) != due:
                continue  # moved since it was queued
            del self._queued[name]
            deployment = self._round.get(name)
            if deployment is None:
                continue  # deleted or paused since
            fired += self._schedules(deployment, self._triggers(deployment), now)
            self._queue(deployment)
        return fired

    def next_wake(self, now: datetime) -> float:
        """Seconds until ``run`` should look again: the next fire time of the last
        round's deployments, at most ``event_poll``."""
        if not self._due:
            return self.event_poll
        return max(0.0, min(self.event_poll, (self._due[0][0] - now).total_seconds()))

    def run(self, stop: threading.Event) -> None:
        """A round each time a thread of its own has read the deployments (every
        ``interval`` seconds), quick rounds in between (``next_wake``), until ``stop``
        is set; then give the lease up so a standby takes over at once."""
        lister = _Lister(self.store, self.interval, stop)
        lister.start()
        try:
            while not stop.is_set():
                try:
                    listing = lister.take()
                    if listing is not None:
                        self.tick(listing=listing)
                    else:
                        self.quick_tick()
                except LegatoError as exc:
                    log.error("scheduler tick failed: %s", exc)
                lister.ready.wait(self.next_wake(self.clock()))
        finally:
            lister.join()
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
        """The deployment's triggers, parsed once per version of their JSON."""
        cached = self._parsed.get(deployment.name)
        if cached is not None and cached[0] == deployment.triggers:
            return cached[1]
        try:
            parsed = triggers_of(deployment)
        except (LegatoError, KeyError, ValueError) as exc:
            log.error("deployment %s: its triggers cannot be read: %s", deployment.name, exc)
            parsed = []
        self._parsed[deployment.name] = (deployment.triggers, parsed)
        return parsed

    def _listens(self, deployment: DeploymentRecord) -> bool:
        """Whether the deployment has an event or After trigger."""
        cached = self._listens_to.get(deployment.name)
        if cached is not None and cached[0] == deployment.triggers:
            return cached[1]
        listens = any(isinstance(t, OnEvent | After) for t in self._triggers(deployment))
        self._listens_to[deployment.name] = (deployment.triggers, listens)
        return listens

    def _since(self, deployment: DeploymentRecord) -> datetime:
        """Where the deployment's schedules were evaluated up to: its stored
        ``scheduled_until``, or what this scheduler advanced it to since it was read."""
        stored = deployment.scheduled_until
        advanced = self._advanced.get(deployment.name)
        if advanced is not None and advanced[0] == stored:
            return advanced[1]
        return stored or deployment.created_at

    def _next_due(self, deployment: DeploymentRecord) -> datetime | None:
        """The deployment's next schedule fire time after ``_since`` (None without a
        schedule), computed once per ``since`` and triggers."""
        since = self._since(deployment)
        cached = self._next.get(deployment.name)
        if cached is not None and cached[0] == since and cached[1] == deployment.triggers:
            return cached[2]
        times = [
            t.next_after(since) for t in self._triggers(deployment) if isinstance(t, Cron | Every)
        ]
        due = min(times) if times else None
        self._next[deployment.name] = (since, deployment.triggers, due)
        return due

    def _schedules(
        self, deployment: DeploymentRecord, triggers: Sequence[Trigger], now: datetime
    ) -> list[FireRecord]:
        schedules = [t for t in triggers if isinstance(t, Cron | Every)]
        if not schedules:
            return []
        due_next = self._next_due(deployment)
        if due_next is None or due_next > now:
            return []
        since = self._since(deployment) + timedelta(microseconds=1)
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
        self._advanced[deployment.name] = (deployment.scheduled_until, due[-1])
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

    def _round_events(
        self,
        known: dict[str, DeploymentRecord],
        triggers: dict[str, list[Trigger]],
        held: SchedulerLease,
        now: datetime,
    ) -> list[FireRecord]:
        """A round's events: those after the stored cursor; and the events quick rounds
        looked at since the last round again, for the deployments that round did not
        know (created or changed since; the fire keys make a second look harmless)."""
        cursor = held.event_cursor
        recheck = self._recheck_from
        self._recheck_from = None
        fired = []
        if recheck is not None and recheck < cursor:
            new = [
                d
                for d in self._listening
                if d.name not in known or known[d.name].updated_at != d.updated_at
            ]
            while new and (again := self.store.sent_events_after(recheck)):
                again = [e for e in again if (e.id or 0) <= cursor]
                if not again:
                    break
                fired += self._events(again, new, triggers, now, advance=False)
                recheck = again[-1].id or cursor
        self._cursor = cursor
        sent = self.store.sent_events_after(cursor)
        if sent:
            fired += self._events(sent, self._listening, triggers, now)
        return fired

    def _events(
        self,
        sent: Sequence[SentEvent],
        deployments: Sequence[DeploymentRecord],
        triggers: dict[str, list[Trigger]],
        now: datetime,
        *,
        advance: bool = True,
    ) -> list[FireRecord]:
        """Fire the deployments listening for ``sent``; with ``advance``, move the
        stored event cursor past them."""
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
        if advance:
            self._cursor = sent[-1].id or self._cursor
            self.store.set_event_cursor(self.holder, self._cursor)
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


class _Lister(threading.Thread):
    """Reads the deployments every ``interval`` seconds (or five times as long as a
    read takes, if longer) until ``stop``; ``take`` hands the newest listing over once,
    and ``ready`` is set while one waits."""

    def __init__(self, store: SchedulingStore, interval: float, stop: threading.Event) -> None:
        super().__init__(name="legato-scheduler-lister", daemon=True)
        self.store = store
        self.interval = interval
        self.stop = stop
        self.ready = threading.Event()
        self._listing: list[DeploymentRecord] | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                listing = self.store.list_deployments()
            except LegatoError as exc:
                log.error("scheduler: the deployments cannot be read: %s", exc)
            else:
                with self._lock:
                    self._listing = listing
                self.ready.set()
            # Reading takes at most a fifth of the time (thousands of deployments).
            self.stop.wait(max(self.interval, 5 * (time.monotonic() - began)))
        self.ready.set()

    def take(self) -> list[DeploymentRecord] | None:
        with self._lock:
            listing, self._listing = self._listing, None
        self.ready.clear()
        return listing


def _changed(old: DeploymentRecord | None, new: DeploymentRecord) -> bool:
    """Whether a round's deployment differs from the last round's in what schedules it."""
    return (
        old is None
        or old.updated_at != new.updated_at
        or old.scheduled_until != new.scheduled_until
        or old.triggers != new.triggers
        or old.created_at != new.created_at
    )


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
