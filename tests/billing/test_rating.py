"""Rating rules, on subscriptions built in memory (no database)."""

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.billing.models import BillingCycle, ChargeModel, ChargeType
from app.billing.rating import Change, OneTimeFee, Period, Terms, rate_period
from app.money import line_tax, round_money, to_decimal

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


# --- rounding: exact half-cent ties (half-even or half-down would fail here) ---------------

@pytest.mark.parametrize(("value", "expected"), [
    ("0.005", "0.01"),      # half-even and half-down give 0.00
    ("0.015", "0.02"),
    ("0.025", "0.03"),      # half-even gives 0.02
    ("1.005", "1.01"),      # the docstring's example
    ("2.675", "2.68"),
    ("-0.005", "-0.01"),    # away from zero, not towards +infinity
    ("-1.005", "-1.01"),
    ("-0.025", "-0.03"),
    ("0.0049999", "0.00"),  # below the tie: down (round-up or ceiling give 0.01)
    ("-0.0049999", "0.00"),  # floor gives -0.01
    ("12.0967741935", "12.10"),  # the article's proration, 3 × 12.50 × 10 ÷ 31
    ("7", "7.00"),
])
def test_round_money_rounds_half_away_from_zero(value, expected):
    rounded = round_money(Decimal(value))
    assert rounded == Decimal(expected)
    assert rounded.as_tuple().exponent == -2  # always to the cent


@pytest.mark.parametrize(("amount", "rate", "expected"), [
    ("150.00", "0.101", "15.15"),  # the article's worked example, line 1
    ("83.27", "0.101", "8.41"),    # 8.41027, line 2
    ("12.50", "0.101", "1.26"),    # 1.2625, line 3
    ("25.00", "0.101", "2.53"),    # 2.525: the article's "rounds up" example
    ("-25.00", "0.101", "-2.53"),  # a credit's tax rounds away from zero too
    ("0.05", "0.1", "0.01"),       # 0.005
    ("0.25", "0.1", "0.03"),       # 0.025: half-even gives 0.02
    ("45.00", "0.13", "5.85"),
    ("10.00", "0", "0.00"),
])
def test_line_tax_table(amount, rate, expected):
    assert line_tax(Decimal(amount), Decimal(rate)) == Decimal(expected)


def test_to_decimal_refuses_floats():
    assert to_decimal("12.50") == Decimal("12.50")
    assert to_decimal(3) == Decimal(3)
    with pytest.raises(TypeError, match="^money is never a float; pass a string$"):
        to_decimal(12.5)


def half_up_to_the_cent(value: Fraction) -> Decimal:
    """The oracle: cents = floor(|x| × 100 + ½), with the sign of x."""
    cents = math.floor(abs(value) * 100 + Fraction(1, 2))
    return Decimal(cents if value >= 0 else -cents).scaleb(-2)


money = st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.25"), places=5)


@given(amount=money, rate=rates)
@example(amount=Decimal("25.00"), rate=Decimal("0.101"))
@example(amount=Decimal("-0.25"), rate=Decimal("0.1"))
def test_line_tax_is_rounded_half_up_to_the_cent(amount, rate):
    assert line_tax(amount, rate) == half_up_to_the_cent(Fraction(amount) * Fraction(rate))


@given(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=4))
@example(Decimal("0.0050"))
@example(Decimal("-2.6750"))
def test_round_money_is_half_away_from_zero(value):
    assert round_money(value) == half_up_to_the_cent(Fraction(value))
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
def test_lines_and_their_tax_are_rounded_once_to_the_cent(subs, rate, usage):
    """Every line amount is to the cent and its tax is rounded half-up on the line (the sums are
    checked against an independent model in test_rating_oracle.py)."""
    lines = rate_period(subs, NOV, {s.id: usage for s in subs}, [])
    for line in lines:
        assert line.amount.as_tuple().exponent == -2
        assert line_tax(line.amount, rate) == half_up_to_the_cent(
            Fraction(line.amount) * Fraction(rate))


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
@given(subs=st.lists(subscriptions(), max_size=6, unique_by=lambda terms: terms.id))
def test_rating_is_deterministic_and_order_free(subs):
    """The same subscriptions in any order give the same lines in the same order."""
    forward = rate_period(subs, NOV, {}, [])
    assert rate_period(list(reversed(subs)), NOV, {}, []) == forward
    assert rate_period(subs, NOV, {}, []) == forward
    keys = [(line.end_customer_name, line.subscription_name, line.subscription_id)
            for line in forward]
    assert keys == sorted(keys, key=lambda key: (key[0].lower(), key[1].lower(), key[2]))


# --- edges, as tables of hand-worked cases ---------------------------------------------------

def cents(lines):
    return [(line.charge_type, line.amount, line.service_start, line.service_end)
            for line in lines]


R, P = ChargeType.RECURRING, ChargeType.PRORATION
OCT1, OCT31 = date(2026, 10, 1), date(2026, 10, 31)
NOV1, NOV30 = date(2026, 11, 1), date(2026, 11, 30)


@pytest.mark.parametrize(("fields", "expected"), [
    # 10 seats × 36.00 a month; the November invoice; October has 31 days.
    ({}, [(R, Decimal("360.00"), NOV1, NOV30)]),
    # Started on October 1: October's own invoice billed it in advance; no proration now.
    ({"start_date": OCT1}, [(R, Decimal("360.00"), NOV1, NOV30)]),
    # Started on October 2: 30 of 31 days, 10 × 36 × 30 ÷ 31 = 348.387… → 348.39
    ({"start_date": date(2026, 10, 2)}, [(R, Decimal("360.00"), NOV1, NOV30),
                                          (P, Decimal("348.39"), date(2026, 10, 2), OCT31)]),
    # Started on October 31: 1 day, 360 ÷ 31 = 11.6129… → 11.61
    ({"start_date": OCT31}, [(R, Decimal("360.00"), NOV1, NOV30),
                              (P, Decimal("11.61"), OCT31, OCT31)]),
    # Starting on November 1: in advance only. On November 2: nothing yet.
    ({"start_date": NOV1}, [(R, Decimal("360.00"), NOV1, NOV30)]),
    ({"start_date": date(2026, 11, 2)}, []),
    # A change on October 1 was in October's advance charge: November bills 12 seats only.
    ({"changes": (Change(OCT1, 12, Decimal("36.00")),)}, [(R, Decimal("432.00"), NOV1, NOV30)]),
    # A change on October 31: +2 × 36 × 1 ÷ 31 = 2.3225… → 2.32
    ({"changes": (Change(OCT31, 12, Decimal("36.00")),)},
     [(R, Decimal("432.00"), NOV1, NOV30), (P, Decimal("2.32"), OCT31, OCT31)]),
    # A change on November 1 is November's advance charge.
    ({"changes": (Change(NOV1, 12, Decimal("36.00")),)}, [(R, Decimal("432.00"), NOV1, NOV30)]),
    # A price change alone: two lines, each quantity × price × days ÷ 31 — the 10 seats at
    # 36 taken off, −10 × 36 × 16 ÷ 31 = −185.806… → −185.81, and put back at 40,
    # 10 × 40 × 16 ÷ 31 = 206.451… → 206.45
    ({"changes": (Change(date(2026, 10, 16), 10, Decimal("40.00")),)},
     [(R, Decimal("400.00"), NOV1, NOV30), (P, Decimal("-185.81"), date(2026, 10, 16), OCT31),
      (P, Decimal("206.45"), date(2026, 10, 16), OCT31)]),
    # Ended on October 31: nothing more to bill or credit. On October 1: credit 30 of 31 days.
    ({"end_date": OCT31}, []),
    ({"end_date": OCT1}, [(P, Decimal("-348.39"), date(2026, 10, 2), OCT31)]),
    # Ended on November 1: November is billed whole; the credit comes in December.
    ({"end_date": NOV1}, [(R, Decimal("360.00"), NOV1, NOV30)]),
    # Started and ended in October, 10th to 20th: one line of the 11 days, rounded once:
    # 10 × 36 × 11 ÷ 31 = 127.741… → 127.74
    ({"start_date": date(2026, 10, 10), "end_date": date(2026, 10, 20)},
     [(P, Decimal("127.74"), date(2026, 10, 10), date(2026, 10, 20))]),
])
def test_monthly_edges(fields, expected):
    assert cents(rate_period([seat(**fields)], NOV, {}, [])) == expected


def annual(**fields) -> Terms:
    return seat(cycle=BillingCycle.ANNUAL, quantity=2, unit_price=Decimal("300.00"), **fields)


@pytest.mark.parametrize(("start", "period", "expected"), [
    # A term is charged whole on the first invoice dated on or after its first day.
    (date(2025, 11, 1), "2026-11", [(R, Decimal("600.00"), NOV1, date(2027, 10, 31))]),
    (date(2025, 10, 1), "2026-11", []),  # renewed October 1: on the October invoice
    (date(2025, 10, 1), "2026-10", [(R, Decimal("600.00"), OCT1, date(2027, 9, 30))]),
    (date(2025, 10, 2), "2026-11", [(R, Decimal("600.00"), date(2026, 10, 2),
                                     date(2027, 10, 1))]),
    (date(2025, 10, 31), "2026-11", [(R, Decimal("600.00"), OCT31, date(2027, 10, 30))]),
    (date(2025, 11, 2), "2026-11", []),  # renews November 2: on the December invoice
    (date(2025, 11, 2), "2026-12", [(R, Decimal("600.00"), date(2026, 11, 2),
                                     date(2027, 11, 1))]),
    (date(2026, 10, 15), "2026-11", [(R, Decimal("600.00"), date(2026, 10, 15),
                                      date(2027, 10, 14))]),  # the first term
    (date(2023, 10, 15), "2026-11", [(R, Decimal("600.00"), date(2026, 10, 15),
                                      date(2027, 10, 14))]),  # the fourth term
    (date(2026, 12, 15), "2026-11", []),  # not started
    # A term beginning in December is charged on January's invoice of the next year.
    (date(2025, 12, 20), "2027-01", [(R, Decimal("600.00"), date(2026, 12, 20),
                                      date(2027, 12, 19))]),
    # 29 February: renewed on 28 February in common years, on the 29th in leap years.
    (date(2024, 2, 29), "2024-03", [(R, Decimal("600.00"), date(2024, 2, 29),
                                     date(2025, 2, 27))]),
    (date(2024, 2, 29), "2025-03", [(R, Decimal("600.00"), date(2025, 2, 28),
                                     date(2026, 2, 27))]),
    (date(2024, 2, 29), "2027-03", [(R, Decimal("600.00"), date(2027, 2, 28),
                                     date(2028, 2, 28))]),  # 366 days: up to the 29th
    (date(2024, 2, 29), "2028-02", []),
    (date(2024, 2, 29), "2028-03", [(R, Decimal("600.00"), date(2028, 2, 29),
                                     date(2029, 2, 27))]),
])
def test_annual_term_windows(start, period, expected):
    assert cents(rate_period([annual(start_date=start)], Period.parse(period), {}, [])) == expected


@pytest.mark.parametrize(("change_day", "expected"), [
    # Term from October 15, 2025 (365 days), renewing October 15, 2026; +1 seat at 300.00.
    # On the renewal day the change is billed with the renewal: 3 seats, no proration.
    (date(2026, 10, 15), [(R, Decimal("900.00"), date(2026, 10, 15), date(2027, 10, 14))]),
    # The day after: renewal at 2 seats, and +1 × 300 × 364 ÷ 365 = 299.178… → 299.18
    (date(2026, 10, 16), [(R, Decimal("600.00"), date(2026, 10, 15), date(2027, 10, 14)),
                          (P, Decimal("299.18"), date(2026, 10, 16), date(2027, 10, 14))]),
    # The day before: the old term's last day, +1 × 300 × 1 ÷ 365 = 0.8219… → 0.82, and
    # the renewal at 3 seats.
    (date(2026, 10, 14), [(R, Decimal("900.00"), date(2026, 10, 15), date(2027, 10, 14)),
                          (P, Decimal("0.82"), date(2026, 10, 14), date(2026, 10, 14))]),
    # October 1, the first day of the arrears month, counts for annual terms: 14 days of the
    # old term (Oct 1–14) = 300 × 14 ÷ 365 = 11.5068… → 11.51
    (OCT1, [(R, Decimal("900.00"), date(2026, 10, 15), date(2027, 10, 14)),
            (P, Decimal("11.51"), OCT1, date(2026, 10, 14))]),
])
def test_annual_change_around_the_renewal_day(change_day, expected):
    terms = annual(start_date=date(2025, 10, 15),
                   changes=(Change(change_day, 3, Decimal("300.00")),))
    assert cents(rate_period([terms], NOV, {}, [])) == expected


def test_a_change_on_28_february_of_a_leap_year_term_started_on_29_february():
    """The term from February 28, 2027 runs to February 28, 2028 (366 days, the day before
    the 29th): a change on its last day is one day of 366."""
    terms = seat(cycle=BillingCycle.ANNUAL, start_date=date(2024, 2, 29), quantity=1,
                 unit_price=Decimal("366.00"),
                 changes=(Change(date(2028, 2, 28), 2, Decimal("366.00")),))
    assert cents(rate_period([terms], Period.parse("2028-03"), {}, [])) == [
        (R, Decimal("732.00"), date(2028, 2, 29), date(2029, 2, 27)),
        (P, Decimal("1.00"), date(2028, 2, 28), date(2028, 2, 28)),
    ]


@pytest.mark.parametrize(("end", "expected"), [
    # Term Oct 15, 2026 – Oct 14, 2027 (365 days), 2 seats × 300.00, renewed on Oct 15.
    # Ended Oct 20: credit Oct 21 – Oct 14 = 359 days: −600 × 359 ÷ 365 = −590.136… → −590.14
    (date(2026, 10, 20), [(R, Decimal("600.00"), date(2026, 10, 15), date(2027, 10, 14)),
                          (P, Decimal("-590.14"), date(2026, 10, 21), date(2027, 10, 14))]),
    # Ended Oct 31, the month's last day: 348 days: −600 × 348 ÷ 365 = −572.054… → −572.05
    (OCT31, [(R, Decimal("600.00"), date(2026, 10, 15), date(2027, 10, 14)),
             (P, Decimal("-572.05"), NOV1, date(2027, 10, 14))]),
    # Ended Oct 14, the old term's last day: not renewed, nothing to credit.
    (date(2026, 10, 14), []),
    # Ended Oct 1 in the old term (Oct 15, 2025 – Oct 14, 2026): 13 days, −600 × 13 ÷ 365 =
    # −21.369… → −21.37; not renewed.
    (OCT1, [(P, Decimal("-21.37"), date(2026, 10, 2), date(2026, 10, 14))]),
])
def test_annual_cancellation_credits_the_rest_of_the_term(end, expected):
    terms = annual(start_date=date(2025, 10, 15), end_date=end)
    assert cents(rate_period([terms], NOV, {}, [])) == expected


OCT15 = date(2026, 10, 15)


@pytest.mark.parametrize(("changes", "readings", "expected"), [
    # 1,000 units in October at one price: one line, 1,000 × 0.10.
    ((), [(OCT1, Decimal("400")), (OCT31, Decimal("600"))],
     [(Decimal("1000"), Decimal("0.10"), Decimal("100.00"), OCT1, OCT31)]),
    # 100 units before a price change on the 15th at 1.00 and 100 after at 2.00: each day at
    # its own price, 100.00 + 200.00 (not 200 × 2.00).
    ((Change(OCT15, 0, Decimal("2.00")),),
     [(date(2026, 10, 3), Decimal("60")), (date(2026, 10, 14), Decimal("40")),
      (OCT15, Decimal("30")), (OCT31, Decimal("70"))],
     [(Decimal("100"), Decimal("1.00"), Decimal("100.00"), OCT1, date(2026, 10, 14)),
      (Decimal("100"), Decimal("2.00"), Decimal("200.00"), OCT15, OCT31)]),
    # A price from November 1 is November's: October's usage keeps October's price.
    ((Change(NOV1, 0, Decimal("0.40")),), [(OCT31, Decimal("1000"))],
     [(Decimal("1000"), Decimal("1.00"), Decimal("1000.00"), OCT1, OCT31)]),
    # A run of days at a price without usage has no line.
    ((Change(OCT15, 0, Decimal("2.00")),), [(OCT1, Decimal("5"))],
     [(Decimal("5"), Decimal("1.00"), Decimal("5.00"), OCT1, date(2026, 10, 14))]),
])
def test_usage_is_priced_at_the_price_of_its_day(changes, readings, expected):
    price = Decimal("0.10") if not changes else Decimal("1.00")
    terms = seat(charge_model=ChargeModel.USAGE, quantity=0, unit_price=price, changes=changes)
    lines = rate_period([terms], NOV, {1: readings}, [])
    assert [(line.quantity, line.unit_price, line.amount, line.service_start, line.service_end)
            for line in lines] == expected
    assert all(line.charge_type == ChargeType.USAGE for line in lines)
    assert rate_period([terms], NOV, {1: [(OCT1, Decimal("0"))]}, []) == []


@pytest.mark.parametrize(("terms", "usage", "expected"), [
    (seat(), None, [("Microsoft 365 E3, monthly: 10 × $36.00 × 30/30 days", Decimal("10"),
                     Decimal("36.00"))]),
    (seat(start_date=date(2026, 10, 22), quantity=3, unit_price=Decimal("12.50")), None,
     [("Microsoft 365 E3, monthly: 3 × $12.50 × 30/30 days", Decimal("3"), Decimal("12.50")),
      ("Started Oct 22, 2026: 3 × $12.50 × 10/31 days", Decimal("3"), Decimal("12.50"))]),
    (seat(changes=(Change(date(2026, 10, 16), 12, Decimal("36.00")),)), None,
     [("Microsoft 365 E3, monthly: 12 × $36.00 × 30/30 days", Decimal("12"), Decimal("36.00")),
      ("Changed Oct 16, 2026: 2 × $36.00 × 16/31 days", Decimal("2"),
       Decimal("36.00"))]),
    # A price change with a quantity change: the old seats off at the old price, the new on at
    # the new price — no line whose quantity × price is not its amount.
    (seat(changes=(Change(date(2026, 10, 5), 8, Decimal("40.50")),)), None,
     [("Microsoft 365 E3, monthly: 8 × $40.50 × 30/30 days", Decimal("8"), Decimal("40.50")),
      ("Changed Oct 5, 2026: -10 × $36.00 × 27/31 days", Decimal("-10"),
       Decimal("36.00")),
      ("Changed Oct 5, 2026: 8 × $40.50 × 27/31 days", Decimal("8"),
       Decimal("40.50"))]),
    (seat(end_date=date(2026, 10, 20)), None,
     [("Ended Oct 20, 2026: -10 × $36.00 × 11/31 days",
       Decimal("-10"), Decimal("36.00"))]),
    (annual(start_date=date(2025, 11, 1)), None,
     [("Microsoft 365 E3, annual term Nov 1, 2026\u2009–\u2009Oct 31, 2027: "
       "2 × $300.00 × 365/365 days",
       Decimal("2"), Decimal("300.00"))]),
    (seat(charge_model=ChargeModel.USAGE, quantity=0, unit_price=Decimal("0.0875")),
     Decimal("1234.5678"),
     [("Usage Oct 1\u2009–\u200931, 2026: 1,234.5678 × $0.0875", Decimal("1234.5678"),
       Decimal("0.0875"))]),
])
def test_line_descriptions_quantities_and_prices(terms, usage, expected):
    lines = rate_period([terms], NOV, {terms.id: usage} if usage else {}, [])
    assert [(line.description, line.quantity, line.unit_price) for line in lines] == expected
    assert {(line.end_customer_id, line.end_customer_name, line.subscription_id,
             line.subscription_name, line.sku) for line in lines} == {
        (1, "Adatum", 1, "Microsoft 365 E3", "M365-E3")}
    # Every line's amount is what its description says, rounded once.
    for line in lines:
        days = (line.service_end - line.service_start).days + 1
        exact = Fraction(line.quantity) * Fraction(line.unit_price) * Fraction(
            days, line.span_days or 1) if line.span_days else Fraction(
            line.quantity) * Fraction(line.unit_price)
        assert abs(Fraction(line.amount) - exact) <= Fraction(1, 200)


def test_one_time_fee_line():
    fee = OneTimeFee(7, 3, "Contoso", 9, "Backup", "Migration", Decimal("250.00"),
                     date(2026, 10, 3))
    [line] = rate_period([], NOV, {}, [fee])
    assert (line.end_customer_id, line.end_customer_name, line.subscription_id,
            line.subscription_name, line.sku, line.charge_type, line.description,
            line.quantity, line.unit_price, line.amount, line.service_start,
            line.service_end) == (
        3, "Contoso", 9, "Backup", None, ChargeType.ONE_TIME, "Migration", Decimal("1"),
        Decimal("250.00"), Decimal("250.00"), date(2026, 10, 3), date(2026, 10, 3))


@pytest.mark.parametrize(("names", "order"), [
    # By end customer (case-insensitive), then subscription name, then subscription id.
    ([(1, "beta", "X"), (2, "Alpha", "Y")], [2, 1]),
    ([(1, "Alpha", "y"), (2, "Alpha", "X")], [2, 1]),
    ([(2, "Alpha", "X"), (1, "Alpha", "X")], [1, 2]),
])
def test_lines_are_ordered(names, order):
    subs = [seat(id=id_, end_customer_name=customer, name=name) for id_, customer, name in names]
    assert [line.subscription_id for line in rate_period(subs, NOV, {}, [])] == order


@pytest.mark.parametrize(("terms", "expected"), [
    # A change on the renewal day does not stop a later change of the month being prorated:
    # renewal at 3 seats, then +1 × 300 × 360 ÷ 365 (Oct 20, 2026 – Oct 14, 2027) = 295.89
    (annual(start_date=date(2025, 10, 15),
            changes=(Change(date(2026, 10, 15), 3, Decimal("300.00")),
                     Change(date(2026, 10, 20), 4, Decimal("300.00")))),
     [(R, Decimal("900.00"), date(2026, 10, 15), date(2027, 10, 14)),
      (P, Decimal("295.89"), date(2026, 10, 20), date(2027, 10, 14))]),
    # Nor does a change that changes nothing: +2 × 36 × 12 ÷ 31 (Oct 20–31) = 27.870… → 27.87
    (seat(changes=(Change(date(2026, 10, 10), 10, Decimal("36.00")),
                   Change(date(2026, 10, 20), 12, Decimal("36.00")))),
     [(R, Decimal("432.00"), NOV1, NOV30), (P, Decimal("27.87"), date(2026, 10, 20), OCT31)]),
])
def test_every_change_of_the_month_is_prorated(terms, expected):
    assert cents(rate_period([terms], NOV, {}, [])) == expected


def test_usage_without_a_reading_bills_nothing():
    terms = seat(charge_model=ChargeModel.USAGE, quantity=0, unit_price=Decimal("0.10"))
    assert rate_period([terms], NOV, {}, []) == []
    assert rate_period([terms], NOV, {2: Decimal("5")}, []) == []  # another subscription's
