"""Payments: every transition allowed and refused, what each one posts to the ledger, and the
ledger's rows staying as written."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.billing.transitions import InvoiceStateError
from app.credit.services import apply_credit, credit_balance
from app.errors import DomainError
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger.models import EntryKind, LedgerEntry, LedgerImmutableError
from app.payments.models import Payment, PaymentStatus
from app.payments.services import (
    PaymentStateError,
    create_payment,
    fail_payment,
    invoice_allocations,
    processing_invoice_ids,
    return_payment,
    settle_payment,
)
from app.reconcile import check_all

P, S, F, R = (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
              PaymentStatus.RETURNED)
DAY = date(2026, 3, 10)


@pytest.fixture
def invoices(billing):
    """Two open invoices of one account: 37.50 (March) and 37.50 (April)."""
    billing.account(subscriptions=2, start=date(2026, 1, 1))
    for period in ("2026-03", "2026-04"):
        run_billing(Period.parse(period))
    return list(db.session.scalars(select(Invoice).order_by(Invoice.issue_date)))


def pay(invoice, amount="37.50", status=S, total=None):
    return create_payment(
        account_id=invoice.account_id, currency=invoice.currency,
        allocations=[(invoice, Decimal(amount))], method_label="ACH •••• 6789",
        received_on=DAY, status=status, amount=Decimal(total) if total else None,
    )


def entries(payment, kind):
    return list(db.session.scalars(select(LedgerEntry.amount).where(
        LedgerEntry.payment_id == payment.id, LedgerEntry.kind == kind)
        .order_by(LedgerEntry.id)))


def to_state(payment, state):
    if state == S and payment.status == P:
        settle_payment(payment, on=DAY)
    elif state == F:
        fail_payment(payment, "Declined", on=DAY)
    elif state == R:
        return_payment(payment, "R01", on=DAY)
    return payment


ACTIONS = {
    "settle": lambda p: settle_payment(p, on=DAY),
    "fail": lambda p: fail_payment(p, "Bank said no", on=DAY),
    "return": lambda p: return_payment(p, "R02", on=DAY),
}
ALLOWED = {(P, "settle"): S, (P, "fail"): F, (P, "return"): R, (S, "return"): R}


@pytest.mark.parametrize("start", [P, S, F, R])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_transition_allowed_or_refused(invoices, start, action):
    invoice = invoices[0]
    payment = pay(invoice, status=S if start == S else P)
    to_state(payment, start)
    db.session.commit()
    target = ALLOWED.get((start, action))
    if target is None:
        with pytest.raises(PaymentStateError) as refused:
            ACTIONS[action](payment)
        assert refused.value.status == 409
        db.session.rollback()
        assert db.session.get(Payment, payment.id).status == start
    else:
        ACTIONS[action](payment)
        assert payment.status == target
    invoice = db.session.get(Invoice, invoice.id)
    holding = payment.status in (P, S)
    assert invoice.amount_paid == (Decimal("37.50") if holding else 0)
    assert invoice.status == (InvoiceStatus.PAID if holding else InvoiceStatus.OPEN)
    assert check_all() == []


def test_a_processing_payment_holds_its_invoice_until_it_settles(invoices):
    payment = pay(invoices[0], status=P)
    assert entries(payment, EntryKind.PAYMENT) == [Decimal("37.50")]
    assert entries(payment, EntryKind.ALLOCATION) == [Decimal("37.50")]
    db.session.commit()
    with pytest.raises(InvoiceStateError, match="is paid"):
        pay(invoices[0])
    db.session.rollback()  # as the request or command does on any DomainError
    settle_payment(payment, on=date(2026, 3, 13))
    assert payment.settled_on == date(2026, 3, 13)
    assert entries(payment, EntryKind.SETTLEMENT) == [Decimal("37.50")]
    assert check_all() == []


def test_a_return_reverses_the_payment_and_each_allocation(invoices):
    payment = create_payment(
        account_id=invoices[0].account_id, currency="USD", method_label="ACH •••• 2227",
        allocations=[(invoices[0], Decimal("37.50")), (invoices[1], Decimal("10.00"))],
        received_on=DAY, status=P)
    settle_payment(payment, on=DAY)
    return_payment(payment, "R01", on=date(2026, 3, 16))
    assert entries(payment, EntryKind.PAYMENT) == [Decimal("47.50"), Decimal("-47.50")]
    assert sorted(entries(payment, EntryKind.ALLOCATION)) == [
        Decimal("-37.50"), Decimal("-10.00"), Decimal("10.00"), Decimal("37.50")]
    assert [i.status for i in invoices] == [InvoiceStatus.OPEN, InvoiceStatus.OPEN]
    assert [i.balance_due for i in invoices] == [Decimal("37.50"), Decimal("37.50")]
    assert payment.return_code == "R01" and "enough money" in payment.failure_reason
    assert check_all() == []


def test_an_overpayment_becomes_credit_and_a_return_takes_it_back(invoices):
    first, second = invoices
    payment = pay(first, total="50.00", status=P)
    account = first.account
    assert credit_balance(account) == Decimal("12.50")
    apply_credit(second, Decimal("12.50"), on=DAY)
    assert second.status == InvoiceStatus.PARTIALLY_PAID
    return_payment(payment, "R01", on=DAY)
    # The credit the payment made is gone, and so is what it paid on the second invoice.
    assert credit_balance(account) == 0
    assert second.credit_applied == 0 and second.status == InvoiceStatus.OPEN
    assert first.status == InvoiceStatus.OPEN
    assert check_all() == []


def test_a_failed_charge_moves_no_money(invoices):
    payment = pay(invoices[0], status=F)
    assert payment.status == F
    assert db.session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.payment_id == payment.id)) is None
    assert invoices[0].status == InvoiceStatus.OPEN


@pytest.mark.parametrize("status", [R])
def test_a_payment_cannot_start_returned(invoices, status):
    with pytest.raises(PaymentStateError):
        pay(invoices[0], status=status)


@pytest.mark.parametrize(("amount", "total", "message"), [
    ("0.00", None, "more than zero"),
    ("-5.00", None, "more than zero"),
    ("37.51", None, "between 0.01 and its balance due"),
    ("30.00", "20.00", "more than its amount"),
])
def test_payments_that_do_not_fit_are_refused(invoices, amount, total, message):
    with pytest.raises(DomainError, match=message):
        pay(invoices[0], amount, total=total)


def test_a_payment_pays_only_its_own_account_and_currency(invoices, billing):
    other = billing.account(subscriptions=1, country="CA", region="ON", currency="CAD")
    with pytest.raises(DomainError, match="own account and currency"):
        create_payment(account_id=other.id, currency="CAD", method_label="Visa",
                       allocations=[(invoices[0], Decimal("1.00"))], received_on=DAY)
    with pytest.raises(DomainError, match="once"):
        create_payment(account_id=invoices[0].account_id, currency="USD", method_label="Visa",
                       allocations=[(invoices[0], Decimal("1.00")),
                                    (invoices[0], Decimal("2.00"))], received_on=DAY)


def test_outbox_events_are_written_with_the_change(invoices):
    payment = pay(invoices[0], status=P)
    settle_payment(payment, on=DAY)
    return_payment(payment, "R29", on=DAY)
    failed = pay(invoices[1], status=F)
    kinds = list(db.session.scalars(select(OutboxEvent.event_type).where(
        OutboxEvent.event_type.like("payment.%")).order_by(OutboxEvent.id)))
    assert kinds == ["payment.created", "payment.succeeded", "payment.returned",
                     "payment.created", "payment.failed"]
    returned = db.session.scalar(select(OutboxEvent).where(
        OutboxEvent.event_type == "payment.returned"))
    assert returned.payload["reference"] == payment.reference
    assert returned.payload["return_code"] == "R29"
    assert failed.reference != payment.reference


def test_ledger_rows_cannot_be_updated_or_deleted(invoices):
    pay(invoices[0])
    db.session.commit()
    entry = db.session.scalar(select(LedgerEntry).limit(1))
    entry.amount = Decimal("1.00")
    with pytest.raises(LedgerImmutableError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalar(select(LedgerEntry).limit(1)))
    with pytest.raises(LedgerImmutableError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(LedgerImmutableError):
        db.session.execute(update(LedgerEntry).values(memo="x"))


@pytest.mark.postgresql
def test_postgresql_refuses_changes_from_plain_sql(invoices):
    pay(invoices[0])
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("UPDATE ledger_entries SET memo = 'x'"))
    db.session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("DELETE FROM ledger_entries"))


def test_what_pages_read_processing_invoices_and_standing_allocations(invoices):
    first, second = invoices
    ach = pay(first, status=P)
    card = pay(second, "5.00")
    assert processing_invoice_ids(first.account_id) == {first.id}
    assert [(e.invoice_id, e.amount) for e in invoice_allocations(card)] == [
        (second.id, Decimal("5.00"))]
    return_payment(ach, "R01", on=DAY)
    assert processing_invoice_ids(first.account_id) == set()
    assert invoice_allocations(ach) == []
