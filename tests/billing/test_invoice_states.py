"""The invoice state machine, and issued invoices staying as issued."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceLine, InvoiceStatus
from app.billing.models.invoices import ImmutableDocumentError
from app.billing.rating import Period
from app.billing.transitions import (
    InvoiceStateError,
    apply_credit,
    apply_payment,
    lock_invoice,
    reverse_credit,
    reverse_payment,
    status_for,
    void_invoice,
)
from app.extensions import db


@pytest.fixture
def invoice(billing) -> Invoice:
    billing.account(subscriptions=2, start=date(2026, 1, 1))  # 12.50 + 25.00 = 37.50
    run_billing(Period.parse("2026-03"))
    return db.session.scalar(select(Invoice))


def test_payments_move_open_to_partially_paid_to_paid(invoice):
    invoice = lock_invoice(invoice.id)
    apply_payment(invoice, Decimal("10.00"))
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert invoice.balance_due == Decimal("27.50")
    apply_payment(invoice, Decimal("27.50"))
    assert invoice.status == InvoiceStatus.PAID and invoice.balance_due == 0
    db.session.commit()
    with pytest.raises(InvoiceStateError, match="is paid"):
        apply_payment(invoice, Decimal("1.00"))


@pytest.mark.parametrize("amount", ["0.00", "-1.00", "37.51"])
def test_a_payment_must_fit_the_balance(invoice, amount):
    with pytest.raises(InvoiceStateError, match="between 0.01 and its balance due"):
        apply_payment(invoice, Decimal(amount))
    assert invoice.status == InvoiceStatus.OPEN and invoice.amount_paid == 0


def test_locking_reads_the_invoice_afresh(invoice):
    """Another transaction may have paid the invoice while this one waited for the lock: the
    locked invoice carries what the row holds now, not what the session read before."""
    assert invoice.amount_paid == 0
    db.session.execute(text("UPDATE invoices SET amount_paid = 10.00 WHERE id = :id"),
                       {"id": invoice.id})
    locked = lock_invoice(invoice.id)
    assert locked is invoice and locked.amount_paid == Decimal("10.00")

def test_void_only_while_nothing_is_settled(invoice):
    apply_payment(invoice, Decimal("1.00"))
    with pytest.raises(InvoiceStateError, match="cannot be voided"):
        void_invoice(invoice)
    db.session.rollback()
    invoice = db.session.scalar(select(Invoice))
    void_invoice(invoice)
    assert invoice.status == InvoiceStatus.VOID
    with pytest.raises(InvoiceStateError, match="is void"):
        apply_payment(invoice, Decimal("1.00"))


def test_issued_invoices_and_lines_cannot_change(invoice):
    invoice.total = Decimal("1.00")
    with pytest.raises(ImmutableDocumentError, match="total cannot change"):
        db.session.flush()
    db.session.rollback()
    invoice = db.session.scalar(select(Invoice))
    invoice.bill_to_name = "Someone else"
    with pytest.raises(ImmutableDocumentError, match="bill_to_name"):
        db.session.flush()
    db.session.rollback()
    line = db.session.scalar(select(InvoiceLine))
    line.amount = Decimal("0.01")
    with pytest.raises(ImmutableDocumentError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalar(select(InvoiceLine)))
    with pytest.raises(ImmutableDocumentError):
        db.session.flush()


def test_a_void_invoice_owes_nothing(invoice, client, login, factory):
    void_invoice(invoice)
    db.session.commit()
    assert invoice.balance_due == 0
    login(factory.user(Role.VIEWER, account=invoice.account))
    body = client.get("/billing/invoices?status=void").get_data(as_text=True)
    assert "1 invoice · Void · total $37.50 · balance due $0.00" in body


# --- the state machine on its own (no database), as tables ---------------------------------

def draft(status=InvoiceStatus.OPEN, total="37.50", credit="0.00", paid="0.00") -> Invoice:
    return Invoice(number="INV-2026-000042", status=status, total=Decimal(total),
                   credit_applied=Decimal(credit), amount_paid=Decimal(paid))


@pytest.mark.parametrize(("total", "credit", "paid", "status"), [
    ("37.50", "0.00", "0.00", InvoiceStatus.OPEN),
    ("37.50", "0.01", "0.00", InvoiceStatus.PARTIALLY_PAID),  # credit alone settles part
    ("37.50", "37.49", "0.00", InvoiceStatus.PARTIALLY_PAID),
    ("37.50", "0.00", "0.01", InvoiceStatus.PARTIALLY_PAID),
    ("37.50", "37.50", "0.00", InvoiceStatus.PAID),
    ("37.50", "20.00", "17.50", InvoiceStatus.PAID),
    ("37.50", "0.00", "37.50", InvoiceStatus.PAID),
    ("0.00", "0.00", "0.00", InvoiceStatus.PAID),
])
def test_status_follows_what_is_settled(total, credit, paid, status):
    assert status_for(draft(total=total, credit=credit, paid=paid)) == status


@pytest.mark.parametrize(("credit", "amount", "status", "balance"), [
    ("0.00", "0.01", InvoiceStatus.PARTIALLY_PAID, "37.49"),
    ("0.00", "37.50", InvoiceStatus.PAID, "0.00"),
    ("10.00", "27.50", InvoiceStatus.PAID, "0.00"),  # credit counts towards the balance
    ("10.00", "27.49", InvoiceStatus.PARTIALLY_PAID, "0.01"),
])
def test_a_payment_settles_the_balance_after_credit(credit, amount, status, balance):
    invoice = draft(credit=credit)
    apply_payment(invoice, Decimal(amount))
    assert (invoice.status, invoice.balance_due, invoice.amount_paid) == (
        status, Decimal(balance), Decimal(amount))


@pytest.mark.parametrize(("credit", "amount"), [("10.00", "27.51"), ("0.00", "37.51"),
                                                ("0.00", "0.00"), ("0.00", "-0.01")])
def test_a_payment_above_the_balance_after_credit_is_refused(credit, amount):
    invoice = draft(credit=credit)
    with pytest.raises(InvoiceStateError, match="between 0.01 and its balance due"):
        apply_payment(invoice, Decimal(amount))
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))


@pytest.mark.parametrize("status", [InvoiceStatus.PAID, InvoiceStatus.VOID])
def test_a_settled_or_void_invoice_takes_no_payment(status):
    invoice = draft(status=status)
    with pytest.raises(InvoiceStateError, match=f"INV-2026-000042 is {status.value}; it cannot"):
        apply_payment(invoice, Decimal("1.00"))
    assert invoice.amount_paid == 0 and invoice.status == status


@pytest.mark.parametrize("fields", [
    {"status": InvoiceStatus.VOID},
    {"status": InvoiceStatus.PAID, "paid": "37.50"},
    {"status": InvoiceStatus.PARTIALLY_PAID, "paid": "1.00"},
    {"status": InvoiceStatus.PAID, "total": "0.00"},      # a zero-total invoice
    {"status": InvoiceStatus.PARTIALLY_PAID, "credit": "5.00"},
    {"status": InvoiceStatus.OPEN, "credit": "5.00"},      # credited, though still open
    {"status": InvoiceStatus.OPEN, "paid": "0.01"},
])
def test_only_an_open_unsettled_invoice_can_be_voided(fields):
    invoice = draft(**fields)
    before = invoice.status
    with pytest.raises(InvoiceStateError, match=r"^Invoice INV-2026-000042 cannot be voided; "
                       r"issue a credit note instead\.$"):
        void_invoice(invoice)
    assert invoice.status == before


def test_voiding_an_open_invoice():
    invoice = draft()
    void_invoice(invoice)
    assert invoice.status == InvoiceStatus.VOID and invoice.balance_due == 0


@pytest.mark.parametrize(("paid", "amount", "status", "balance"), [
    ("0.00", "0.01", InvoiceStatus.PARTIALLY_PAID, "37.49"),
    ("0.00", "37.50", InvoiceStatus.PAID, "0.00"),
    ("27.50", "10.00", InvoiceStatus.PAID, "0.00"),  # the payment counts towards the balance
    ("27.50", "9.99", InvoiceStatus.PARTIALLY_PAID, "0.01"),
])
def test_credit_settles_the_balance_after_payments(paid, amount, status, balance):
    invoice = draft(paid=paid, status=InvoiceStatus.PARTIALLY_PAID if Decimal(paid)
                    else InvoiceStatus.OPEN)
    apply_credit(invoice, Decimal(amount))
    assert (invoice.status, invoice.balance_due, invoice.credit_applied, invoice.amount_paid) == (
        status, Decimal(balance), Decimal(amount), Decimal(paid))


@pytest.mark.parametrize(("paid", "amount"), [("27.50", "10.01"), ("0.00", "37.51"),
                                              ("0.00", "0.00"), ("0.00", "-0.01")])
def test_credit_above_the_balance_is_refused(paid, amount):
    invoice = draft(paid=paid)
    with pytest.raises(InvoiceStateError, match=r"^Credit to INV-2026-000042 must be between "
                       r"0\.01 and its balance due\.$"):
        apply_credit(invoice, Decimal(amount))
    assert invoice.credit_applied == 0 and invoice.status == InvoiceStatus.OPEN


@pytest.mark.parametrize(("status", "what", "apply"), [
    (InvoiceStatus.PAID, "credit", apply_credit),
    (InvoiceStatus.VOID, "credit", apply_credit),
    (InvoiceStatus.PAID, "a payment", apply_payment),
])
def test_the_refusal_names_the_invoice_its_status_and_what_it_cannot_take(status, what, apply):
    with pytest.raises(InvoiceStateError, match=rf"^Invoice INV-2026-000042 is {status.value}; "
                       rf"it cannot take {what}\.$"):
        apply(draft(status=status), Decimal("1.00"))


def test_a_payment_over_the_balance_names_the_payment():
    with pytest.raises(InvoiceStateError, match=r"^A payment to INV-2026-000042 must be between "
                       r"0\.01 and its balance due\.$"):
        apply_payment(draft(), Decimal("37.51"))


# Reversals: 37.50 invoice; what was paid or credited goes back and the status follows.
@pytest.mark.parametrize(("status", "paid", "credit", "amount", "after", "left"), [
    (InvoiceStatus.PAID, "37.50", "0.00", "37.50", InvoiceStatus.OPEN, "0.00"),
    (InvoiceStatus.PAID, "37.50", "0.00", "0.01", InvoiceStatus.PARTIALLY_PAID, "37.49"),
    (InvoiceStatus.PARTIALLY_PAID, "10.00", "0.00", "10.00", InvoiceStatus.OPEN, "0.00"),
    # the credit stays applied, so the invoice stays part-paid
    (InvoiceStatus.PAID, "32.50", "5.00", "32.50", InvoiceStatus.PARTIALLY_PAID, "0.00"),
])
def test_a_payment_coming_back_reopens_the_invoice(status, paid, credit, amount, after, left):
    invoice = draft(status=status, paid=paid, credit=credit)
    reverse_payment(invoice, Decimal(amount))
    assert (invoice.status, invoice.amount_paid, invoice.credit_applied) == (
        after, Decimal(left), Decimal(credit))


@pytest.mark.parametrize(("status", "paid", "amount"), [
    (InvoiceStatus.PARTIALLY_PAID, "10.00", "10.01"),  # more than was paid
    (InvoiceStatus.PARTIALLY_PAID, "10.00", "0.00"),
    (InvoiceStatus.PARTIALLY_PAID, "10.00", "-1.00"),
    (InvoiceStatus.OPEN, "0.00", "0.01"),
    (InvoiceStatus.VOID, "10.00", "10.00"),           # a void invoice keeps what it has
])
def test_only_what_was_paid_can_come_back(status, paid, amount):
    invoice = draft(status=status, paid=paid)
    with pytest.raises(InvoiceStateError,
                       match=rf"^{amount} was not paid on invoice INV-2026-000042\.$"):
        reverse_payment(invoice, Decimal(amount))
    assert (invoice.status, invoice.amount_paid) == (status, Decimal(paid))


@pytest.mark.parametrize(("status", "paid", "credit", "amount", "after", "left"), [
    (InvoiceStatus.PAID, "0.00", "37.50", "37.50", InvoiceStatus.OPEN, "0.00"),
    (InvoiceStatus.PAID, "0.00", "37.50", "0.01", InvoiceStatus.PARTIALLY_PAID, "37.49"),
    (InvoiceStatus.PARTIALLY_PAID, "0.00", "5.00", "5.00", InvoiceStatus.OPEN, "0.00"),
    (InvoiceStatus.PAID, "30.00", "7.50", "7.50", InvoiceStatus.PARTIALLY_PAID, "0.00"),
])
def test_credit_taken_off_reopens_the_invoice(status, paid, credit, amount, after, left):
    invoice = draft(status=status, paid=paid, credit=credit)
    reverse_credit(invoice, Decimal(amount))
    assert (invoice.status, invoice.credit_applied, invoice.amount_paid) == (
        after, Decimal(left), Decimal(paid))


@pytest.mark.parametrize(("status", "credit", "amount"), [
    (InvoiceStatus.PARTIALLY_PAID, "5.00", "5.01"),
    (InvoiceStatus.PARTIALLY_PAID, "5.00", "0.00"),
    (InvoiceStatus.PARTIALLY_PAID, "5.00", "-5.00"),
    (InvoiceStatus.OPEN, "0.00", "0.01"),
    (InvoiceStatus.VOID, "5.00", "5.00"),
])
def test_only_credit_that_was_applied_can_be_taken_off(status, credit, amount):
    invoice = draft(status=status, credit=credit)
    with pytest.raises(InvoiceStateError, match=rf"^{amount} of credit was not applied on "
                       r"invoice INV-2026-000042\.$"):
        reverse_credit(invoice, Decimal(amount))
    assert (invoice.status, invoice.credit_applied) == (status, Decimal(credit))
