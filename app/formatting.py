"""Jinja filters for money and dates, through Babel (never formatted by hand)."""

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date
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


def long_date(value: date | datetime) -> str:
    return format_date(value, format="long", locale=LOCALE)


def quantity(value: Decimal) -> str:
    """A quantity without trailing zeros: 12.5000 → 12.5, 10.0000 → 10."""
    return format_decimal(value.normalize(), locale=LOCALE, decimal_quantization=False)


def init_app(app: Flask) -> None:
    app.add_template_filter(quantity, "quantity")
    app.add_template_filter(money, "money")
    app.add_template_filter(long_date, "long_date")
