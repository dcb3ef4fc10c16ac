"""Business time: exact instants across weekends, holidays, DST changes and starts outside hours."""

import datetime as dt

import pytest

from routing.calendar import (
    BusinessCalendar,
    add_business_time,
    business_minutes_between,
    end_of_business_day,
    next_opening,
)

UTC = dt.UTC
NY = BusinessCalendar(timezone="America/New_York", holiday_country="US")
BERLIN = BusinessCalendar(timezone="Europe/Berlin", holiday_country="DE")


def z(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("start, minutes, expected", [
    # inside hours, same day: Tue 10:00 EDT + 4h = 14:00 EDT
    (z(2025, 3, 11, 14, 0), 240, z(2025, 3, 11, 18, 0)),
    # start at night: Tue 03:00 EDT -> clock starts 09:00 EDT, +5 min
    (z(2025, 3, 11, 7, 0), 5, z(2025, 3, 11, 13, 5)),
    # Friday 16:00 EST + 2h crosses the weekend *and* the US DST change (Sun 9 March): Mon 10:00 EDT
    (z(2025, 3, 7, 21, 0), 120, z(2025, 3, 10, 14, 0)),
    # Thursday 16:00 EDT + 4h: Friday 4 July is a US holiday -> Monday 12:00 EDT
    (z(2025, 7, 3, 20, 0), 240, z(2025, 7, 7, 16, 0)),
    # Saturday start: Monday 09:00 + 15 min
    (z(2025, 3, 15, 12, 0), 15, z(2025, 3, 17, 13, 15)),
    # 48 business hours from Wed 15:00 EDT: 2 + 8*5 + 6 -> Thu of the next week 15:00 EDT
    (z(2025, 3, 12, 19, 0), 2880, z(2025, 3, 20, 19, 0)),
    # ending exactly at closing time stays that day
    (z(2025, 3, 11, 18, 0), 180, z(2025, 3, 11, 21, 0)),
    # autumn DST change (Sun 2 Nov): Fri 16:30 EDT + 60 min -> Mon 09:30 EST = 14:30Z
    (z(2025, 10, 31, 20, 30), 60, z(2025, 11, 3, 14, 30)),
])
def test_add_business_time_new_york(start, minutes, expected):
    assert add_business_time(start, minutes, NY) == expected


def test_good_friday_and_easter_monday_are_closed_in_germany():
    # Thu 17 April 2025 16:00 CEST + 2h: Fri 18 (Karfreitag) and Mon 21 (Ostermontag) closed -> Tue 10:00 CEST
    assert add_business_time(z(2025, 4, 17, 14, 0), 120, BERLIN) == z(2025, 4, 22, 8, 0)


def test_dst_change_inside_a_working_window_counts_real_time():
    # Night shift 01:00-05:00 in Berlin on Sun 30 March 2025: clocks jump 02:00 -> 03:00,
    # so the window is 3 real hours (00:00Z-03:00Z). 150 minutes from the opening = 02:30Z.
    night = BusinessCalendar(timezone="Europe/Berlin", work_start=dt.time(1), work_end=dt.time(5),
                             work_days=(6,))
    assert add_business_time(z(2025, 3, 30, 0, 0), 150, night) == z(2025, 3, 30, 2, 30)
    assert business_minutes_between(z(2025, 3, 30, 0, 0), z(2025, 3, 30, 4, 0), night) == 180


def test_zero_duration_is_next_opening_and_inside_hours_is_identity():
    assert add_business_time(z(2025, 3, 11, 23, 0), 0, NY) == z(2025, 3, 12, 13, 0)
    assert next_opening(z(2025, 3, 11, 15, 0), NY) == z(2025, 3, 11, 15, 0)
    assert next_opening(z(2025, 3, 11, 21, 0), NY) == z(2025, 3, 12, 13, 0)  # 17:00 EDT is closed


def test_same_business_day_and_result_keeps_zone():
    assert end_of_business_day(z(2025, 3, 11, 14, 0), NY) == z(2025, 3, 11, 21, 0)
    assert end_of_business_day(z(2025, 3, 8, 14, 0), NY) == z(2025, 3, 10, 21, 0)  # Saturday -> Monday
    start = dt.datetime(2025, 3, 11, 10, 0, tzinfo=NY.tz)
    result = add_business_time(start, 60, NY)
    assert result.tzinfo is start.tzinfo and result.hour == 11


def test_extra_holidays_and_bad_input():
    cal = BusinessCalendar(extra_holidays=frozenset({dt.date(2025, 6, 2)}))
    assert add_business_time(z(2025, 6, 2, 10, 0), 30, cal) == z(2025, 6, 3, 9, 30)
    with pytest.raises(ValueError):
        add_business_time(dt.datetime(2025, 6, 2, 10), 30, cal)
    with pytest.raises(ValueError):
        add_business_time(z(2025, 6, 2, 10), -1, cal)
    with pytest.raises(ValueError):
        add_business_time(z(2025, 6, 2, 10), 1, BusinessCalendar(work_days=()))


@pytest.mark.parametrize("start, days, expected", [
    # inside hours: Mon 10:00 UTC + 3 business days = Thu 10:00
    (z(2025, 6, 2, 10, 0), 3, z(2025, 6, 5, 10, 0)),
    # across a weekend: Thu 10:00 + 5 = next Thu 10:00
    (z(2025, 6, 5, 10, 0), 5, z(2025, 6, 12, 10, 0)),
    # at night the clock starts at the next opening: Mon 22:00 + 3 = Thu closing 17:00
    (z(2025, 6, 2, 22, 0), 3, z(2025, 6, 5, 17, 0)),
    (z(2025, 6, 2, 10, 0), 0, z(2025, 6, 2, 10, 0)),
])
def test_add_business_days_utc(start, days, expected):
    from routing.calendar import add_business_days

    assert add_business_days(start, days, BusinessCalendar()) == expected


def test_add_business_days_skips_holidays_and_crosses_dst():
    from routing.calendar import add_business_days

    # Tue 17 June 2025 10:00 EDT + 3 business days: Thursday 19 June is Juneteenth -> Mon 23 June 10:00 EDT.
    assert add_business_days(z(2025, 6, 17, 14, 0), 3, NY) == z(2025, 6, 23, 14, 0)
    # Fri 7 March 2025 10:00 EST + 1 business day crosses the DST change -> Mon 10 March 10:00 EDT.
    assert add_business_days(z(2025, 3, 7, 15, 0), 1, NY) == z(2025, 3, 10, 14, 0)
    with pytest.raises(ValueError):
        add_business_days(z(2025, 3, 7, 15, 0), -1, NY)
