"""Jinja filters for money and dates, through Babel (never formatted by hand)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime, format_interval
from babel.numbers import format_decimal
from flask import Flask

LOCALE = "en_US"


@lru_cache(maxsize=1)
def _locale() -> Locale:
    return Locale.parse(LOCALE)


@lru_cache(maxsize=8192)
def money(amount: Decimal, currency: str) -> str:
    """`$1,234.50` for USD, `CA$1,234.50` for CAD: Babel's standard currency pattern, with the
    locale parsed once and recent results kept, as an invoice may format 30,000 amounts."""
    locale = _locale()
    return locale.currency_formats["standard"].apply(amount, locale, currency=currency,
                                                     currency_digits=True)


@lru_cache(maxsize=8192)
def unit_price(amount: Decimal, currency: str) -> str:
    """A unit price, to the cent or finer when it has more places: `$12.50`, `$0.0875`."""
    locale = _locale()
    return locale.currency_formats["standard"].apply(amount, locale, currency=currency,
                                                     currency_digits=True,
                                                     decimal_quantization=False)


@lru_cache(maxsize=4096)  # the billing run writes the same few dates on many lines
def medium_date(value: date | datetime) -> str:
    """A date as people read it on every page and PDF: "Nov 1, 2026". Files that programs read
    (CSV, URLs, `<time datetime>`) keep ISO dates."""
    return format_date(value, format="medium", locale=LOCALE)


def utc_datetime(value: datetime) -> str:
    """A moment in UTC, to the minute, as the audit log shows it: "Nov 1, 2026, 2:05 PM UTC"."""
    return format_datetime(value, "MMM d, y, h:mm a 'UTC'", tzinfo=UTC, locale=LOCALE)


def date_range(start: date, end: date) -> str:
    """A period in the same style, without repeating what both ends share (CLDR's interval
    formats): "Nov 1 – 30, 2026", "Nov 15 – Dec 14, 2026", "Dec 15, 2026 – Jan 14, 2027"."""
    return format_interval(start, end, skeleton="yMMMd", locale=LOCALE)


def quantity(value: Decimal) -> str:
    """A quantity without trailing zeros: 12.5000 → 12.5, 10.0000 → 10."""
    return format_decimal(value.normalize(), locale=LOCALE, decimal_quantization=False)


def init_app(app: Flask) -> None:
    app.add_template_filter(quantity, "quantity")
    app.add_template_filter(money, "money")
    app.add_template_filter(medium_date, "medium_date")
    app.add_template_filter(date_range, "date_range")
    app.add_template_filter(utc_datetime, "utc_datetime")
