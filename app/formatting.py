"""Jinja filters for money and dates, through Babel (never formatted by hand)."""

from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from flask import Flask

LOCALE = "en_US"


def money(amount: Decimal, currency: str) -> str:
    """`$1,234.50` for USD, `CA$1,234.50` for CAD."""
    return format_currency(amount, currency, locale=LOCALE)


def long_date(value: date | datetime) -> str:
    return format_date(value, format="long", locale=LOCALE)


def quantity(value: Decimal) -> str:
    """A quantity without trailing zeros: 12.5000 → 12.5, 10.0000 → 10."""
    return format_decimal(value.normalize(), locale=LOCALE, decimal_quantization=False)


def init_app(app: Flask) -> None:
    app.add_template_filter(quantity, "quantity")
    app.add_template_filter(money, "money")
    app.add_template_filter(long_date, "long_date")
