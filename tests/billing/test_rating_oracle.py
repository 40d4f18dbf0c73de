"""Rating checked against an independent cost model, written here and not in app.billing.rating.

The model: a seat subscription costs, for each day of service, quantity × unit price in effect
that day ÷ the days of the month (monthly) or of the annual term (annual) containing the day.
Usage costs the month's metered quantity × the unit price in effect on the month's last day.
A one-time fee costs its amount, once. Over a run of consecutive invoices the lines must add
up to the model's cost of the days those invoices cover, within half a cent per line (each line
is rounded once). Amounts are summed as exact fractions, so the model itself never rounds.
"""

import calendar
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.billing.models import BillingCycle, ChargeModel, ChargeType
from app.billing.rating import Change, OneTimeFee, Period, Terms, rate_period

ONE_DAY = timedelta(days=1)
HALF_CENT = Fraction(1, 200)


# --- the model ------------------------------------------------------------------------------

def anniversary(start: date, years: int) -> date:
    """`start` moved by whole years; 29 February becomes 28 February in a common year."""
    if start.month == 2 and start.day == 29 and not calendar.isleap(start.year + years):
        return date(start.year + years, 2, 28)
    return date(start.year + years, start.month, start.day)


def term_of(start: date, day: date) -> tuple[date, date]:
    """The annual term containing `day`: from the n-th anniversary to the day before the
    (n+1)-th, both counted from the original start date."""
    years = 0
    while anniversary(start, years + 1) <= day:
        years += 1
    return anniversary(start, years), anniversary(start, years + 1) - ONE_DAY


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def in_effect(terms: Terms, day: date) -> tuple[int, Fraction]:
    quantity, price = terms.quantity, Fraction(terms.unit_price)
    for change in sorted(terms.changes, key=lambda c: c.effective_date):
        if change.effective_date <= day:
            quantity, price = change.quantity, Fraction(change.unit_price)
    return quantity, price


def months(first: Period, count: int) -> list[Period]:
    periods, start = [], first.start
    for _ in range(count):
        periods.append(Period.parse(f"{start:%Y-%m}"))
        start = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return periods


def seat_cost(terms: Terms, last_invoice: Period) -> Fraction:
    """The cost of every day the invoices up to `last_invoice` cover."""
    if terms.cycle == BillingCycle.MONTHLY:
        horizon = last_invoice.end  # the last month is billed in advance
    else:
        horizon = term_of(terms.start_date, last_invoice.start)[1]  # its term, in advance
    if terms.end_date is not None:
        horizon = min(horizon, terms.end_date)
    total, day = Fraction(0), terms.start_date
    while day <= horizon:
        quantity, price = in_effect(terms, day)
        if terms.cycle == BillingCycle.MONTHLY:
            length = days_in_month(day)
        else:
            first, last = term_of(terms.start_date, day)
            length = (last - first).days + 1
        total += quantity * price / length
        day += ONE_DAY
    return total


def usage_cost(terms: Terms, periods: list[Period], usage: dict[str, Fraction]) -> Fraction:
    return sum((usage[p.key] * in_effect(terms, p.previous_end)[1] for p in periods),
               Fraction(0))


# --- the strategies -------------------------------------------------------------------------

prices = st.decimals(min_value="0", max_value="999.99", places=2)


@st.composite
def histories(draw):
    """A subscription, a run of consecutive invoices from 2023 to 2030, and the usage and
    one-time fees of those months. Every start, change and end falls inside the months the
    invoices cover in arrears, so the invoices bill all of it."""
    first = Period.parse(draw(st.sampled_from(
        [f"{year}-{month:02d}" for year in range(2023, 2029) for month in range(1, 13)])))
    periods = months(first, draw(st.integers(1, 30)))
    last = periods[-1]
    # After the first day of the first invoice's previous month (that day is billed earlier).
    inside = st.dates(min_value=first.previous_start + ONE_DAY, max_value=last.previous_end)
    start = draw(inside)
    later = st.dates(min_value=start, max_value=last.previous_end)
    change_days = sorted(draw(st.lists(later, max_size=4, unique=True)))
    terms = Terms(
        id=1, end_customer_id=1, end_customer_name="Adatum", name="Seats", sku="SKU",
        charge_model=draw(st.sampled_from([ChargeModel.PER_SEAT, ChargeModel.USAGE])),
        cycle=draw(st.sampled_from(list(BillingCycle))),
        start_date=start, end_date=draw(st.none() | later),
        quantity=draw(st.integers(0, 60)), unit_price=draw(prices),
        changes=tuple(Change(day, draw(st.integers(0, 60)), draw(prices))
                      for day in change_days),
    )
    usage = {p.key: draw(st.decimals(min_value="0", max_value="5000", places=4))
             for p in periods}
    fee_days = st.dates(min_value=first.previous_start - timedelta(days=40),
                        max_value=last.end)
    fees = [OneTimeFee(n, 1, "Adatum", None, "One-time services", f"Fee {n}",
                       draw(st.decimals(min_value="-500", max_value="500", places=2)),
                       draw(fee_days))
            for n in range(draw(st.integers(0, 3)))]
    return terms, periods, usage, fees


def bill(terms, periods, usage, fees):
    """Rate each period in turn, passing the fees not billed yet, as the billing run does."""
    lines, billed_fees = [], set()
    for period in periods:
        due = [f for f in fees if f.id not in billed_fees and f.charge_date <= period.previous_end]
        billed_fees |= {f.id for f in due}
        lines += rate_period([terms], period, {terms.id: usage[period.key]}, due)
    return lines


# --- the properties -------------------------------------------------------------------------

LEAP_DAY_TERM = Terms(
    id=1, end_customer_id=1, end_customer_name="Adatum", name="Seats", sku="SKU",
    charge_model=ChargeModel.PER_SEAT, cycle=BillingCycle.ANNUAL, start_date=date(2024, 2, 29),
    end_date=None, quantity=1, unit_price=Decimal("366.00"),
    changes=(Change(date(2028, 2, 28), 2, Decimal("366.00")),))


@settings(max_examples=300, deadline=None)
@given(history=histories())
@example(history=(LEAP_DAY_TERM, months(Period.parse("2024-03"), 50),
                  {p.key: Decimal(0) for p in months(Period.parse("2024-03"), 50)}, []))
def test_invoices_bill_each_day_of_service_once_at_its_price(history):
    terms, periods, usage, fees = history
    lines = bill(terms, periods, usage, fees)
    seat_lines = [line for line in lines if line.charge_type in (ChargeType.RECURRING,
                                                                 ChargeType.PRORATION)]
    usage_lines = [line for line in lines if line.charge_type == ChargeType.USAGE]
    fee_lines = [line for line in lines if line.charge_type == ChargeType.ONE_TIME]

    # Every line is rounded to the cent once.
    assert all(line.amount == line.amount.quantize(Decimal("0.01"))
               for line in lines)

    if terms.charge_model == ChargeModel.PER_SEAT:
        expected = seat_cost(terms, periods[-1])
        billed = sum((Fraction(line.amount) for line in seat_lines), Fraction(0))
        assert abs(billed - expected) <= HALF_CENT * max(len(seat_lines), 1), (billed, expected)
        assert usage_lines == []
    else:
        assert seat_lines == []
        expected = usage_cost(terms, periods, {k: Fraction(v) for k, v in usage.items()})
        billed = sum((Fraction(line.amount) for line in usage_lines), Fraction(0))
        assert abs(billed - expected) <= HALF_CENT * len(usage_lines), (billed, expected)

    # Each fee dated up to the last invoice's previous month is billed once, at its amount.
    billable = [f for f in fees if f.charge_date <= periods[-1].previous_end]
    assert sorted((line.description, line.amount) for line in fee_lines) == sorted(
        (f.description, f.amount) for f in billable)
