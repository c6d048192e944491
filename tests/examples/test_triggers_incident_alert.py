"""examples/triggers/incident_alert.py: deployed with --on-event monitoring.alert
--filter 'severity == "CRITICAL"', a CRITICAL alert sent with legato.send_event starts
one incident response at the scheduler's tick; a WARNING starts nothing."""

from __future__ import annotations

import json

from triggers_kit import eventually, legato, services, target

from legato import send_event
from legato.scheduler.service import Scheduler
from legato.states import RunState


def test_only_a_critical_alert_starts_the_incident_response(sqlite_store, db_url):
    legato(
        db_url,
        "deploy",
        target("incident_alert"),
        "--name",
        "incidents",
        "--on-event",
        "monitoring.alert",
        "--filter",
        'severity == "CRITICAL"',
    )
    send_event("monitoring.alert", {"severity": "WARNING", "service": "web"})
    send_event(
        "monitoring.alert", {"severity": "CRITICAL", "service": "db-1", "type": "Restartable"}
    )
    scheduler = Scheduler(sqlite_store)
    [fire] = scheduler.tick()
    assert scheduler.tick() == []  # each event is looked at once
    scheduler.close()
    assert fire.kind == "event"
    with services(sqlite_store, scheduler=False):
        run = eventually(
            lambda: (r := sqlite_store.get_run(fire.run_id)) and r.state.is_final and r, "the run"
        )
    assert run.state is RunState.COMPLETED, run.error
    assert json.loads(run.result) == {
        "ticket": "INC-db-1",
        "category": "Database",
        "actions": ["paged DBA_OnCall", "restarted db-1"],
    }
