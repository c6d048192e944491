"""The seed's scheduled time: a report built every night at 02:00, Paris time.

    legato deploy examples/triggers/nightly_report.py:nightly_report --name nightly \\
        --cron "0 2 * * *" --tz Europe/Paris --catchup one
    legato deployments show nightly                 # the next 5 fire times
    legato deployments backfill nightly --from 2026-03-01T00:00:00+01:00 \\
        --to 2026-03-03T23:59:00+01:00              # one run per missed night, once

Each run reports on the day before its scheduled time (taken from its trigger, not
from the clock, so a backfilled or late run reports on the right day).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from legato import flow, get_run_context, task


@task
def collect(day: str) -> list[int]:
    seed = date.fromisoformat(day).toordinal()
    return [(seed * factor) % 97 for factor in (3, 5, 7)]


@task
def summarize(day: str, figures: list[int]) -> str:
    return f"{day}: {len(figures)} figures, total {sum(figures)}"


@flow
def nightly_report(day: str | None = None) -> str:
    """Report on ``day`` (default: the day before the scheduled time)."""
    if day is None:
        trigger = get_run_context().trigger
        scheduled = (
            datetime.fromisoformat(trigger.payload["scheduled_at"])
            if trigger is not None and "scheduled_at" in (trigger.payload or {})
            else datetime.now().astimezone()
        )
        day = (scheduled.date() - timedelta(days=1)).isoformat()
    return summarize(day, collect(day))
