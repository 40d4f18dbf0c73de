"""Business-day arithmetic for ACH settlement, against a day-by-day count."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.payments.gateways.business_days import add_business_days, is_business_day


def count_forward(day: date, days: int) -> date:
    """The oracle: walk one calendar day at a time, counting Mondays to Fridays."""
    while days > 0:
        day += timedelta(days=1)
        if day.isoweekday() <= 5:
            days -= 1
    return day


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 20), 3, date(2026, 11, 25)),  # Friday → Wednesday, over the weekend
        (date(2026, 11, 23), 3, date(2026, 11, 26)),  # Monday → Thursday
        (date(2026, 11, 25), 3, date(2026, 11, 30)),  # Wednesday → Monday
        (date(2026, 11, 21), 1, date(2026, 11, 23)),  # Saturday → Monday
        (date(2026, 11, 22), 3, date(2026, 11, 25)),  # Sunday → Wednesday
        (date(2026, 11, 22), 0, date(2026, 11, 22)),  # no days: stay, even at a weekend
        (date(2026, 11, 23), 5, date(2026, 11, 30)),  # a whole week
        (date(2026, 12, 31), 1, date(2027, 1, 1)),  # across a year (holidays are not skipped)
    ],
)
def test_add_business_days(start, days, expected):
    assert add_business_days(start, days) == expected


def test_business_days_are_monday_to_friday():
    week = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]
    assert [is_business_day(day) for day in week] == [True] * 5 + [False] * 2


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        add_business_days(date(2026, 11, 20), -1)


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    days=st.integers(min_value=0, max_value=400),
)
def test_add_business_days_matches_a_day_by_day_count(start, days):
    result = add_business_days(start, days)
    assert result == count_forward(start, days)
    if days:
        assert is_business_day(result)
