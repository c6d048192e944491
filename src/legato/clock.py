"""Time as legato sees it: aware UTC datetimes, from one place tests can replace."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
