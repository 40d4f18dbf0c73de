"""Account credit (SPEC §9): creating it, applying it oldest first, reversing an application,
auto-apply at issue, and the worked example of the credit article run through the services."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.billing.engine import run_billing
from app.billing.models import CreditNote, Invoice, InvoiceStatus
from app.billing.rating import Period
from app.billing.transitions import InvoiceStateError
from app.credit.services import (
    CreditError,
    account_balance,
    apply_credit,
    auto_apply_credit,
    create_credit,
    credit_balance,
    issue_credit_note,
    reverse_credit_application,
)
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.payments.services import create_payment
from app.reconcile import check_all

ARTICLE = Path(__file__).parents[2] / "content/articles/how-is-the-credit-on-my-account-used.md"
DAY = date(2026, 3, 5)


@pytest.fixture
def account(billing):
    return billing.account(subscriptions=2, start=date(2026, 1, 1))  # 37.50 a month


def issue(period: str) -> Invoice:
    run_billing(Period.parse(period))
    return db.session.scalar(select(Invoice).where(
        Invoice.period_start == Period.parse(period).start))


def credit(account, amount, on=date(2026, 1, 15), source=CreditSource.CREDIT_NOTE):
    return create_credit(account, Decimal(amount), source, effective_on=on,
                         reference="CN-TEST")


def test_auto_apply_takes_oldest_credit_first_up_to_the_total(account):
    newer = credit(account, "30.00", on=date(2026, 2, 20), source=CreditSource.OVERPAYMENT)
    older = credit(account, "20.00", on=date(2026, 1, 5))
    invoice = issue("2026-03")
    assert invoice.credit_applied == Decimal("37.50")
    assert invoice.status == InvoiceStatus.PAID and invoice.balance_due == 0
    drawn = {row.credit_entry_id: row.amount for row in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION))}
    assert drawn == {older.id: Decimal("20.00"), newer.id: Decimal("17.50")}
    assert credit_balance(account) == Decimal("12.50")
    assert account_balance(account) == Decimal("-12.50")
    assert check_all() == []


def test_auto_apply_off_leaves_credit_alone(account):
    account.auto_apply_credit = False
    credit(account, "20.00")
    invoice = issue("2026-03")
    assert invoice.credit_applied == 0 and invoice.status == InvoiceStatus.OPEN
    assert auto_apply_credit(invoice) == 0
    assert account_balance(account) == Decimal("17.50")


def test_apply_to_a_chosen_invoice_and_reverse_it(account):
    account.auto_apply_credit = False
    march, april = issue("2026-03"), issue("2026-04")
    credit(account, "50.00")
    (entry,) = apply_credit(april, Decimal("37.50"), on=DAY)
    assert april.status == InvoiceStatus.PAID and march.status == InvoiceStatus.OPEN
    assert credit_balance(account) == Decimal("12.50")
    reversal = reverse_credit_application(entry, on=DAY)
    assert reversal.amount == Decimal("-37.50") and reversal.reverses_id == entry.id
    assert april.status == InvoiceStatus.OPEN and april.credit_applied == 0
    assert credit_balance(account) == Decimal("50.00")
    events = list(db.session.scalars(select(OutboxEvent.event_type).where(
        OutboxEvent.event_type.like("credit.%")).order_by(OutboxEvent.id)))
    assert events == ["credit.applied", "credit.reversed"]
    with pytest.raises(CreditError, match="cannot be reversed"):
        reverse_credit_application(entry, on=DAY)
    with pytest.raises(CreditError, match="cannot be reversed"):
        reverse_credit_application(reversal, on=DAY)
    assert check_all() == []


def test_an_application_stays_once_the_invoice_has_a_payment(account):
    account.auto_apply_credit = False
    invoice = issue("2026-03")
    credit(account, "10.00")
    (entry,) = apply_credit(invoice, Decimal("10.00"), on=DAY)
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(invoice, Decimal("5.00"))], received_on=DAY)
    with pytest.raises(InvoiceStateError, match="has a payment"):
        reverse_credit_application(entry, on=DAY)


@pytest.mark.parametrize(("amount", "error", "message"), [
    ("20.01", CreditError, "does not have that much credit"),
    ("37.51", CreditError, "does not have that much credit"),
    ("0.00", InvoiceStateError, "between 0.01"),
])
def test_credit_that_does_not_fit_is_refused(account, amount, error, message):
    account.auto_apply_credit = False
    invoice = issue("2026-03")
    credit(account, "20.00")
    with pytest.raises(error, match=message):
        apply_credit(invoice, Decimal(amount), on=DAY)


def test_credit_cannot_pay_a_paid_invoice_or_another_currency(account, billing):
    invoice = issue("2026-03")
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(invoice, invoice.balance_due)], received_on=DAY)
    credit(account, "20.00")
    with pytest.raises(InvoiceStateError, match="is paid"):
        apply_credit(invoice, Decimal("1.00"), on=DAY)
    with pytest.raises(CreditError, match="more than zero"):
        credit(account, "0.00")


def test_a_credit_note_is_numbered_and_becomes_credit(account):
    note = issue_credit_note(account, Decimal("25.00"), "Outage", issue_date=DAY)
    assert note.number == "CN-2026-000001"
    assert db.session.scalar(select(CreditNote.amount)) == Decimal("25.00")
    assert credit_balance(account) == Decimal("25.00")
