"""Schedules: cron expressions in a time zone, and fixed intervals.

Cron is evaluated by cronsim (a well-kept library that follows Debian's cron, including
its daylight-saving rules); legato adds the checks and errors a person can act on, and
always hands out aware UTC datetimes.

- 5 fields (``minute hour day month weekday``) or 6 with seconds first
  (``second minute hour day month weekday``).
- Time zones are IANA names (``Europe/Paris``); the default is UTC.
- Daylight saving, as cron does it: a fire time inside the hour the clock skips happens
  once, at the shift; a fixed fire time inside the hour the clock repeats happens once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from legato.errors import ScheduleError

_FIELDS_5 = ("minute", "hour", "day of month", "month", "day of week")
_FIELDS_6 = ("second", *_FIELDS_5)
# cronsim names the bad field in its message ("Bad minute"); map it to our names.
_CRONSIM_NAMES = {
    "second": "second",
    "minute": "minute",
    "hour": "hour",
    "day-of-month": "day of month",
    "month": "month",
    "day-of-week": "day of week",
}


def zone(name: str | None, *, option: str = "--tz") -> tzinfo:
    """The time zone named ``name`` (IANA), UTC for None; ``ScheduleError`` if unknown."""
    if name is None or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            option=option,
            text=name,
            reason="unknown time zone; use an IANA name such as Europe/Paris or America/New_York",
        ) from None


@dataclass(frozen=True, slots=True)
class Cron:
    """A cron schedule in a time zone. ``next_after(t)`` is the first fire strictly after
    ``t``; ``between(a, b)`` every fire in ``[a, b]``, both ends included."""

    expression: str
    tz: str | None = None
    _zone: tzinfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zone(self.tz))
        _check(self.expression)

    def next_after(self, after: datetime) -> datetime:
        return next(self._fires(after))

    def between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Fire times from ``start`` to ``end``, both included, oldest first."""
        for fire in self._fires(start - timedelta(microseconds=1)):
            if fire > end:
                return
            yield fire

    def _fires(self, after: datetime) -> Iterator[datetime]:
        from cronsim import CronSim

        local = _aware(after).astimezone(self._zone)
        for fire in CronSim(self.expression, local):
            yield fire.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Every:
    """A fixed interval, aligned on ``anchor`` (the Unix epoch by default): an interval
    of 10 minutes fires at :00, :10, :20 ..., whatever moment it was created.
    ``interval`` is a timedelta or a duration text (``"30s"``, ``"10m"``, ``"1h"``)."""

    interval: timedelta
    anchor: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def __init__(
        self, interval: timedelta | str, anchor: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    ) -> None:
        if isinstance(interval, str):
            interval = parse_duration(interval)
        object.__setattr__(self, "interval", interval)
        object.__setattr__(self, "anchor", anchor)
        self.__post_init__()

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ScheduleError(
                option="--every", text=str(self.interval), reason="the interval must be positive"
            )

    def next_after(self, after: datetime) -> datetime:
        elapsed = _aware(after) - self.anchor
        return self.anchor + (elapsed // self.interval + 1) * self.interval

    def between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        fire = self.next_after(_aware(start) - timedelta(microseconds=1))
        while fire <= end:
            yield fire
            fire += self.interval


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, option: str = "--every") -> timedelta:
    """``30s``, ``10m``, ``1h``, ``1h30m``, ``2d`` (ms, s, m, h, d, w) as a timedelta."""
    compact = text.strip().lower().replace(" ", "")
    position = 0
    seconds = 0.0
    for match in _DURATION.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not compact or position != len(compact):
        raise ScheduleError(
            option=option,
            text=text,
            reason="not a duration; write a number and a unit: 30s, 10m, 1h, 1h30m, 2d",
            column=position + 1 if compact else None,
        )
    if seconds <= 0:
        raise ScheduleError(option=option, text=text, reason="the interval must be positive")
    return timedelta(seconds=seconds)


def _check(expression: str) -> None:
    """Refuse an expression cronsim cannot evaluate, naming the field and its column."""
    from cronsim import CronSim, CronSimError

    parts = expression.split()
    if len(parts) not in (5, 6):
        raise ScheduleError(
            option="--cron",
            text=expression,
            reason=f"has {len(parts)} fields; write 5 (minute hour day month weekday) or "
            "6 with seconds first, e.g. '0 9 * * 1-5' or '*/10 * * * * *'",
        )
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        names = _FIELDS_6 if len(parts) == 6 else _FIELDS_5
        bad = str(exc).removeprefix("Bad ").strip().lower()
        name = _CRONSIM_NAMES.get(bad, bad)
        index = names.index(name) if name in names else 0
        column = _column_of(expression, index)
        raise ScheduleError(
            option="--cron",
            text=expression,
            reason=f"the {names[index]} field {parts[index]!r} is not valid",
            column=column,
        ) from None


def _column_of(expression: str, index: int) -> int:
    for number, match in enumerate(re.finditer(r"\S+", expression)):
        if number == index:
            return match.start() + 1
    return 1


def _aware(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ScheduleError(
            option="time", text=moment.isoformat(), reason="give an aware datetime (with a zone)"
        )
    return moment
