"""Dates as people read them: one medium style everywhere, periods without repeated parts."""

from datetime import UTC, date, datetime

import pytest

from app.formatting import date_range, medium_date

THIN = "\u2009"  # CLDR puts thin spaces around the en dash of an interval


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (date(2026, 11, 1), "Nov 1, 2026"),
        (date(2027, 1, 14), "Jan 14, 2027"),
        (datetime(2026, 5, 9, 23, 59, tzinfo=UTC), "May 9, 2026"),
    ],
)
def test_medium_date(value, text):
    assert medium_date(value) == text


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2026, 11, 1), date(2026, 11, 30), "Nov 1 – 30, 2026"),
        (date(2026, 11, 15), date(2026, 12, 14), "Nov 15 – Dec 14, 2026"),
        (date(2026, 12, 15), date(2027, 1, 14), "Dec 15, 2026 – Jan 14, 2027"),
        (date(2026, 2, 10), date(2026, 2, 10), "Feb 10, 2026"),
    ],
)
def test_date_range_leaves_out_what_both_ends_share(start, end, text):
    assert date_range(start, end) == text.replace(" – ", f"{THIN}–{THIN}")
