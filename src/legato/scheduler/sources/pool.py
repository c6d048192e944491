"""The trigger sources the active scheduler runs: one per ``OnFile`` / ``OnStream``
trigger of each deployment that is not paused.

:meth:`SourcePool.sync` keeps them in step with the deployments (starts the sources of
a new or resumed deployment, stops those of a paused or deleted one, restarts them when
its file or stream triggers changed); :meth:`SourcePool.stop_all` stops them all (the
scheduler lost its lease or stops). Each source fires through the pool's ``emit``, which
starts the deployment's run and records the fire in one transaction
(:func:`~legato.scheduler.firing.start_run`). Every file and message starts a run:
the deployment's ``overlap`` policy applies to schedules and events, never to a cause
that would otherwise be lost. :meth:`SourcePool.finish_files` hands the file of each
ended run back to its source, which moves it to its ``processed`` folder.

:meth:`SourcePool.statuses` says what each source is doing (connected, retrying since
when and why, password hidden).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from legato.errors import LegatoError
from legato.records import DeploymentRecord, FireRecord
from legato.scheduler.deployments import triggers_of
from legato.scheduler.firing import start_run
from legato.scheduler.sources.board import SourceReport
from legato.scheduler.sources.registry import BrokenSource, Source, describe_source, source_for
from legato.scheduler.sources.status import Emit
from legato.scheduler.triggers import OnFile, OnStream, trigger_json
from legato.store.deployments import SchedulingStore

log = logging.getLogger("legato.scheduler")

RECENT_FILE_FIRES = 100  # file fires looked at, on start, for runs that ended meanwhile
REBUILD_AFTER = timedelta(seconds=10)  # a source that could not be built is tried again


class DeploymentPaused(LegatoError):
    """A source fired a deployment that was paused or deleted meanwhile: the cause is
    not acknowledged, so a broker keeps the message until the deployment resumes."""


@dataclass(slots=True)
class _Watching:
    signature: str
    sources: list[tuple[str, Source]]
    started_at: datetime

    @property
    def broken(self) -> bool:
        return any(isinstance(source, BrokenSource) for _, source in self.sources)


class SourcePool:
    """The sources of the deployments of ``store``; see the module docstring."""

    def __init__(self, store: SchedulingStore, *, by: str, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.by = by
        self.clock = clock
        self._watching: dict[str, _Watching] = {}
        self._lock = threading.Lock()
        self._files: dict[str, FireRecord] = {}  # run id -> file fire, until its run ends
        # deployment -> (its stored triggers, signature, file and stream triggers)
        self._parsed: dict[str, tuple[str, str, list[OnFile | OnStream]]] = {}

    def sync(self, deployments: Sequence[DeploymentRecord], *, now: datetime) -> None:
        """Start, stop and restart sources so that exactly the file and stream triggers
        of the deployments not paused are watched (a source that could not be built is
        tried again every ``REBUILD_AFTER``)."""
        wanted: dict[str, tuple[str, list[OnFile | OnStream]]] = {}
        names = {d.name for d in deployments}
        self._parsed = {k: v for k, v in self._parsed.items() if k in names}
        for deployment in deployments:
            if deployment.paused:
                continue
            signature, triggers = self._watched(deployment)
            if triggers:
                wanted[deployment.name] = (signature, triggers)
        for name, watching in list(self._watching.items()):
            changed = name not in wanted or wanted[name][0] != watching.signature
            if changed or (watching.broken and now - watching.started_at >= REBUILD_AFTER):
                self._stop(name)
        for name, (signature, triggers) in wanted.items():
            if name not in self._watching:
                self._start(name, signature, triggers, now)

    def _watched(self, deployment: DeploymentRecord) -> tuple[str, list[OnFile | OnStream]]:
        """The deployment's file and stream triggers and their signature, parsed once
        per version of its stored triggers (one scheduler keeps many deployments)."""
        cached = self._parsed.get(deployment.name)
        if cached is not None and cached[0] == deployment.triggers:
            return cached[1], cached[2]
        try:
            triggers = triggers_of(deployment)
        except (LegatoError, KeyError, ValueError):
            triggers = []  # the scheduler logs it at each tick already
        watched = [t for t in triggers if isinstance(t, OnFile | OnStream)]
        signature = json.dumps([trigger_json(t) for t in watched], sort_keys=True)
        self._parsed[deployment.name] = (deployment.triggers, signature, watched)
        return signature, watched

    def stop_all(self) -> None:
        """Stop every source (each finishes the cause it is handling first)."""
        for name in list(self._watching):
            self._stop(name)

    def statuses(self) -> dict[str, list[SourceReport]]:
        """What each watched deployment's sources are doing, by deployment name (safe
        to call from any thread)."""
        with self._lock:
            watching = {name: list(w.sources) for name, w in self._watching.items()}
        return {
            name: [SourceReport(trigger=text, status=s.status) for text, s in sources]
            for name, sources in watching.items()
        }

    def finish_files(self) -> list[str]:
        """Hand each file whose run ended to its source (which moves it to its
        ``processed`` folder when the run completed); the run ids handled."""
        with self._lock:
            pending = dict(self._files)
        done = []
        for run_id, fire in pending.items():
            run = self.store.get_run(run_id)
            if run is not None and not run.state.is_final:
                continue
            done.append(run_id)
            if run is None:
                continue
            for _, source in self._sources_of(fire.deployment):
                finished = getattr(source, "finished", None)
                if finished is None:
                    continue
                try:
                    moved = finished(fire, run.state.value)
                except OSError as exc:
                    log.error("deployment %s: cannot move %s: %s", fire.deployment, fire.key, exc)
                    continue
                if moved is not None:
                    log.info(
                        "deployment %s: moved the file of run %s to %s",
                        fire.deployment,
                        run_id,
                        moved,
                    )
        with self._lock:
            for run_id in done:
                self._files.pop(run_id, None)
        return done

    # -- sources ----------------------------------------------------------------------

    def _moves_files(self, name: str) -> bool:
        return any(
            getattr(source, "processed_dir", None) is not None
            for _, source in self._sources_of(name)
        )

    def _sources_of(self, name: str) -> list[tuple[str, Source]]:
        with self._lock:
            watching = self._watching.get(name)
            return list(watching.sources) if watching else []

    def _start(
        self, name: str, signature: str, triggers: list[OnFile | OnStream], now: datetime
    ) -> None:
        sources: list[tuple[str, Source]] = []
        for trigger in triggers:
            text = describe_source(trigger)
            try:
                source: Source = source_for(trigger, name, self._emit_for(name), clock=self.clock)
            except LegatoError as exc:
                log.error("deployment %s: %s cannot be watched: %s", name, text, exc)
                source = BrokenSource(name, str(exc), clock=self.clock)
            source.start()
            log.info("deployment %s: watching %s", name, text)
            sources.append((text, source))
            if isinstance(trigger, OnFile) and trigger.processed is not None:
                self._recall_files(name)
        with self._lock:
            self._watching[name] = _Watching(signature=signature, sources=sources, started_at=now)

    def _stop(self, name: str) -> None:
        with self._lock:
            watching = self._watching.pop(name)
        for text, source in watching.sources:
            source.stop()
            log.info("deployment %s: stopped watching %s", name, text)

    def _recall_files(self, name: str) -> None:
        """Remember recent file fires (made before a restart) whose file may still wait
        for its run to end."""
        recent = [
            f for f in self.store.list_fires(name, limit=RECENT_FILE_FIRES) if f.kind == "file"
        ]
        with self._lock:
            for fire in recent:
                if fire.run_id:
                    self._files.setdefault(fire.run_id, fire)

    # -- firing -----------------------------------------------------------------------

    def _emit_for(self, name: str) -> Emit:
        def emit(fire: FireRecord) -> str:
            deployment = self.store.get_deployment(name)
            if deployment is None or deployment.paused:
                state = "deleted" if deployment is None else "paused"
                raise DeploymentPaused(
                    f"deployment {name} is {state}: {fire.kind} fire {fire.key} not started"
                )
            run, created = start_run(
                self.store,
                deployment,
                key=fire.key,
                kind=fire.kind,
                fired_at=fire.fired_at,
                payload=json.loads(fire.payload),
                by=self.by,
                now=self.clock(),
            )
            if created:
                log.info("fired %s (%s %s): run %s", name, fire.kind, fire.key, run.run_id)
            if fire.kind == "file" and self._moves_files(name):
                with self._lock:
                    self._files[run.run_id] = replace(fire, run_id=run.run_id)
            return run.run_id

        return emit
