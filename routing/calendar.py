"""Business time: pure functions over a team's calendar (no database access).

Every SLA duration runs in business time of the owner's team calendar (SPEC §5): a lead
that qualifies at night starts its clock at the next opening. Windows are built in the
team's local time and compared as absolute instants, so a daylight-saving change inside a
working day (or between two working days) is counted in real elapsed time.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field

# A calendar never has more than a few years without any working day; stop scanning after this.
_MAX_SCAN_DAYS = 3 * 366


@functools.lru_cache(maxsize=256)
def _holiday_dates(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=year).keys())


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    work_start: dt.time = dt.time(9, 0)
    work_end: dt.time = dt.time(17, 0)
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    holiday_country: str | None = None
    # Extra closed dates (tests, company days off); merged with the country's public holidays.
    extra_holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def for_team(cls, team) -> BusinessCalendar:
        """The calendar of a team, or the default (Mon-Fri 09:00-17:00 UTC) without one."""
        if team is None:
            return cls()
        return cls(
            timezone=team.timezone or "UTC",
            work_start=_as_time(team.work_start),
            work_end=_as_time(team.work_end),
            work_days=tuple(sorted(int(d) for d in (team.work_days or []))),
            holiday_country=team.holiday_country or None,
        )

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def is_working_day(self, day: dt.date) -> bool:
        if day.weekday() not in self.work_days or day in self.extra_holidays:
            return False
        if self.holiday_country and day in _holiday_dates(self.holiday_country, day.year):
            return False
        return True

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """Opening and closing instants of ``day``, in UTC.

        Built from local wall times, then converted: Python subtracts and compares datetimes that
        share a tzinfo by wall clock, so all arithmetic here is done in UTC to count real time.
        """
        tz = self.tz
        opening = dt.datetime.combine(day, self.work_start, tzinfo=tz).astimezone(dt.UTC)
        closing = dt.datetime.combine(day, self.work_end, tzinfo=tz).astimezone(dt.UTC)
        return opening, closing


def _as_time(value) -> dt.time:
    if isinstance(value, dt.time):
        return value
    return dt.time.fromisoformat(str(value))


def _windows_from(start: dt.datetime, calendar: BusinessCalendar):
    """Yield the working windows ``(open, close)`` that end after ``start``, in order."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if not calendar.work_days or calendar.work_end <= calendar.work_start:
        raise ValueError("calendar has no working time")
    start = start.astimezone(dt.UTC)
    day = start.astimezone(calendar.tz).date()
    for _ in range(_MAX_SCAN_DAYS):
        if calendar.is_working_day(day):
            opening, closing = calendar.window(day)
            if closing > start:
                yield max(opening, start), closing
        day += dt.timedelta(days=1)
    raise ValueError("no working day found within three years")


def next_opening(start: dt.datetime, calendar: BusinessCalendar) -> dt.datetime:
    """``start`` itself when inside working hours, else the next opening instant."""
    opening, _ = next(_windows_from(start, calendar))
    return opening.astimezone(start.tzinfo)


def add_business_time(start: dt.datetime, duration: dt.timedelta | int, calendar: BusinessCalendar) -> dt.datetime:
    """The instant ``duration`` of working time after ``start`` (an int means minutes).

    Time outside working hours, on non-working days and on public holidays does not count;
    a start outside working hours counts from the next opening. A zero duration returns the
    next opening (or ``start`` when inside working hours). The result is in ``start``'s zone.
    """
    remaining = dt.timedelta(minutes=duration) if isinstance(duration, int) else duration
    if remaining < dt.timedelta(0):
        raise ValueError("duration must not be negative")
    for opening, closing in _windows_from(start, calendar):
        available = closing - opening
        if remaining <= available:
            return (opening + remaining).astimezone(start.tzinfo)
        remaining -= available
    raise AssertionError("unreachable")  # pragma: no cover - _windows_from raises first


def business_day_length(calendar: BusinessCalendar) -> dt.timedelta:
    """Working time of one full business day (the local window; a DST change never falls inside it)."""
    day = dt.date(2000, 1, 3)
    return dt.datetime.combine(day, calendar.work_end) - dt.datetime.combine(day, calendar.work_start)


def add_business_days(start: dt.datetime, days: int, calendar: BusinessCalendar) -> dt.datetime:
    """The instant ``days`` whole business days after ``start`` ("within 3 business days").

    Inside working hours it is the same time of day ``days`` working days later (Mon 10:00 + 3 ->
    Thu 10:00, skipping weekends and holidays); outside them the clock starts at the next opening,
    so the deadline is the closing of the ``days``-th working day (Mon 22:00 + 3 -> Thu 17:00).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    return add_business_time(start, business_day_length(calendar) * days, calendar)


def end_of_business_day(start: dt.datetime, calendar: BusinessCalendar) -> dt.datetime:
    """Closing time of the working day on which a clock started at ``start`` runs ("same business day")."""
    _, closing = next(_windows_from(start, calendar))
    return closing.astimezone(start.tzinfo)


def business_minutes_between(start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar) -> float:
    """Working minutes between two instants (0 when ``end`` is not after ``start``)."""
    end = end.astimezone(dt.UTC)
    if end <= start:
        return 0.0
    total = dt.timedelta(0)
    for opening, closing in _windows_from(start, calendar):
        if opening >= end:
            break
        total += min(closing, end) - opening
    return total.total_seconds() / 60
