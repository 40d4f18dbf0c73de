"""Rating rules, on subscriptions built in memory (no database)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.billing.models import BillingCycle, ChargeModel, ChargeType
from app.billing.rating import Change, OneTimeFee, Period, Terms, rate_period
from app.money import line_tax, round_money

NOV = Period.parse("2026-11")  # previous month: October, 31 days


def seat(**fields) -> Terms:
    values = dict(
        id=1, end_customer_id=1, end_customer_name="Adatum", name="Microsoft 365 E3",
        sku="M365-E3", charge_model=ChargeModel.PER_SEAT, cycle=BillingCycle.MONTHLY,
        start_date=date(2026, 1, 1), end_date=None, quantity=10, unit_price=Decimal("36.00"),
    )
    values.update(fields)
    return Terms(**values)


def amounts(lines):
    return [(line.charge_type, line.amount) for line in lines]


def test_period_parsing():
    assert (NOV.start, NOV.end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (NOV.previous_start, NOV.previous_end, NOV.previous_days) == (
        date(2026, 10, 1), date(2026, 10, 31), 31)
    for bad in ("2026-13", "26-1", "2026/11", "", "2026-11-01"):
        with pytest.raises(ValueError, match="not a period"):
            Period.parse(bad)


def test_monthly_recurring_in_advance():
    [line] = rate_period([seat()], NOV, {}, [])
    assert (line.charge_type, line.quantity, line.amount) == (
        ChargeType.RECURRING, 10, Decimal("360.00"))
    assert (line.service_start, line.service_end) == (NOV.start, NOV.end)


def test_mid_month_start_is_prorated_daily_in_arrears():
    terms = seat(start_date=date(2026, 10, 22), quantity=3, unit_price=Decimal("12.50"))
    lines = rate_period([terms], NOV, {}, [])
    # 10 days (22–31) of 31: 3 × 12.50 × 10/31 = 12.0967… → 12.10
    assert amounts(lines) == [(ChargeType.RECURRING, Decimal("37.50")),
                              (ChargeType.PRORATION, Decimal("12.10"))]


def test_quantity_change_prorates_the_difference():
    terms = seat(changes=(Change(date(2026, 10, 16), 12, Decimal("36.00")),))
    lines = rate_period([terms], NOV, {}, [])
    # +2 seats × 36 × 16/31 days = 37.161… → 37.16; November bills the new 12 seats.
    assert amounts(lines) == [(ChargeType.RECURRING, Decimal("432.00")),
                              (ChargeType.PRORATION, Decimal("37.16"))]
    assert lines[1].quantity == 2


def test_cancellation_credits_the_unused_days():
    terms = seat(end_date=date(2026, 10, 20))
    lines = rate_period([terms], NOV, {}, [])
    # Not active on November 1; credit 11 days (21–31): −10 × 36 × 11/31 = −127.74
    assert amounts(lines) == [(ChargeType.PRORATION, Decimal("-127.74"))]


def test_annual_term_is_charged_whole_on_the_first_invoice_after_it_starts():
    terms = seat(cycle=BillingCycle.ANNUAL, start_date=date(2025, 10, 15),
                 unit_price=Decimal("300.00"), quantity=2)
    [line] = rate_period([terms], NOV, {}, [])
    assert (line.amount, line.service_start, line.service_end) == (
        Decimal("600.00"), date(2026, 10, 15), date(2027, 10, 14))
    assert rate_period([terms], Period.parse("2026-12"), {}, []) == []


def test_annual_mid_term_change_prorates_over_the_term():
    terms = seat(cycle=BillingCycle.ANNUAL, start_date=date(2026, 1, 1), quantity=2,
                 unit_price=Decimal("365.00"),
                 changes=(Change(date(2026, 10, 1), 3, Decimal("365.00")),))
    [line] = rate_period([terms], NOV, {}, [])
    # +1 × 365 × 92 days (Oct 1 – Dec 31) / 365 = 92.00
    assert (line.charge_type, line.amount) == (ChargeType.PRORATION, Decimal("92.00"))


def test_usage_of_the_previous_month():
    terms = seat(charge_model=ChargeModel.USAGE, unit_price=Decimal("0.0875"), quantity=0)
    [line] = rate_period([terms], NOV, {1: Decimal("1234.5678")}, [])
    assert (line.charge_type, line.quantity, line.amount) == (
        ChargeType.USAGE, Decimal("1234.5678"), Decimal("108.02"))


def test_one_time_fee():
    fee = OneTimeFee(7, 1, "Adatum", None, "One-time services", "Migration", Decimal("250.00"),
                     date(2026, 10, 3))
    [line] = rate_period([], NOV, {}, [fee])
    assert (line.charge_type, line.amount) == (ChargeType.ONE_TIME, Decimal("250.00"))


def test_lines_are_grouped_by_end_customer_then_subscription_then_charge_type():
    a = seat(id=1, end_customer_name="Zeta", name="Backup")
    b = seat(id=2, end_customer_name="Alpha", name="Security",
             changes=(Change(date(2026, 10, 10), 11, Decimal("36.00")),))
    c = seat(id=3, end_customer_name="Alpha", name="Azure", charge_model=ChargeModel.USAGE)
    lines = rate_period([a, b, c], NOV, {3: Decimal("10")}, [])
    assert [(x.end_customer_name, x.subscription_name, x.charge_type) for x in lines] == [
        ("Alpha", "Azure", ChargeType.USAGE),
        ("Alpha", "Security", ChargeType.RECURRING),
        ("Alpha", "Security", ChargeType.PRORATION),
        ("Zeta", "Backup", ChargeType.RECURRING),
    ]


def test_the_worked_example_of_the_invoice_article():
    """`what-will-my-invoice-look-like`: a WA account at 10.1 %."""
    rate = Decimal("0.101")
    amounts_ = [Decimal("150.00"), Decimal("83.27"), Decimal("12.50")]
    taxes = [line_tax(a, rate) for a in amounts_]
    assert taxes == [Decimal("15.15"), Decimal("8.41"), Decimal("1.26")]
    assert sum(amounts_) == Decimal("245.77")
    assert sum(taxes) == Decimal("24.82")
    assert sum(amounts_) + sum(taxes) == Decimal("270.59")


# --- properties -------------------------------------------------------------------------

money = st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.25"), places=5)


@given(amount=money, rate=rates)
def test_line_tax_is_rounded_half_up_to_the_cent(amount, rate):
    tax = line_tax(amount, rate)
    assert tax == tax.quantize(Decimal("0.01"))
    assert abs(tax - amount * rate) <= Decimal("0.005")


@given(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=3))
def test_round_money_is_half_away_from_zero(value):
    assert round_money(-value) == -round_money(value)


@st.composite
def subscriptions(draw):
    start = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 1)))
    end = draw(st.none() | st.dates(min_value=start, max_value=date(2027, 1, 1)))
    change_days = draw(st.lists(st.dates(min_value=start, max_value=date(2026, 11, 1)),
                                max_size=3, unique=True))
    return seat(
        id=draw(st.integers(1, 10**6)),
        end_customer_name=draw(st.sampled_from(["Adatum", "Fabrikam", "Contoso"])),
        cycle=draw(st.sampled_from(list(BillingCycle))),
        charge_model=draw(st.sampled_from([ChargeModel.PER_SEAT, ChargeModel.USAGE])),
        start_date=start, end_date=end,
        quantity=draw(st.integers(0, 500)),
        unit_price=draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("999"), places=2)),
        changes=tuple(Change(day, draw(st.integers(0, 500)),
                             draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("999"),
                                              places=2)))
                      for day in sorted(change_days)),
    )


@settings(max_examples=200, deadline=None)
@given(subs=st.lists(subscriptions(), max_size=6), rate=rates,
       usage=st.decimals(min_value=Decimal("0"), max_value=Decimal("99999"), places=4))
def test_lines_plus_tax_equal_the_total(subs, rate, usage):
    lines = rate_period(subs, NOV, {s.id: usage for s in subs}, [])
    taxes = [line_tax(line.amount, rate) for line in lines]
    subtotal = sum((line.amount for line in lines), Decimal("0"))
    tax = sum(taxes, Decimal("0"))
    assert all(line.amount == round_money(line.amount) for line in lines)
    per_line = (line.amount + t for line, t in zip(lines, taxes, strict=True))
    assert subtotal + tax == sum(per_line, Decimal(0))
    assert abs(tax - subtotal * rate) <= Decimal("0.005") * len(lines)


MONTHS = [Period.parse(f"2026-{month:02d}") for month in range(1, 13)]


@st.composite
def monthly_histories(draw):
    """A monthly subscription whose every change falls inside 2026 before December."""
    days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 11, 30))
    start = draw(days)
    change_days = sorted(draw(st.lists(days.filter(lambda d: d > start), max_size=4,
                                       unique=True)))
    end = draw(st.none() | days.filter(lambda d: d >= start))
    prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=2)
    return seat(
        start_date=start,
        end_date=end,
        quantity=draw(st.integers(0, 50)),
        unit_price=draw(prices),
        changes=tuple(Change(day, draw(st.integers(0, 50)), draw(prices))
                      for day in change_days),
    )


@settings(max_examples=300, deadline=None)
@given(terms=monthly_histories())
def test_a_year_of_invoices_bills_each_day_exactly_once(terms):
    """Advance charges plus arrears prorations add up to the day-by-day cost of the service,
    within half a cent per line: nothing billed twice, nothing missed."""
    lines = [line for period in MONTHS for line in rate_period([terms], period, {}, [])]
    expected = Decimal(0)
    day = terms.start_date
    last = min(terms.end_date or MONTHS[-1].end, MONTHS[-1].end)
    while day <= last:
        quantity, price = terms.on(day)
        month_days = Period.parse(f"{day:%Y-%m}").end.day
        expected += quantity * price / month_days
        day += timedelta(days=1)
    billed = sum((line.amount for line in lines), Decimal(0))
    assert abs(billed - expected) <= Decimal("0.005") * max(len(lines), 1) + Decimal("0.0001")


@settings(max_examples=200, deadline=None)
@given(subs=st.lists(subscriptions(), max_size=6))
def test_rating_is_deterministic_and_order_free(subs):
    forward = rate_period(subs, NOV, {}, [])
    backward = rate_period(list(reversed(subs)), NOV, {}, [])
    assert sorted(map(repr, forward)) == sorted(map(repr, backward))
