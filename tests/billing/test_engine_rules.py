"""The billing run's money rules on the database, as tables of hand-worked cases: which tax
rate, which usage, which fees, which changes, and what status an invoice is issued in."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing import services
from app.billing.engine import (
    BillingError,
    check_period,
    next_document_number,
    run_billing,
    tax_rate_for,
)
from app.billing.models import (
    BillingCycle,
    ChargeModel,
    ChargeType,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    OneTimeCharge,
)
from app.billing.rating import Period
from app.events.models import OutboxEvent
from app.extensions import db
from tests.billing.factories import BillingFactory

MARCH = Period.parse("2026-03")


@pytest.fixture
def billing(factory):
    return BillingFactory(factory)


def invoice_of(account) -> Invoice:
    db.session.expire_all()
    return db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)).one()


def lines_of(invoice: Invoice) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        select(InvoiceLine.charge_type, InvoiceLine.amount, InvoiceLine.tax_rate,
               InvoiceLine.tax)
        .where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position))]


def rate(country, region, value, valid_from):
    services.set_tax_rate(country=country, region=region, name="Sales tax",
                          rate=Decimal(value), valid_from=valid_from)


@pytest.fixture
def rates(app):
    """WA: 10.1 % from 2000, 10.5 % from March 1, 2026, 11 % from December 1, 2026.
    Decoys: OR (another region), CA-WA (another country)."""
    rate("US", "WA", "0.101", date(2000, 1, 1))
    rate("US", "WA", "0.105", date(2026, 3, 1))
    rate("US", "WA", "0.11", date(2026, 12, 1))
    rate("US", "OR", "0.2", date(2026, 1, 1))
    rate("CA", "WA", "0.3", date(2026, 1, 1))
    db.session.commit()


@pytest.mark.parametrize(("country", "region", "on", "expected"), [
    ("US", "WA", date(2026, 2, 28), "0.101"),
    ("US", "WA", date(2026, 3, 1), "0.105"),   # in force from its first day
    ("US", "WA", date(2026, 11, 30), "0.105"),  # the newest in force, not the oldest
    ("US", "WA", date(2027, 1, 1), "0.11"),
    ("US", "OR", date(2026, 3, 1), "0.2"),
    ("US", "OR", date(2025, 12, 31), "0"),     # none yet in that region
    ("US", "TX", date(2026, 3, 1), "0"),       # no rate for the region at all
    ("CA", "WA", date(2026, 3, 1), "0.3"),
])
def test_tax_rate_is_the_newest_of_the_accounts_own_jurisdiction(rates, factory, country,
                                                                 region, on, expected):
    account = factory.account(country=country, region=region)
    assert tax_rate_for(account, on) == Decimal(expected)


@pytest.mark.parametrize(("period", "tax", "taxes"), [
    # 12.50, 25.00 and 37.50 a month. At 10.1 %: 1.2625 → 1.26, 2.525 → 2.53, 3.7875 → 3.79.
    ("2026-02", "7.58", ["1.26", "2.53", "3.79"]),
    # At 10.5 % (from March 1, the issue date): 1.3125 → 1.31, 2.625 → 2.63, 3.9375 → 3.94.
    ("2026-03", "7.88", ["1.31", "2.63", "3.94"]),
])
def test_invoice_tax_is_the_sum_of_line_taxes_at_the_issue_dates_rate(rates, billing, period,
                                                                      tax, taxes):
    account = billing.account(subscriptions=3, start=date(2026, 1, 1))
    billing.account(subscriptions=1, region="OR")  # another region's account, billed too
    run_billing(Period.parse(period))
    invoice = invoice_of(account)
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("75.00"), Decimal(tax), Decimal("75.00") + Decimal(tax))
    assert [line[3] for line in lines_of(invoice)] == [Decimal(t) for t in taxes]
    assert {line[2] for line in lines_of(invoice)} == {Decimal("0.101") if period == "2026-02"
                                                       else Decimal("0.105")}


def test_each_account_is_billed_its_own_subscriptions(billing):
    first = billing.account(subscriptions=1)   # 12.50
    second = billing.account(subscriptions=2)  # 12.50 + 25.00
    run_billing(MARCH)
    assert invoice_of(first).subtotal == Decimal("12.50")
    assert invoice_of(second).subtotal == Decimal("37.50")


@pytest.fixture
def seats(billing):
    """An account with one end customer; `seats(**subscription)` adds a monthly subscription
    of 12.50 a seat."""
    account = billing.account(subscriptions=0)
    customer = services.create_end_customer(account.id, "Adatum")

    def add(quantity=2, start=date(2026, 1, 1), cycle=BillingCycle.MONTHLY,
            model=ChargeModel.PER_SEAT, price="12.50"):
        product = billing.product(sku="USAGE" if model == ChargeModel.USAGE else "M365-BS",
                                  model=model)
        return services.create_subscription(customer=customer, product=product,
                                            quantity=quantity, unit_price=Decimal(price),
                                            start_date=start, cycle=cycle)

    add.account = account
    add.customer = customer
    return add


@pytest.mark.parametrize(("setup", "expected"), [
    # A change on March 1 is March's advance charge: 5 × 12.50.
    (lambda s: services.change_subscription(s, effective_date=date(2026, 3, 1), quantity=5),
     [(ChargeType.RECURRING, "62.50")]),
    # A change on March 2 is April's: March bills the 2 seats of March 1.
    (lambda s: services.change_subscription(s, effective_date=date(2026, 3, 2), quantity=5),
     [(ChargeType.RECURRING, "25.00")]),
    # A change on February 15: 3 more seats × 12.50 × 14 of 28 days = 18.75, in arrears.
    (lambda s: services.change_subscription(s, effective_date=date(2026, 2, 15), quantity=5),
     [(ChargeType.RECURRING, "62.50"), (ChargeType.PRORATION, "18.75")]),
    # Ended February 1: not billed for March; credit 27 of 28 days, −2 × 12.50 × 27 ÷ 28 =
    # −24.107… → −24.11.
    (lambda s: services.cancel_subscription(s, last_day=date(2026, 2, 1)),
     [(ChargeType.PRORATION, "-24.11")]),
])
def test_changes_and_ends_around_the_period(seats, setup, expected):
    subscription = seats(quantity=2)
    setup(subscription)
    db.session.commit()
    run_billing(MARCH)
    assert [(t, a) for t, a, _, _ in lines_of(invoice_of(seats.account))] == [
        (t, Decimal(a)) for t, a in expected]


@pytest.mark.parametrize(("start", "expected"), [
    (date(2026, 3, 1), "25.00"),  # starts on the period's first day: billed in advance
    (date(2026, 2, 15), "25.00"),  # plus 14 of 28 days in arrears: 2 × 12.50 × ½ = 12.50
    (date(2026, 3, 2), None),     # starts after it: nothing yet
])
def test_subscriptions_starting_around_the_period(seats, start, expected):
    seats(quantity=2, start=start)
    db.session.commit()
    result = run_billing(MARCH)
    if expected is None:
        assert result.issued == [] and result.nothing_to_bill == 1
        return
    recurring = [a for t, a, _, _ in lines_of(invoice_of(seats.account))
                 if t == ChargeType.RECURRING]
    assert recurring == [Decimal(expected)]


def test_usage_of_the_previous_month_only(seats, billing):
    """Usage dated February 1 to 28 is on the March invoice; January 31 and March 1 are not."""
    meter = seats(quantity=0, model=ChargeModel.USAGE, price="0.10")
    for day, quantity in ((date(2026, 1, 31), "1000"), (date(2026, 2, 1), "30"),
                          (date(2026, 2, 28), "12.5"), (date(2026, 3, 1), "7000")):
        services.record_usage(meter, day, Decimal(quantity))
    other = billing.account(subscriptions=0)
    other_customer = services.create_end_customer(other.id, "Other tenant")
    theirs = services.create_subscription(
        customer=other_customer, product=billing.product(sku="USAGE", model=ChargeModel.USAGE),
        quantity=0, unit_price=Decimal("0.10"), start_date=date(2026, 1, 1))
    services.record_usage(theirs, date(2026, 2, 10), Decimal("900"))
    db.session.commit()
    run_billing(MARCH)
    # (30 + 12.5) × 0.10 = 4.25
    assert [(t, a) for t, a, _, _ in lines_of(invoice_of(seats.account))] == [
        (ChargeType.USAGE, Decimal("4.25"))]
    assert [(t, a) for t, a, _, _ in lines_of(invoice_of(other))] == [
        (ChargeType.USAGE, Decimal("90.00"))]


def fee(account, amount, day, customer=None):
    return services.add_one_time_charge(account_id=account.id, description=f"Fee {amount}",
                                        amount=Decimal(amount), charge_date=day,
                                        customer=customer)


def test_one_time_fees_are_billed_once_to_their_own_account(billing, seats):
    seats(quantity=1)
    mine = seats.account
    other = billing.account(subscriptions=1)
    on_last_day = fee(mine, "40.00", date(2026, 2, 28), seats.customer)
    early = fee(mine, "15.00", date(2025, 12, 1))
    next_month = fee(mine, "99.00", date(2026, 3, 1))
    theirs = fee(other, "500.00", date(2026, 2, 10))
    db.session.commit()

    run_billing(MARCH)
    march = invoice_of(mine)
    assert march.subtotal == Decimal("12.50") + Decimal("40.00") + Decimal("15.00")
    assert sorted(a for t, a, _, _ in lines_of(march) if t == ChargeType.ONE_TIME) == [
        Decimal("15.00"), Decimal("40.00")]
    db.session.expire_all()
    invoiced = {c.id: c.invoice_id for c in db.session.scalars(select(OneTimeCharge))}
    assert invoiced[on_last_day.id] == invoiced[early.id] == march.id
    assert invoiced[next_month.id] is None
    assert invoiced[theirs.id] == invoice_of(other).id != march.id

    run_billing(Period.parse("2026-04"))
    april = db.session.scalars(select(Invoice).where(
        Invoice.account_id == mine.id, Invoice.period_start == date(2026, 4, 1))).one()
    assert sorted(a for t, a, _, _ in lines_of(april) if t == ChargeType.ONE_TIME) == [
        Decimal("99.00")]


@pytest.mark.parametrize(("amounts", "status"), [
    (["50.00"], InvoiceStatus.OPEN),
    (["0.01"], InvoiceStatus.OPEN),
    (["50.00", "-50.00"], InvoiceStatus.PAID),  # nothing to pay: issued settled
    (["-20.00"], InvoiceStatus.PAID),           # a credit balance: nothing to pay either
])
def test_an_invoice_with_nothing_to_pay_is_issued_paid(billing, amounts, status):
    account = billing.account(subscriptions=0)
    for amount in amounts:
        fee(account, amount, date(2026, 2, 10))
    db.session.commit()
    run_billing(MARCH)
    invoice = invoice_of(account)
    assert invoice.status == status
    assert invoice.total == sum((Decimal(a) for a in amounts), Decimal(0))


@pytest.mark.parametrize(("terms", "due"), [(30, date(2026, 3, 31)), (45, date(2026, 4, 15)),
                                            (0, date(2026, 3, 1))])
def test_due_date_is_the_issue_date_plus_payment_terms(billing, terms, due):
    account = billing.account(subscriptions=1, payment_terms_days=terms, tax_id="91-1234567")
    run_billing(MARCH)
    invoice = invoice_of(account)
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 3, 1), due)
    assert (invoice.period_start, invoice.period_end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (invoice.bill_to_tax_id, invoice.currency, invoice.line_count) == (
        "91-1234567", "USD", 1)
    assert (invoice.amount_paid, invoice.credit_applied) == (0, 0)
    assert invoice.billing_key == f"{account.id}:2026-03"


def test_annual_term_on_the_run(seats):
    # 3 seats × 120.00 a year from February 10: charged whole on March 1.
    seats(quantity=3, start=date(2026, 2, 10), cycle=BillingCycle.ANNUAL, price="120.00")
    db.session.commit()
    run_billing(MARCH)
    assert [(t, a) for t, a, _, _ in lines_of(invoice_of(seats.account))] == [
        (ChargeType.RECURRING, Decimal("360.00"))]


def test_the_stored_invoice_lines_and_the_outbox_event(billing, seats):
    """Everything the run stores for one invoice, written out."""
    billing.tax()  # WA 10.1 %
    subscription = seats(quantity=3)
    services.add_one_time_charge(account_id=seats.account.id, description="Migration",
                                 amount=Decimal("25.00"), charge_date=date(2026, 2, 3))
    db.session.commit()
    run_billing(MARCH)
    invoice = invoice_of(seats.account)
    rows = [tuple(row) for row in db.session.execute(
        select(InvoiceLine.position, InvoiceLine.end_customer_id, InvoiceLine.end_customer_name,
               InvoiceLine.subscription_id, InvoiceLine.subscription_name, InvoiceLine.sku,
               InvoiceLine.charge_type, InvoiceLine.description, InvoiceLine.quantity,
               InvoiceLine.unit_price, InvoiceLine.amount, InvoiceLine.tax_rate, InvoiceLine.tax,
               InvoiceLine.service_start, InvoiceLine.service_end)
        .where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position))]
    assert rows == [
        # "Account charges" (no end customer) sorts before "Adatum".
        (1, None, "Account charges", None, "One-time services", None, ChargeType.ONE_TIME,
         "Migration", Decimal("1"), Decimal("25.00"), Decimal("25.00"), Decimal("0.101"),
         Decimal("2.53"), date(2026, 2, 3), date(2026, 2, 3)),  # 2.525 → 2.53
        (2, seats.customer.id, "Adatum", subscription.id, "Product M365-BS", "M365-BS",
         ChargeType.RECURRING, "Product M365-BS, monthly: 3 × $12.50 × 31/31 days",
         Decimal("3"), Decimal("12.50"),
         Decimal("37.50"), Decimal("0.101"), Decimal("3.79"), date(2026, 3, 1),
         date(2026, 3, 31)),  # 3.7875 → 3.79
    ]
    assert (invoice.subtotal, invoice.tax_total, invoice.total, invoice.line_count) == (
        Decimal("62.50"), Decimal("6.32"), Decimal("68.82"), 2)
    [event] = db.session.scalars(select(OutboxEvent)).all()
    assert (event.event_type, event.account_id) == ("invoice.issued", seats.account.id)
    assert event.payload == {
        "invoice_number": "INV-2026-000001", "account_number": seats.account.number,
        "period": "2026-03", "issue_date": "2026-03-01", "due_date": "2026-03-31",
        "currency": "USD", "subtotal": "62.50", "tax": "6.32", "total": "68.82", "lines": 2,
    }


def test_run_result_counts_every_account_once(billing):
    billed = [billing.account(subscriptions=1) for _ in range(2)]
    empty = [billing.account(subscriptions=0) for _ in range(2)]
    seen = []
    first = run_billing(MARCH, progress=seen.append)
    assert (len(first.issued), first.already_billed, first.nothing_to_bill,
            first.held_by_another_worker, first.accounts_seen) == (2, 0, 2, 0, 4)
    assert first.issued == ["INV-2026-000001", "INV-2026-000002"] and seen == [1, 1, 1, 1]
    again = run_billing(MARCH)
    assert (again.issued, again.already_billed, again.nothing_to_bill) == ([], 2, 2)
    chosen = run_billing(MARCH, account_ids=[a.id for a in billed + empty])
    assert (chosen.already_billed, chosen.nothing_to_bill, chosen.accounts_seen) == (2, 2, 4)
    assert chosen.period == "2026-03"


@pytest.mark.parametrize(("period", "message"), [
    ("2018-03", "^2018-03 is before the cutover \\(2018-04-02\\): those invoices are "
                "historical; import them with `flask legacy import`\\.$"),
    ("2026-12", "^2026-12 has not started yet\\.$"),
])
def test_periods_the_run_refuses(period, message):
    with pytest.raises(BillingError, match=message):
        check_period(Period.parse(period), date(2018, 4, 2), date(2026, 11, 25))


def test_credit_note_numbers_have_their_own_sequence(app):
    assert next_document_number("CN", 2026) == "CN-2026-000001"
    assert next_document_number("INV", 2026) == "INV-2026-000001"
    assert next_document_number("CN", 2026) == "CN-2026-000002"
    assert next_document_number("CN", 2027) == "CN-2027-000001"


def test_an_invoice_of_two_cents_is_open(billing):
    """0.05 and −0.04 at 10 %: taxes 0.005 → 0.01 and −0.004 → 0.00, so 0.01 + 0.01 = 0.02
    is owed."""
    billing.tax(rate="0.1")
    account = billing.account(subscriptions=0)
    fee(account, "0.05", date(2026, 2, 10))
    fee(account, "-0.04", date(2026, 2, 11))
    db.session.commit()
    run_billing(MARCH)
    invoice = invoice_of(account)
    assert (invoice.subtotal, invoice.tax_total, invoice.total, invoice.status) == (
        Decimal("0.01"), Decimal("0.01"), Decimal("0.02"), InvoiceStatus.OPEN)


def test_the_current_month_can_be_billed_on_its_first_day():
    check_period(Period.parse("2026-11"), date(2018, 4, 2), date(2026, 11, 1))
    check_period(Period.parse("2018-04"), date(2018, 4, 2), date(2026, 11, 1))  # cutover month


def test_changes_apply_in_date_order_whatever_order_they_were_recorded(seats):
    subscription = seats(quantity=2)
    services.change_subscription(subscription, effective_date=date(2026, 2, 20), quantity=5)
    services.change_subscription(subscription, effective_date=date(2026, 2, 10), quantity=3)
    db.session.commit()
    run_billing(MARCH)
    # March: 5 × 12.50. One line per run of days against February's 2 seats billed in
    # advance: February 10–19, +1 seat × 12.50 × 10 ÷ 28 = 4.464… → 4.46; February 20–28,
    # +3 × 12.50 × 9 ÷ 28 = 12.053… → 12.05.
    assert [(t, a) for t, a, _, _ in lines_of(invoice_of(seats.account))] == [
        (ChargeType.RECURRING, Decimal("62.50")), (ChargeType.PRORATION, Decimal("4.46")),
        (ChargeType.PRORATION, Decimal("12.05"))]


def test_a_fee_of_a_subscription_is_billed_under_it(billing, seats):
    first = seats(quantity=1)
    second = seats(quantity=2)
    third = seats(quantity=3)
    charge = fee(seats.account, "30.00", date(2026, 2, 5), seats.customer)
    charge.subscription_id = second.id
    db.session.commit()
    run_billing(MARCH)
    rows = [tuple(row) for row in db.session.execute(
        select(InvoiceLine.end_customer_id, InvoiceLine.end_customer_name,
               InvoiceLine.subscription_id, InvoiceLine.subscription_name,
               InvoiceLine.charge_type, InvoiceLine.amount)
        .where(InvoiceLine.invoice_id == invoice_of(seats.account).id)
        .order_by(InvoiceLine.position))]
    customer = seats.customer.id
    assert rows == [
        (customer, "Adatum", first.id, "Product M365-BS", ChargeType.RECURRING,
         Decimal("12.50")),
        (customer, "Adatum", second.id, "Product M365-BS", ChargeType.RECURRING,
         Decimal("25.00")),
        (customer, "Adatum", second.id, "Product M365-BS", ChargeType.ONE_TIME,
         Decimal("30.00")),
        (customer, "Adatum", third.id, "Product M365-BS", ChargeType.RECURRING,
         Decimal("37.50")),
    ]


def test_an_invoice_made_outside_the_run_does_not_stop_the_run(billing):
    account = billing.account(subscriptions=1)
    db.session.add(Invoice(
        number="INV-2026-900001", account_id=account.id, billing_key=None,
        period_start=MARCH.start, period_end=MARCH.end, issue_date=MARCH.start,
        due_date=MARCH.end, currency="USD", bill_to_name="x", bill_to_address="x",
        subtotal=Decimal("5.00"), tax_total=Decimal("0.00"), total=Decimal("5.00"),
        credit_applied=Decimal("0.00"), amount_paid=Decimal("0.00"),
        status=InvoiceStatus.OPEN))
    db.session.commit()
    result = run_billing(MARCH)
    assert (len(result.issued), result.already_billed) == (1, 0)
