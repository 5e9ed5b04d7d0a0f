"""EventBridge Scheduler schedule expressions: parsing and next-fire-time computation.

Pure functions, no moto: the launcher's scheduler thread and its debug endpoint both use them,
so a test of the debug endpoint tests the times the scheduler fires at.

Semantics follow the EventBridge Scheduler user guide ("Schedule types"):

- ``rate(value unit)``: unit minute(s), hour(s) or day(s). The first invocation is at
  ``StartDate`` when given, otherwise as soon as the schedule is created or enabled (the
  *anchor*); then every ``value unit`` after it.
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields, evaluated in
  ``ScheduleExpressionTimezone``. One of day-of-month and day-of-week must be ``?``.
  Wildcards ``, - * / ? L W #``; month names JAN-DEC; weekdays 1-7 = SUN-SAT or names.
  Daylight saving: a local time that does not exist (spring forward) is skipped, a local time
  that occurs twice (fall back) fires once, at its first occurrence.
- ``at(yyyy-mm-ddThh:mm:ss)``: once, at that local time in the timezone. ``StartDate`` and
  ``EndDate`` do not apply.

Recurring schedules fire only within [StartDate, EndDate]. Real AWS invokes within the minute
of a fire time (60 s precision); these functions give the exact start of that minute.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "AtExpression",
    "CronExpression",
    "InvalidExpression",
    "RateExpression",
    "ScheduleExpression",
    "next_fire_after",
    "parse_expression",
    "parse_timezone",
]

#: The last year a cron expression may name (the AWS limit); the search stops there.
MAX_CRON_YEAR = 2199
MIN_CRON_YEAR = 1970

_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_WEEKDAYS = {
    name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
}
_RATE_UNITS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}


class InvalidExpression(ValueError):
    """A schedule expression or time zone that EventBridge Scheduler would reject."""


@dataclass(frozen=True)
class RateExpression:
    """``rate(value unit)``: every ``interval`` from an anchor time."""

    interval: timedelta


@dataclass(frozen=True)
class AtExpression:
    """``at(...)``: one local, naive wall-clock time."""

    local_time: datetime


@dataclass(frozen=True)
class _DayOfMonthRule:
    """The day-of-month field: plain days plus the L and W wildcards."""

    days: frozenset[int]
    last_day: bool = False
    last_weekday: bool = False
    nearest_weekday: frozenset[int] = frozenset()

    def matching_days(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        result = {d for d in self.days if d <= length}
        if self.last_day:
            result.add(length)
        if self.last_weekday:
            result.add(_nearest_weekday(year, month, length))
        for day in self.nearest_weekday:
            if day <= length:
                result.add(_nearest_weekday(year, month, day))
        return result


@dataclass(frozen=True)
class _DayOfWeekRule:
    """The day-of-week field: weekdays (1 = SUN) plus ``NL`` and ``N#k``."""

    weekdays: frozenset[int]
    last_of: frozenset[int] = frozenset()
    nth_of: frozenset[tuple[int, int]] = frozenset()

    def matching_days(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        result: set[int] = set()
        for day in range(1, length + 1):
            weekday = _eb_weekday(year, month, day)
            if weekday in self.weekdays:
                result.add(day)
            if weekday in self.last_of and day + 7 > length:
                result.add(day)
            if (weekday, (day - 1) // 7 + 1) in self.nth_of:
                result.add(day)
        return result


@dataclass(frozen=True)
class CronExpression:
    """``cron(...)``: the allowed values of each field, days as a rule."""

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    days: _DayOfMonthRule | _DayOfWeekRule

    def local_times_from(self, start: datetime) -> Iterator[datetime]:
        """Yields the naive local times that match, in order, from ``start`` (inclusive)."""
        start = start.replace(second=0, microsecond=0)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in sorted(self.days.matching_days(year, month)):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    for hour in sorted(self.hours):
                        for minute in sorted(self.minutes):
                            candidate = datetime(year, month, day, hour, minute)
                            if candidate >= start:
                                yield candidate


ScheduleExpression = RateExpression | CronExpression | AtExpression


def parse_timezone(name: str | None) -> tzinfo:
    """Resolves a ScheduleExpressionTimezone (an IANA name; UTC when absent)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidExpression(f"Invalid ScheduleExpressionTimezone: {name}") from err


def parse_expression(expression: str) -> ScheduleExpression:
    """Parses a rate(), cron() or at() expression, raising InvalidExpression when invalid."""
    match = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression or "")
    if not match:
        raise InvalidExpression(f"Invalid Schedule Expression {expression}.")
    kind, body = match.group(1), match.group(2).strip()
    try:
        if kind == "rate":
            return _parse_rate(body)
        if kind == "at":
            return _parse_at(body)
        return _parse_cron(body)
    except InvalidExpression as err:
        raise InvalidExpression(f"Invalid Schedule Expression {expression}.") from err


def next_fire_after(
    expression: ScheduleExpression,
    tz: tzinfo,
    after: datetime,
    *,
    anchor: datetime | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> datetime | None:
    """The first fire time strictly after ``after`` (aware, UTC), or None if there is none.

    ``anchor`` is when a rate schedule without StartDate started (created or enabled).
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")

    if isinstance(expression, AtExpression):
        fire = _to_utc(expression.local_time, tz)
        return fire if fire is not None and fire > after else None

    window_start = start_date
    if window_start is not None and window_start > after:
        after = window_start - timedelta(microseconds=1)

    if isinstance(expression, RateExpression):
        first = start_date or anchor
        if first is None:
            raise ValueError("a rate schedule needs an anchor or a start date")
        if after < first:
            fire = first
        else:
            steps = (after - first) // expression.interval + 1
            fire = first + steps * expression.interval
    else:
        fire = _next_cron(expression, tz, after)

    if fire is None or (end_date is not None and fire > end_date):
        return None
    return fire


def _parse_rate(body: str) -> RateExpression:
    match = re.fullmatch(r"(\d+)\s+([a-z]+)", body)
    if not match or match.group(2) not in _RATE_UNITS:
        raise InvalidExpression(body)
    value = int(match.group(1))
    if value < 1:
        raise InvalidExpression(body)
    return RateExpression(interval=timedelta(seconds=value * _RATE_UNITS[match.group(2)]))


def _parse_at(body: str) -> AtExpression:
    try:
        local_time = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError as err:
        raise InvalidExpression(body) from err
    return AtExpression(local_time=local_time)


def _parse_cron(body: str) -> CronExpression:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidExpression(body)
    minute, hour, day_of_month, month, day_of_week, year = (f.upper() for f in fields)

    if (day_of_month == "?") == (day_of_week == "?"):
        # One of the two must be "?", never both and never neither.
        raise InvalidExpression(body)
    days: _DayOfMonthRule | _DayOfWeekRule
    if day_of_week == "?":
        days = _parse_day_of_month(day_of_month)
    else:
        days = _parse_day_of_week(day_of_week)

    return CronExpression(
        minutes=_parse_field(minute, 0, 59),
        hours=_parse_field(hour, 0, 23),
        months=_parse_field(month, 1, 12, _MONTHS),
        years=_parse_field(year, MIN_CRON_YEAR, MAX_CRON_YEAR),
        days=days,
    )


def _parse_field(
    text: str, low: int, high: int, names: dict[str, int] | None = None
) -> frozenset[int]:
    """A plain field: comma-separated ``*``, ``N``, ``A-B``, each optionally ``/step``."""
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, low, high, names or {}, wrap=False)
    return frozenset(values)


def _parse_item(item: str, low: int, high: int, names: dict[str, int], *, wrap: bool) -> set[int]:
    base, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) < 1:
            raise InvalidExpression(item)
        step = int(step_text)

    if base == "*":
        first, last = low, high
    elif "-" in base:
        first_text, last_text = base.split("-", 1)
        first, last = _value(first_text, low, high, names), _value(last_text, low, high, names)
    else:
        first = _value(base, low, high, names)
        # "5/15" means from 5 to the end of the range in steps of 15.
        last = high if step_text else first

    if first <= last:
        return set(range(first, last + 1, step))
    if not wrap:
        raise InvalidExpression(item)
    # A wrapping range such as FRI-MON runs to the end and starts again at the beginning.
    span = list(range(first, high + 1)) + list(range(low, last + 1))
    return set(span[::step])


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise InvalidExpression(text)
    value = int(text)
    if not low <= value <= high:
        raise InvalidExpression(text)
    return value


def _parse_day_of_month(text: str) -> _DayOfMonthRule:
    days: set[int] = set()
    nearest: set[int] = set()
    last_day = last_weekday = False
    for item in text.split(","):
        if item == "L":
            last_day = True
        elif item == "LW":
            last_weekday = True
        elif re.fullmatch(r"\d+W", item):
            nearest.add(_value(item[:-1], 1, 31, {}))
        else:
            days |= _parse_item(item, 1, 31, {}, wrap=False)
    return _DayOfMonthRule(
        days=frozenset(days),
        last_day=last_day,
        last_weekday=last_weekday,
        nearest_weekday=frozenset(nearest),
    )


def _parse_day_of_week(text: str) -> _DayOfWeekRule:
    weekdays: set[int] = set()
    last_of: set[int] = set()
    nth_of: set[tuple[int, int]] = set()
    for item in text.split(","):
        if item == "L":
            # L alone is the last day of the week: Saturday.
            weekdays.add(7)
        elif item.endswith("L"):
            last_of.add(_value(item[:-1], 1, 7, _WEEKDAYS))
        elif "#" in item:
            day_text, _, nth_text = item.partition("#")
            if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
                raise InvalidExpression(item)
            nth_of.add((_value(day_text, 1, 7, _WEEKDAYS), int(nth_text)))
        else:
            weekdays |= _parse_item(item, 1, 7, _WEEKDAYS, wrap=True)
    return _DayOfWeekRule(
        weekdays=frozenset(weekdays), last_of=frozenset(last_of), nth_of=frozenset(nth_of)
    )


def _eb_weekday(year: int, month: int, day: int) -> int:
    """EventBridge numbering: 1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (Mon-Fri) nearest to ``day``, staying inside the month (the W wildcard)."""
    length = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, day)  # 0 = Monday
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < length else day - 2
    return day


def _to_utc(local: datetime, tz: tzinfo) -> datetime | None:
    """The UTC instant of a naive local time, or None if DST skips that local time."""
    aware = local.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local:
        return None
    return utc


def _next_cron(expression: CronExpression, tz: tzinfo, after: datetime) -> datetime | None:
    # Start an hour early in local time: in a repeated hour the local clock runs backwards, and
    # the UTC comparison below decides what really lies after ``after``.
    start = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=1)
    for local in expression.local_times_from(start):
        fire = _to_utc(local, tz)
        if fire is not None and fire > after:
            return fire
    return None
