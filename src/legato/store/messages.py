"""What every store says for the same mistake, so that backends fail alike."""

from __future__ import annotations

from datetime import datetime


def duplicate_run(run_id: str, url: str) -> str:
    return (
        f"a run with id {run_id!r} already exists in {url}; run ids must be unique: "
        "create new ones with legato.ids.new_run_id()."
    )


def unsupported_change(change: object) -> str:
    return (
        f"cannot record a {type(change).__name__}: Store.record() accepts RunRecord, "
        "StepRecord, EventRecord, LogRecord and CacheRecord."
    )


def unencodable(record: object, exc: Exception) -> str:
    """A record whose fields cannot be stored (``exc`` says which problem)."""
    where = getattr(record, "run_id", None) or getattr(record, "cache_key", None)
    text = f"cannot store {type(record).__name__} ({where}): {exc}."
    if "offset-naive" in str(exc):
        text += " Times must be timezone-aware UTC datetimes, such as legato.clock.utcnow()."
    return text


def naive_now(now: datetime) -> str:
    return f"get_cached needs a timezone-aware now, got {now!r}: pass legato.clock.utcnow()."


def closed(what: str) -> str:
    return f"{what} is closed; open a new store with legato.store.open_store()."
