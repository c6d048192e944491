"""When a deployment fires next: the coming fire times of its schedules (cron, interval).

Other triggers (events, files, webhooks, streams, other flows' runs) fire when their
cause arrives, so they have no time to show.
"""

from __future__ import annotations

from datetime import datetime

from legato.records import DeploymentRecord
from legato.scheduler.cron import Cron, Every
from legato.scheduler.deployments import triggers_of


def next_fire_times(deployment: DeploymentRecord, now: datetime, count: int) -> list[datetime]:
    """The first ``count`` fire times after ``now`` of the deployment's schedules, oldest
    first, a time two schedules share once; empty for a paused deployment (it fires
    nothing until resumed) or one without schedules."""
    if deployment.paused or count <= 0:
        return []
    found: set[datetime] = set()
    for trigger in triggers_of(deployment):
        if isinstance(trigger, Cron | Every):
            at = now
            for _ in range(count):
                at = trigger.next_after(at)
                found.add(at)
    return sorted(found)[:count]
