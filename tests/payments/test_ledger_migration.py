"""The ledger migration carries payments, their allocations, overpayments and credit notes
written before it into the ledger (both databases; the suite's schema is built from empty by
the migrations, and this goes one step down and up again)."""

from datetime import date
from decimal import Decimal

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from app.accounts.models import Account
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.credit.services import credit_balance
from app.extensions import db
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.reconcile import check_all

BEFORE_LEDGER = "593e50dde545"


def test_upgrade_carries_payments_and_credit_notes_into_the_ledger(app, billing):
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))  # 37.50
    run_billing(Period.parse("2026-03"))
    invoice_id, account_id = db.session.scalar(select(Invoice.id)), account.id
    db.session.commit()
    db.session.remove()
    downgrade(revision=BEFORE_LEDGER)
    try:
        for statement in (
            "INSERT INTO payments (id, reference, account_id, amount, currency, method_label, "
            "status, received_on, created_at) VALUES (1, 'PAY-OLD', :account, 50.00, 'USD', "
            "'Visa •••• 4242', 'succeeded', '2026-03-09', '2026-03-09 10:00:00')",
            "INSERT INTO payment_allocations (payment_id, invoice_id, amount) "
            "VALUES (1, :invoice, 37.50)",
            "UPDATE invoices SET amount_paid = 37.50, status = 'paid' WHERE id = :invoice",
            "INSERT INTO credit_notes (number, account_id, issue_date, amount, currency, reason, "
            "created_at) VALUES ('CN-2026-000001', :account, '2026-03-20', 5.00, 'USD', "
            "'Correction', '2026-03-20 10:00:00')",
        ):
            db.session.execute(text(statement), {"account": account_id, "invoice": invoice_id})
        db.session.commit()
        db.session.remove()
    finally:
        upgrade()

    rows = [(e.kind, e.amount, e.invoice_id, e.credit_source, e.reference)
            for e in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
    assert rows == [
        (EntryKind.PAYMENT, Decimal("50.00"), None, None, "PAY-OLD"),
        (EntryKind.ALLOCATION, Decimal("37.50"), invoice_id, None, "PAY-OLD"),
        (EntryKind.CREDIT, Decimal("12.50"), None, CreditSource.OVERPAYMENT, "PAY-OLD"),
        (EntryKind.CREDIT, Decimal("5.00"), None, CreditSource.CREDIT_NOTE, "CN-2026-000001"),
    ]
    account = db.session.get(Account, account_id)
    assert account.auto_apply_credit is True
    assert credit_balance(account) == Decimal("17.50")
    assert db.session.get(Invoice, invoice_id).status == InvoiceStatus.PAID
    assert check_all() == []
