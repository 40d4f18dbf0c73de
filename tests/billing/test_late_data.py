"""Late data converges (SPEC §12): changes, cancellations, usage and fees reported after the
invoice of their days was issued, worked by hand. Amounts: quantity × price × days ÷ days of
the month, rounded half-up to the cent once per line; tax WA 10.1 % per line."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.models import Account
from app.billing import services
from app.billing.cutover import first_engine_arrears_start
from app.billing.engine import run_billing
from app.billing.models import (
    BillingCycle,
    ChargeModel,
    ChargeType,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    OneTimeCharge,
)
from app.billing.rating import Change, Period, Terms, rate_period
from app.billing.statement import build_statement
from app.config import Config
from app.errors import DomainError
from app.extensions import db
from app.formatting import money
from app.money import round_money
from tests.billing.factories import BillingFactory

ONE_DAY = timedelta(days=1)
THIN = "\u2009–\u2009"  # Babel's date interval dash, between thin spaces


@pytest.fixture
def billing(factory):
    billing = BillingFactory(factory)
    billing.tax()
    return billing


@pytest.fixture
def sub(billing):
    """A subscription of a new account: `sub(quantity, price, start, model, cycle)`."""
    def make(quantity=10, price="12.00", start=date(2024, 6, 1), model=ChargeModel.PER_SEAT,
             cycle=BillingCycle.MONTHLY, account=None):
        account = account or billing.account(subscriptions=0)
        customer = services.create_end_customer(account.id, f"Adatum {quantity} {price}")
        product = billing.product(sku=f"SKU-{model.value}", model=model, price=price)
        subscription = services.create_subscription(
            customer=customer, product=product, quantity=quantity, unit_price=Decimal(price),
            start_date=start, cycle=cycle)
        db.session.commit()
        return subscription
    return make


def bill(*periods: str) -> None:
    for period in periods:
        run_billing(Period.parse(period))


def invoice(subscription, period: str) -> Invoice:
    db.session.expire_all()
    return db.session.scalars(select(Invoice).where(
        Invoice.account_id == subscription.account_id,
        Invoice.period_start == Period.parse(period).start)).one()


def lines(subscription, period: str, charge_type: ChargeType | None = None) -> list[tuple]:
    query = (select(InvoiceLine.charge_type, InvoiceLine.description, InvoiceLine.quantity,
                    InvoiceLine.unit_price, InvoiceLine.amount, InvoiceLine.service_start,
                    InvoiceLine.service_end)
             .where(InvoiceLine.invoice_id == invoice(subscription, period).id)
             .order_by(InvoiceLine.position))
    if charge_type:
        query = query.where(InvoiceLine.charge_type == charge_type)
    return [tuple(row) for row in db.session.execute(query)]


# --- case 1: a quantity change reported after its month was invoiced -------------------------

def test_a_late_quantity_change_is_billed_as_an_adjustment(sub):
    subscription = sub()
    bill("2024-07", "2024-08", "2024-09")
    services.change_subscription(subscription, effective_date=date(2024, 9, 1), quantity=20)
    db.session.commit()
    bill("2024-10")
    september = invoice(subscription, "2024-09").number
    # October: 20 × 12.00 in advance; September's extra 10 seats, 10 × 12.00 × 30/30 = 120.00.
    assert lines(subscription, "2024-10") == [
        (ChargeType.RECURRING, "Product SKU-per_seat, monthly: 20 × $12.00 × 31/31 days",
         Decimal(20), Decimal("12.00"), Decimal("240.00"), date(2024, 10, 1),
         date(2024, 10, 31)),
        (ChargeType.ADJUSTMENT,
         f"Adjustment to {september}: 10 × $12.00 × 30/30 days, Sep 1{THIN}30, 2024",
         Decimal(10), Decimal("12.00"), Decimal("120.00"), date(2024, 9, 1), date(2024, 9, 30)),
    ]
    # Converged: re-running October changes nothing, November has no adjustment.
    bill("2024-10", "2024-11")
    assert lines(subscription, "2024-11") == [
        (ChargeType.RECURRING, "Product SKU-per_seat, monthly: 20 × $12.00 × 30/30 days",
         Decimal(20), Decimal("12.00"), Decimal("240.00"), date(2024, 11, 1),
         date(2024, 11, 30))]


# --- case 2: a cancellation reported after the next month was invoiced -----------------------

def test_a_late_cancellation_of_an_ended_subscription_is_a_credit_note(sub):
    subscription = sub()
    bill("2024-07", "2024-08", "2024-09")
    services.cancel_subscription(subscription, last_day=date(2024, 8, 20))
    db.session.commit()
    result = run_billing(Period.parse("2024-10"))
    august, september = (invoice(subscription, p).number for p in ("2024-08", "2024-09"))
    # Nothing else is billed for the account: no invoice, a credit note. August 21–31:
    # −10 × 12.00 × 11/31 = −42.580… → −42.58, tax −4.30058 → −4.30; September: −120.00,
    # tax −12.12. The note: 42.58 + 120.00 + 4.30 + 12.12 = 179.00.
    assert result.issued == [] and len(result.credit_notes) == 1
    note = db.session.scalars(select(CreditNote)).one()
    assert (note.number, note.amount, note.account_id) == (
        result.credit_notes[0], Decimal("179.00"), subscription.account_id)
    assert f"Adjustment to {august}, {september}" in note.reason
    assert "service ended Aug 20, 2024" in note.reason
    assert [(line.quantity, line.unit_price, line.amount, line.tax, line.service_start,
             line.service_end) for line in db.session.scalars(
                 select(CreditNoteLine).order_by(CreditNoteLine.service_start))] == [
        (Decimal(-10), Decimal("12.00"), Decimal("-42.58"), Decimal("-4.30"),
         date(2024, 8, 21), date(2024, 8, 31)),
        (Decimal(-10), Decimal("12.00"), Decimal("-120.00"), Decimal("-12.12"),
         date(2024, 9, 1), date(2024, 9, 30)),
    ]
    # Idempotent and converged: no second note, nothing billed after.
    bill("2024-10", "2024-11")
    assert len(db.session.scalars(select(CreditNote)).all()) == 1
    assert db.session.scalars(select(Invoice).where(
        Invoice.period_start >= date(2024, 10, 1))).all() == []


def test_a_late_cancellation_of_a_running_account_credits_it_and_the_invoice_takes_it(sub):
    subscription = sub()
    other = sub(quantity=1, price="50.00",
                account=db.session.get(Account, subscription.account_id))
    bill("2024-07", "2024-08", "2024-09")
    services.cancel_subscription(subscription, last_day=date(2024, 8, 20))
    db.session.commit()
    bill("2024-10")
    october = invoice(other, "2024-10")
    # The invoice: 50.00 + 5.05 tax = 55.05, paid by the 179.00 note's credit (auto-apply).
    assert (october.total, october.credit_applied, october.balance_due) == (
        Decimal("55.05"), Decimal("55.05"), Decimal("0.00"))
    assert lines(subscription, "2024-10", ChargeType.ADJUSTMENT) == []


# --- case 3: usage at the price of its day ---------------------------------------------------

def test_usage_is_priced_at_the_price_in_effect_on_its_day(sub):
    subscription = sub(quantity=0, price="1.00", model=ChargeModel.USAGE)
    services.change_subscription(subscription, effective_date=date(2024, 9, 15), quantity=0,
                                 unit_price=Decimal("2.00"))
    for day, used in ((3, "60"), (14, "40"), (15, "30"), (30, "70")):
        services.record_usage(subscription, date(2024, 9, day), Decimal(used))
    db.session.commit()
    bill("2024-10")
    # 100 units × 1.00 (Sep 1–14) + 100 × 2.00 (Sep 15–30) = 300.00, not 200 × 2.00.
    assert [(q, p, a, s, e) for _, _, q, p, a, s, e in lines(subscription, "2024-10")] == [
        (Decimal(100), Decimal("1.00"), Decimal("100.00"), date(2024, 9, 1), date(2024, 9, 14)),
        (Decimal(100), Decimal("2.00"), Decimal("200.00"), date(2024, 9, 15),
         date(2024, 9, 30))]


def test_late_usage_is_an_adjustment_at_its_days_price(sub):
    subscription = sub(quantity=0, price="1.00", model=ChargeModel.USAGE)
    services.record_usage(subscription, date(2024, 8, 5), Decimal("10"))
    db.session.commit()
    bill("2024-09")
    services.record_usage(subscription, date(2024, 8, 20), Decimal("7.5"))
    services.change_subscription(subscription, effective_date=date(2024, 8, 15), quantity=0,
                                 unit_price=Decimal("3.00"))
    db.session.commit()
    bill("2024-10")
    september = invoice(subscription, "2024-09").number
    # August was billed 10 × 1.00. Now: 10 × 1.00 (Aug 1–14) and 7.5 × 3.00 (Aug 15–31).
    assert [(d, q, p, a) for _, d, q, p, a, _, _ in lines(subscription, "2024-10")] == [
        (f"Adjustment to {september}: usage Aug 15{THIN}31, 2024, 7.5 × $3.00",
         Decimal("7.5"), Decimal("3.00"), Decimal("22.50"))]


# --- case 4: a line's quantity × price × days is its amount ----------------------------------

@pytest.mark.parametrize(("quantity", "price"), [
    (2, "26.00"),   # price alone: once "0 × 26 = 14.00"
    (4, "13.10"),   # quantity and price at once
])
def test_a_mid_month_price_change_shows_what_makes_each_amount(sub, quantity, price):
    subscription = sub(quantity=2, price="12.00")
    services.change_subscription(subscription, effective_date=date(2024, 9, 16),
                                 quantity=quantity, unit_price=Decimal(price))
    db.session.commit()
    bill("2024-10")
    prorations = lines(subscription, "2024-10", ChargeType.PRORATION)
    # The old 2 seats off at 12.00 for Sep 16–30, the new on at the new price.
    assert [(q, p) for _, _, q, p, _, _, _ in prorations] == [
        (Decimal(-2), Decimal("12.00")), (Decimal(quantity), Decimal(price))]
    for _, description, q, p, amount, start, end in prorations:
        assert (start, end) == (date(2024, 9, 16), date(2024, 9, 30))
        assert description.endswith("× 15/30 days")
        assert amount == round_money(q * p * 15 / 30)
    # −2 × 12 × 15/30 = −12.00; 2 × 26 × 15/30 = 26.00 (net 14.00); 4 × 13.10 × 15/30 = 26.20.
    assert sum(amount for _, _, _, _, amount, _, _ in prorations) == (
        Decimal("14.00") if quantity == 2 else Decimal("14.20"))


# --- case 5: an annual term begun on February 29 ---------------------------------------------

def test_every_day_of_a_leap_day_term_is_in_exactly_one_billed_term():
    terms = Terms(id=1, end_customer_id=1, end_customer_name="Adatum", name="Seats", sku="SKU",
                  charge_model=ChargeModel.PER_SEAT, cycle=BillingCycle.ANNUAL,
                  start_date=date(2024, 2, 29), end_date=None, quantity=1,
                  unit_price=Decimal("365.00"),
                  changes=(Change(date(2028, 2, 28), 2, Decimal("365.00")),))
    covered: dict[date, int] = {}
    period = Period.parse("2024-03")
    while period.start <= date(2029, 3, 1):
        for line in rate_period([terms], period, {}, []):
            assert line.service_start <= line.service_end, line.description
            if line.charge_type == ChargeType.RECURRING:
                day = line.service_start
                while day <= line.service_end:
                    covered[day] = covered.get(day, 0) + 1
                    day += ONE_DAY
        period = Period.parse(f"{period.end + ONE_DAY:%Y-%m}")
    day = date(2024, 2, 29)
    while day < date(2029, 2, 28):
        assert covered.get(day) == 1, day
        day += ONE_DAY
    [change] = [line for line in rate_period([terms], Period.parse("2028-03"), {}, [])
                if line.charge_type == ChargeType.PRORATION]
    assert (change.service_start, change.service_end) == (date(2028, 2, 28), date(2028, 2, 28))
    assert change.description.endswith("1 × $365.00 × 1/366 days")


# --- case 6: a subscription that starts and ends in one month --------------------------------

def test_a_subscription_started_and_ended_in_one_month_is_rounded_once(sub):
    subscription = sub(quantity=1, price="100.00", start=date(2024, 10, 10))
    services.cancel_subscription(subscription, last_day=date(2024, 10, 20))
    db.session.commit()
    bill("2024-11")
    # 11 days: 1 × 100.00 × 11/31 = 35.483… → 35.48 (not +70.97 − 35.48 = 35.49).
    assert [(a, s, e) for _, _, _, _, a, s, e in lines(subscription, "2024-11")] == [
        (Decimal("35.48"), date(2024, 10, 10), date(2024, 10, 20))]


# --- case 7: fees before the cutover; fees reported late ------------------------------------

def test_a_fee_dated_before_the_engines_first_month_is_refused(billing):
    account = billing.account(subscriptions=0)
    with pytest.raises(DomainError, match="before Mar 1, 2018 belongs to the legacy"):
        services.add_one_time_charge(account_id=account.id, description="Old", amount=Decimal(
            "10.00"), charge_date=date(2015, 6, 1))
    # One that got in without the service (a bulk load) is history: never billed.
    db.session.add(OneTimeCharge(account_id=account.id, description="Old",
                                 amount=Decimal("10.00"), charge_date=date(2015, 6, 1)))
    services.add_one_time_charge(account_id=account.id, description="New",
                                 amount=Decimal("10.00"), charge_date=date(2018, 3, 1))
    db.session.commit()
    bill("2025-01")
    billed = db.session.scalars(select(InvoiceLine.description)).all()
    assert billed == ["New"]


def test_a_fee_reported_after_its_month_was_invoiced_is_an_adjustment(sub):
    subscription = sub()
    bill("2024-08", "2024-09")
    services.add_one_time_charge(account_id=subscription.account_id, description="Setup",
                                 amount=Decimal("99.00"), charge_date=date(2024, 8, 10))
    db.session.commit()
    bill("2024-10")
    september = invoice(subscription, "2024-09").number
    [row] = [row for row in lines(subscription, "2024-10") if row[2] == 1]
    assert row[:5] == (ChargeType.ADJUSTMENT,
                       f"Adjustment to {september}: Setup, dated Aug 10, 2024",
                       Decimal(1), Decimal("99.00"), Decimal("99.00"))


# --- the invoice article's example, run through the engine -----------------------------------

ARTICLE = Path(__file__).parents[2] / "content/articles/what-will-my-invoice-look-like.md"


def article_row(line: InvoiceLine | CreditNoteLine) -> str:
    description = line.description.replace(THIN, " – ")
    return f"| {description} | {money(line.amount, 'USD')} |"


def test_the_invoice_article_example_of_late_data(billing):
    """The article's worked example of corrections: its lines and amounts are this run's."""
    text = " ".join(ARTICLE.read_text(encoding="utf-8").split())
    account = billing.account(subscriptions=0)
    adatum = services.create_end_customer(account.id, "Adatum")
    fabrikam = services.create_end_customer(account.id, "Fabrikam")
    standard = services.create_product(
        sku="MS-M365-BS", name="Microsoft 365 Business Standard", vendor="Microsoft",
        charge_model=ChargeModel.PER_SEAT, unit="seat", list_price=Decimal("12.00"))
    exchange = services.create_product(
        sku="MS-EXO-P1", name="Exchange Online (Plan 1)", vendor="Microsoft",
        charge_model=ChargeModel.PER_SEAT, unit="seat", list_price=Decimal("4.00"))
    seats = services.create_subscription(customer=adatum, product=standard, quantity=10,
                                         unit_price=Decimal("12.00"), start_date=date(2024, 6, 1))
    mailboxes = services.create_subscription(customer=fabrikam, product=exchange, quantity=4,
                                             unit_price=Decimal("4.00"),
                                             start_date=date(2024, 6, 1))
    db.session.commit()
    bill("2024-07", "2024-08", "2024-09")
    # Reported on September 20: 20 seats since September 1; the mailboxes ended August 20.
    services.change_subscription(seats, effective_date=date(2024, 9, 1), quantity=20)
    services.cancel_subscription(mailboxes, last_day=date(2024, 8, 20))
    db.session.commit()
    bill("2024-10")
    october = invoice(seats, "2024-10")
    rows = list(db.session.scalars(select(InvoiceLine).where(
        InvoiceLine.invoice_id == october.id).order_by(InvoiceLine.position)))
    assert [line.charge_type for line in rows] == [
        ChargeType.RECURRING, ChargeType.ADJUSTMENT, ChargeType.ADJUSTMENT,
        ChargeType.ADJUSTMENT]
    for line in rows:
        assert article_row(line) in text, article_row(line)
    assert f"October 2024 invoice, {october.number}" in text
    assert (f"| | **Subtotal** | **{money(october.subtotal, 'USD')}** |") in text
    assert f"| | **Total** | **{money(october.total, 'USD')}** |" in text
    numbers = {invoice(seats, p).number for p in ("2024-08", "2024-09")}
    assert all(number in text for number in numbers)

    # The same cancellation on an account with nothing else billed: a credit note.
    alone = billing.account(subscriptions=0)
    customer = services.create_end_customer(alone.id, "Fabrikam")
    only = services.create_subscription(customer=customer, product=exchange, quantity=4,
                                        unit_price=Decimal("4.00"), start_date=date(2024, 6, 1))
    db.session.commit()
    for period in ("2024-07", "2024-08", "2024-09"):
        run_billing(Period.parse(period), account_ids=[alone.id])
    services.cancel_subscription(only, last_day=date(2024, 8, 20))
    db.session.commit()
    result = run_billing(Period.parse("2024-10"), account_ids=[alone.id])
    [note] = db.session.scalars(select(CreditNote).where(CreditNote.account_id == alone.id))
    assert result.issued == [] and result.credit_notes == [note.number]
    tax = sum(line.tax for line in db.session.scalars(
        select(CreditNoteLine).where(CreditNoteLine.credit_note_id == note.id)))
    assert (f"a credit note of {money(note.amount, 'USD')} ({money(-tax, 'USD')} of it tax)"
            in text)
    # The first day a fee can be dated, from the cutover rule.
    earliest = first_engine_arrears_start(Config.CUTOVER_DATE)
    assert f"Fees dated before {earliest:%B} {earliest.day}, {earliest.year}" in text


def test_a_credit_note_from_corrections_is_a_row_of_the_statement(sub):
    subscription = sub()
    bill("2024-07", "2024-08", "2024-09")
    services.cancel_subscription(subscription, last_day=date(2024, 8, 20))
    db.session.commit()
    [number] = run_billing(Period.parse("2024-10")).credit_notes
    account = db.session.get(Account, subscription.account_id)
    statement = build_statement(account, date(2024, 7, 1), date(2024, 10, 31))
    [row] = [row for row in statement.rows if row.reference == number]
    # The 179.00 of the note (test above), on the October invoice's date.
    assert (row.day, row.kind, row.debit, row.credit) == (
        date(2024, 10, 1), "Credit note", Decimal("0.00"), Decimal("179.00"))
    assert row.description.startswith("Adjustment to INV-2024-")
    assert statement.closing == statement.rows[-2].balance - Decimal("179.00")
