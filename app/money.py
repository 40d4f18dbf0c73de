"""Money: Decimal amounts, rounded in one place. Never floats; formatting is Babel's (see
app/formatting.py)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_decimal(value: str | int | Decimal) -> Decimal:
    """A Decimal from a string, int or Decimal; floats are refused (they are not exact)."""
    if isinstance(value, float):
        raise TypeError("money is never a float; pass a string")
    return Decimal(value)


def round_money(amount: Decimal) -> Decimal:
    """Round to the cent, half away from zero (`ROUND_HALF_UP`): 1.005 → 1.01, −1.005 → −1.01."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_tax(amount: Decimal, rate: Decimal) -> Decimal:
    """The tax of one invoice line: amount × rate, rounded half-up to the cent."""
    return round_money(amount * rate)
