"""The billing run's benchmark at a tiny size (PostgreSQL, which its raw-insert baseline needs):
auto-apply is on and the accounts given credit have it applied by the run, whole invoices and
parts of them, from one credit note or two."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice, InvoiceStatus
from app.extensions import db
from app.reconcile import check_all
from bench.billing import CREDIT_EVERY, bench_billing_run


@pytest.mark.postgresql
def test_the_timed_run_applies_the_credit_of_one_account_in_three(app):
    figures = bench_billing_run(app, accounts=2 * CREDIT_EVERY + 1, months=3,
                                log=lambda _: None)
    assert figures["invoices_issued"] == 2 * CREDIT_EVERY + 1
    assert figures["accounts_with_credit"] == figures["invoices_taking_credit"] == 3
    assert figures["credit_applications"] > figures["invoices_taking_credit"]  # two notes
    with app.app_context():
        applied = db.session.scalar(select(func.sum(Invoice.credit_applied)))
        paid_by_credit = db.session.scalar(select(func.count()).select_from(Invoice).where(
            Invoice.credit_applied > 0, Invoice.status == InvoiceStatus.PAID))
        assert Decimal(figures["credit_applied"]) == applied > 0
        assert paid_by_credit == 2  # the accounts with two notes
        assert check_all() == []
    assert figures["run_seconds"] > 0 and figures["raw_insert_seconds"] > 0
