"""Schedules: cron in a time zone with cron's daylight-saving rules, intervals, and
errors that name the field and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from legato.errors import ScheduleError
from legato.scheduler.cron import Cron, Every, parse_duration

PARIS = ZoneInfo("Europe/Paris")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


def test_weekday_mornings_in_paris_come_out_in_utc() -> None:
    cron = Cron("0 9 * * 1-5", tz="Europe/Paris")
    friday_evening = local(2026, 11, 27, 18)
    fires = [cron.next_after(friday_evening)]
    fires.append(cron.next_after(fires[0]))
    assert fires == [local(2026, 11, 30, 9), local(2026, 12, 1, 9)]  # Mon, Tue
    assert all(f.tzinfo is UTC for f in fires)


def test_a_fire_in_the_skipped_hour_happens_once_at_the_shift() -> None:
    cron = Cron("30 2 * * *", tz="Europe/Paris")  # 2026-03-29: 02:00 -> 03:00
    fires = list(cron.between(local(2026, 3, 28, 12), local(2026, 3, 30, 12)))
    assert fires == [local(2026, 3, 29, 3, 0), local(2026, 3, 30, 2, 30)]


def test_a_fixed_time_in_the_repeated_hour_fires_once() -> None:
    cron = Cron("30 2 * * *", tz="Europe/Paris")  # 2026-10-25: 03:00 -> 02:00
    fires = list(cron.between(local(2026, 10, 24, 12), local(2026, 10, 26, 12)))
    assert len(fires) == 2
    assert fires[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time


def test_seconds_come_first_in_six_fields_and_between_includes_both_ends() -> None:
    cron = Cron("*/10 * * * * *")
    start = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    fires = list(cron.between(start, start + timedelta(seconds=30)))
    assert [f.second for f in fires] == [0, 10, 20, 30]


def test_intervals_align_on_the_epoch_and_include_both_ends() -> None:
    every = Every(parse_duration("10m"))
    assert every.next_after(datetime(2026, 1, 1, 9, 3, tzinfo=UTC)) == datetime(
        2026, 1, 1, 9, 10, tzinfo=UTC
    )
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert len(list(every.between(start, start + timedelta(minutes=30)))) == 4


@pytest.mark.parametrize(
    ("expression", "column", "field"),
    [
        ("61 * * * *", 1, "minute"),
        ("0 25 * * *", 3, "hour"),
        ("* * * 13 *", 7, "month"),
        ("0 0 * * mon-xx", 9, "day of week"),
        ("*/0 * * * * *", 1, "second"),
    ],
)
def test_a_bad_field_is_named_with_its_column(expression: str, column: int, field: str) -> None:
    with pytest.raises(ScheduleError) as info:
        Cron(expression)
    assert info.value.column == column
    assert f"the {field} field" in str(info.value)
    assert str(info.value).startswith(f"--cron {expression!r}")


def test_a_wrong_number_of_fields_says_what_to_write() -> None:
    with pytest.raises(ScheduleError, match="has 3 fields; write 5"):
        Cron("* * *")


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        Cron("0 9 * * *", tz="Mars/Olympus")


@pytest.mark.parametrize("text", ["10x", "", "0s", "1h30", "-5m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_duration(text)


def test_durations_combine_units() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
