"""examples/triggers/nightly_report.py: deployed with --cron "0 2 * * *" --tz, a
backfill over three nights makes one run per night (once, however often it is
repeated), each reporting on the day before its scheduled time."""

from __future__ import annotations

import json

from triggers_kit import eventually, legato, services, target

from legato.states import RunState


def test_a_backfilled_nightly_schedule_reports_on_each_previous_day(sqlite_store, db_url):
    legato(
        db_url,
        "deploy",
        target("nightly_report"),
        "--name",
        "nightly",
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Paris",
    )
    shown = legato(db_url, "deployments", "show", "nightly")
    assert "cron '0 2 * * *' (Europe/Paris)" in shown
    window = ("--from", "2026-03-01T00:00:00+01:00", "--to", "2026-03-03T23:59:00+01:00")
    legato(db_url, "deployments", "backfill", "nightly", *window)
    legato(db_url, "deployments", "backfill", "nightly", *window)  # repeated: nothing new
    fires = sqlite_store.list_fires("nightly")
    assert sorted(f.fired_at.isoformat() for f in fires) == [
        "2026-03-01T01:00:00+00:00",  # 02:00 in Paris (CET)
        "2026-03-02T01:00:00+00:00",
        "2026-03-03T01:00:00+00:00",
    ]
    with services(sqlite_store, scheduler=False):
        runs = eventually(
            lambda: (
                all(
                    (sqlite_store.get_run(f.run_id) or fires[0]).state is RunState.COMPLETED
                    for f in fires
                )
                and [sqlite_store.get_run(f.run_id) for f in fires]
            ),
            "the three reports",
        )
    reports = sorted(json.loads(r.result) for r in runs)
    assert [r.split(":")[0] for r in reports] == ["2026-02-28", "2026-03-01", "2026-03-02"]
