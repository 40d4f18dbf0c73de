"""PostgreSQL, real threads: two payments racing for one invoice never over-pay it, and two
credit applications never spend the same credit twice."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.credit.services import apply_credit, create_credit, credit_balance
from app.errors import DomainError
from app.extensions import db
from app.ledger.models import CreditSource
from app.payments.services import create_payment
from app.reconcile import check_all

pytestmark = pytest.mark.postgresql


def race(app, work, count=2) -> list[str]:
    """Run `work(n)` in `count` threads at once, each in its own session; their outcomes."""
    outcomes, barrier = [], threading.Barrier(count)

    def run(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                work(n)
                db.session.commit()
                outcomes.append("done")
            except DomainError as error:
                db.session.rollback()
                outcomes.append(error.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def invoices(billing):
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))
    account.auto_apply_credit = False
    db.session.commit()
    for period in ("2026-03", "2026-04"):
        run_billing(Period.parse(period))
    return list(db.session.scalars(select(Invoice).order_by(Invoice.id)))


def test_two_payments_for_one_invoice_never_over_pay_it(app, invoices):
    invoice_id, account_id, total = invoices[0].id, invoices[0].account_id, invoices[0].total

    def pay(_: int) -> None:
        invoice = db.session.get(Invoice, invoice_id)  # read before the other pays
        create_payment(account_id=account_id, currency="USD", method_label="Visa",
                       allocations=[(invoice, total)], received_on=date(2026, 3, 9))

    outcomes = race(app, pay)
    assert sorted(outcomes) == sorted(
        ["done", f"Invoice {invoices[0].number} is paid; it cannot take a payment."])
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice_id)
    assert invoice.amount_paid == total and invoice.status == InvoiceStatus.PAID
    assert check_all() == []


def test_two_applications_never_spend_one_credit_twice(app, invoices):
    account = invoices[0].account
    create_credit(account, Decimal("30.00"), CreditSource.CREDIT_NOTE,
                  effective_on=date(2026, 3, 1), reference="CN-1")
    db.session.commit()
    ids = [invoice.id for invoice in invoices]

    def spend(n: int) -> None:
        apply_credit(db.session.get(Invoice, ids[n]), Decimal("30.00"), on=date(2026, 4, 2))

    outcomes = race(app, spend)
    assert sorted(outcomes) == sorted(["done", "The account does not have that much credit."])
    db.session.expire_all()
    assert credit_balance(account) == 0
    assert sum(db.session.get(Invoice, i).credit_applied for i in ids) == Decimal("30.00")
    assert check_all() == []
