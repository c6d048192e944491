"""Where the active scheduler publishes what its trigger sources are doing, for
``legato deployments show`` in another process on the same machine.

One JSON file per store under a folder (``$LEGATO_HOME/sources``), named after a hash
of the store's URL (password hidden), written whole and renamed into place (readers
never see half a file). The scheduler writes it when a status changes and at least
every ``refresh`` seconds, and empties it when it stops or loses its lease; a reader
that finds it older than ``stale_after`` says so. A scheduler on another machine
publishes on that machine: ``show`` then reports that no local scheduler watches.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from legato.scheduler.sources.status import SourceStatus
from legato.store.urls import redact_url


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceReport:
    """One source of a deployment as ``legato deployments show`` prints it."""

    trigger: str  # the trigger, described (a stream URL with its password hidden)
    status: SourceStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class Published:
    """What a scheduler last published: by whom, when, and the sources by deployment."""

    holder: str
    at: datetime
    deployments: Mapping[str, Sequence[SourceReport]]


class StatusBoard:
    """The status file of the store at ``store_url`` under ``folder``."""

    def __init__(
        self, folder: Path, store_url: str, *, refresh: timedelta = timedelta(seconds=5)
    ) -> None:
        digest = hashlib.sha256(redact_url(store_url).encode()).hexdigest()[:16]
        self.path = folder / f"{digest}.json"
        self.refresh = refresh
        self._last: tuple[str, datetime] | None = None

    def publish(
        self, holder: str, deployments: Mapping[str, Sequence[SourceReport]], now: datetime
    ) -> None:
        """Write the statuses if they changed or ``refresh`` passed since the last write.
        Raises ``OSError`` when the folder cannot be written."""
        body = json.dumps(
            {name: [_report_json(r) for r in reports] for name, reports in deployments.items()},
            sort_keys=True,
        )
        if self._last and self._last[0] == body and now - self._last[1] < self.refresh:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            f'{{"holder": {json.dumps(holder)}, "at": "{now.isoformat()}", "deployments": {body}}}'
        )
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(text, encoding="utf-8")
        partial.replace(self.path)
        self._last = (body, now)

    def read(self) -> Published | None:
        """What was last published, or None (nothing yet, or unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Published(
                holder=str(data["holder"]),
                at=datetime.fromisoformat(data["at"]),
                deployments={
                    name: [_report_of(r) for r in reports]
                    for name, reports in data["deployments"].items()
                },
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _report_json(report: SourceReport) -> dict[str, Any]:
    status = report.status
    return {
        "trigger": report.trigger,
        "state": status.state,
        "since": status.since.isoformat(),
        "last_error": status.last_error,
        "failures": status.failures,
        "detail": status.detail,
    }


def _report_of(data: dict[str, Any]) -> SourceReport:
    return SourceReport(
        trigger=str(data["trigger"]),
        status=SourceStatus(
            state=data["state"],
            since=datetime.fromisoformat(data["since"]),
            last_error=data.get("last_error"),
            failures=int(data.get("failures", 0)),
            detail=str(data.get("detail", "")),
        ),
    )
