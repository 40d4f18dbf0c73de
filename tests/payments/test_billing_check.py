"""`flask billing check`: passes on consistent data, exits 1 naming each difference when a
stored figure no longer matches the ledger."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.credit.services import issue_credit_note
from app.extensions import db
from app.payments.models import Payment, PaymentStatus
from app.payments.services import create_payment


@pytest.fixture
def books(billing):
    """An account with an invoice paid in part, one overpaid, and a credit note."""
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))
    account.auto_apply_credit = False
    for period in ("2026-03", "2026-04"):
        run_billing(Period.parse(period))
    march, april = db.session.scalars(select(Invoice).order_by(Invoice.id))
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(march, Decimal("10.00"))], received_on=date(2026, 3, 9))
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(april, april.balance_due)], amount=Decimal("50.00"),
                   received_on=date(2026, 4, 9))
    issue_credit_note(account, Decimal("5.00"), "Correction", issue_date=date(2026, 4, 10))
    db.session.commit()
    return march, april


def check(app):
    return app.test_cli_runner().invoke(args=["billing", "check"])


def test_consistent_books_pass(app, books):
    result = check(app)
    assert result.exit_code == 0, result.output + result.stderr
    assert "agree with the ledger" in result.output


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("amount_paid", "12.00", "amount_paid is 12.00, the ledger says 10.00"),
    ("credit_applied", "1.00", "credit_applied is 1.00, the ledger says 0.00"),
    ("status", InvoiceStatus.PAID, "status is paid, its balance says partially_paid"),
])
def test_a_tampered_invoice_is_named(app, books, column, value, expected):
    march, _ = books
    db.session.execute(update(Invoice).where(Invoice.id == march.id).values({column: value}))
    db.session.commit()
    result = check(app)
    assert result.exit_code == 1
    assert f"Invoice {march.number}: {expected}" in result.stderr


def test_a_tampered_payment_is_named(app, books):
    payment = db.session.scalars(select(Payment).order_by(Payment.id)).first()
    db.session.execute(update(Payment).where(Payment.id == payment.id)
                       .values(status=PaymentStatus.FAILED))
    db.session.commit()
    result = check(app)
    assert result.exit_code == 1
    assert (f"Payment {payment.reference} (failed): the ledger holds 10.00 received, "
            "expected 0.00.") in result.stderr


def test_a_payment_the_gateway_has_not_answered_for_is_held(app, books):
    """An `unknown` payment holds its invoices (and its money in the ledger) until the
    gateway is asked: consistent, not a difference."""
    march, _ = books
    create_payment(account_id=march.account_id, currency="USD", method_label="ACH •••• 6789",
                   allocations=[(march, Decimal("5.00"))], received_on=date(2026, 3, 20),
                   status=PaymentStatus.UNKNOWN, idempotency_key="unanswered")
    db.session.commit()
    result = check(app)
    assert result.exit_code == 0, result.output + result.stderr
