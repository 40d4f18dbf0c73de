"""Late data converges (SPEC §12), as a property on the database: for any subscription history
(start, quantity and price changes, cancellation, usage) and any order and timing in which its
pieces are reported between monthly billing runs, the invoice lines and credit-note lines of
the subscription add up to its day-by-day cost.

The cost model is written here, independently of app.billing: a seat costs, each day of
service, quantity × unit price in effect that day ÷ the days of the day's month (monthly) or
annual term; a unit of usage costs the unit price in effect on its day. Exact fractions.

The tolerance, derived: every line's amount is its exact amount x_i (quantity × unit price ×
days ÷ span, stored on the line) rounded half-up to the cent once, so |round(x_i) − x_i| ≤ ½ ¢.
The property checks that the exact amounts add up to the cost with no tolerance at all
(Σ x_i = cost), so the billed total can differ from the cost by at most ½ ¢ per line:
|Σ round(x_i) − cost| ≤ n × ½ ¢, n the number of the subscription's lines. Nothing else rounds.
"""

import calendar
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import (
    BillingCycle,
    ChargeModel,
    CreditNoteLine,
    InvoiceLine,
    Product,
    Subscription,
)
from app.billing.rating import Period
from app.extensions import db
from tests.billing.factories import BillingFactory

ONE_DAY = timedelta(days=1)
HALF_CENT = Fraction(1, 200)
RUNS = [Period.parse(f"2024-{month:02d}") for month in range(2, 11)]  # Feb … Oct 2024
FIRST_DAY, LAST_EVENT = date(2024, 2, 1), date(2024, 7, 31)


# --- the cost model -------------------------------------------------------------------------

def anniversary(start: date, years: int) -> date:
    if start.month == 2 and start.day == 29 and not calendar.isleap(start.year + years):
        return date(start.year + years, 2, 28)
    return date(start.year + years, start.month, start.day)


def term_of(start: date, day: date) -> tuple[date, date]:
    years = 0
    while anniversary(start, years + 1) <= day:
        years += 1
    return anniversary(start, years), anniversary(start, years + 1) - ONE_DAY


def in_effect(history, day: date) -> tuple[int, Fraction]:
    quantity, price = history["quantity"], Fraction(history["price"])
    for change_day, change_quantity, change_price in sorted(history["changes"]):
        if change_day <= day:
            quantity, price = change_quantity, Fraction(change_price)
    return quantity, price


def cost(history, last: Period) -> Fraction:
    """What the days the invoices up to `last` cover cost: seats up to the end of what `last`
    bills in advance, usage up to the month before it."""
    start, end = history["start"], history["end"]
    if history["model"] == ChargeModel.USAGE:
        return sum((Fraction(quantity) * in_effect(history, day)[1]
                    for day, quantity in history["usage"]
                    if day <= last.previous_end and (end is None or day <= end)), Fraction(0))
    if history["cycle"] == BillingCycle.MONTHLY:
        horizon = last.end
    else:
        horizon = term_of(start, last.start)[1]
    if end is not None:
        horizon = min(horizon, end)
    total, day = Fraction(0), start
    while day <= horizon:
        quantity, price = in_effect(history, day)
        if history["cycle"] == BillingCycle.MONTHLY:
            length = calendar.monthrange(day.year, day.month)[1]
        else:
            first, final = term_of(start, day)
            length = (final - first).days + 1
        total += quantity * price / length
        day += ONE_DAY
    return total


# --- the strategies -------------------------------------------------------------------------

prices = st.decimals(min_value="0.01", max_value="99.99", places=2)
report_at = st.integers(0, len(RUNS) - 1)  # reported before this run (0: before the first)


@st.composite
def histories(draw):
    model = draw(st.sampled_from([ChargeModel.PER_SEAT, ChargeModel.PER_SEAT, ChargeModel.USAGE]))
    cycle = (draw(st.sampled_from(list(BillingCycle))) if model == ChargeModel.PER_SEAT
             else BillingCycle.MONTHLY)
    start = draw(st.dates(min_value=FIRST_DAY, max_value=LAST_EVENT - timedelta(days=30)))
    end = draw(st.none() | st.dates(min_value=start, max_value=LAST_EVENT))
    last_change = end or LAST_EVENT
    change_days = (draw(st.lists(st.dates(min_value=start + ONE_DAY, max_value=last_change),
                                 max_size=3, unique=True))
                   if last_change > start else [])
    changes = [(day, 0 if model == ChargeModel.USAGE else draw(st.integers(0, 40)),
                draw(prices)) for day in change_days]
    usage = []
    if model == ChargeModel.USAGE:
        usage_days = draw(st.lists(st.dates(min_value=start, max_value=end or LAST_EVENT),
                                   max_size=6, unique=True))
        usage = [(day, draw(st.decimals(min_value="0.0001", max_value="900", places=4)))
                 for day in usage_days]
    reports = ([("change", change, draw(report_at)) for change in changes]
               + [("usage", reading, draw(report_at)) for reading in usage]
               + ([("cancel", end, draw(report_at))] if end is not None else []))
    return {"model": model, "cycle": cycle, "start": start, "end": end,
            "quantity": 0 if model == ChargeModel.USAGE else draw(st.integers(0, 40)),
            "price": draw(prices), "changes": changes, "usage": usage,
            "reports": draw(st.permutations(reports))}


def product(billing: BillingFactory, sku: str, model: ChargeModel) -> Product:
    """The catalog is shared by the examples of one test."""
    return db.session.scalar(select(Product).where(Product.sku == sku)) or billing.product(
        sku=sku, model=model)


def report(subscription: Subscription, kind: str, what) -> None:
    if kind == "change":
        day, quantity, price = what
        services.change_subscription(subscription, effective_date=day, quantity=quantity,
                                     unit_price=price)
    elif kind == "usage":
        services.record_usage(subscription, *what)
    else:
        services.cancel_subscription(subscription, last_day=what)


# --- the property ---------------------------------------------------------------------------

@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories())
def test_a_subscriptions_lines_add_up_to_its_day_by_day_cost(factory, history):
    billing = BillingFactory(factory)
    account = billing.account(subscriptions=0)
    # An anchor: the account is invoiced from the first run on, whatever the subject does.
    anchor_customer = services.create_end_customer(account.id, "Anchor")
    services.create_subscription(customer=anchor_customer,
                                 product=product(billing, "ANCHOR", ChargeModel.PER_SEAT),
                                 quantity=1, unit_price=Decimal("1.00"),
                                 start_date=date(2024, 1, 1))
    customer = services.create_end_customer(account.id, "Subject")
    subject = services.create_subscription(
        customer=customer, product=product(billing, f"P-{history['model'].value}",
                                           history["model"]), quantity=history["quantity"],
        unit_price=history["price"], start_date=history["start"], cycle=history["cycle"])
    db.session.commit()
    event(f"{len(history['reports'])} reports")
    for index, period in enumerate(RUNS):
        for kind, what, when in history["reports"]:
            if when == index:
                report(subject, kind, what)
        db.session.commit()
        run_billing(period, account_ids=[account.id])

    stored = [*db.session.execute(
        select(InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.service_start,
               InvoiceLine.service_end, InvoiceLine.span_days, InvoiceLine.amount)
        .where(InvoiceLine.subscription_id == subject.id)),
        *db.session.execute(
        select(CreditNoteLine.quantity, CreditNoteLine.unit_price, CreditNoteLine.service_start,
               CreditNoteLine.service_end, CreditNoteLine.span_days, CreditNoteLine.amount)
        .where(CreditNoteLine.subscription_id == subject.id))]
    exact = Fraction(0)
    for quantity, price, start, end, span, amount in stored:
        x = Fraction(quantity) * Fraction(price)
        if span is not None:
            x *= Fraction((end - start).days + 1, span)
        assert abs(Fraction(amount) - x) <= HALF_CENT  # rounded once
        exact += x
    expected = cost(history, RUNS[-1])
    assert exact == expected, (float(exact), float(expected))
    billed = sum((Fraction(row.amount) for row in stored), Fraction(0))
    assert abs(billed - expected) <= HALF_CENT * len(stored)
