"""An approved change and the invoices: an issued invoice keeps its bill-to snapshot, the next
billing run bills with the new address and tax status, and the run applies the changes whose
effective date has come before it bills (billing does not import changes)."""

from datetime import date, timedelta
from decimal import Decimal

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.changes import services
from app.changes.models import ChangeType
from app.extensions import db
from tests.billing.factories import BillingFactory
from tests.changes.conftest import submitted


def test_issued_invoices_keep_their_snapshot_and_the_next_run_uses_the_new_values(factory):
    billing = BillingFactory(factory)
    billing.tax()
    account = billing.account(subscriptions=2, start=date(2026, 1, 1), tax_id="91-1144442")
    admin = factory.user(Role.ADMIN, account=account)
    run_billing(Period.parse("2026-02"))
    first = db.session.query(Invoice).filter_by(account_id=account.id).one()
    snapshot = (first.bill_to_name, first.bill_to_address, first.bill_to_tax_id)
    assert first.tax_total > 0

    day = date(2026, 3, 5)
    for kind, values in ((ChangeType.ADDRESS, None), (ChangeType.LEGAL_NAME, None),
                         (ChangeType.TAX, None)):
        change = submitted(kind, admin, values=values)
        services.decide_request(change, approve=True, reason=None, effective_date=day,
                                today=day)
    db.session.commit()

    db.session.refresh(first)
    assert (first.bill_to_name, first.bill_to_address, first.bill_to_tax_id) == snapshot
    run_billing(Period.parse("2026-03"))
    second = db.session.query(Invoice).filter_by(account_id=account.id) \
        .order_by(Invoice.id.desc()).first()
    assert second.id != first.id
    assert second.bill_to_name == "Northwind Cloud Holdings Inc."
    assert second.bill_to_address.splitlines()[:3] == ["500 Pine Street", "Floor 3",
                                                      "Spokane WA 99201"]
    assert second.tax_total == Decimal("0.00")  # tax-exempt from the change on
    assert first.bill_to_address.startswith("1 Main Street")


def test_a_billing_run_applies_the_changes_that_are_due_first(factory):
    billing = BillingFactory(factory)
    billing.tax()
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))
    admin = factory.user(Role.ADMIN, account=account)
    change = submitted(ChangeType.ADDRESS, admin)
    yesterday = date.today() - timedelta(days=1)
    services.decide_request(change, approve=True, reason=None, effective_date=date.today(),
                            today=yesterday)
    db.session.commit()
    assert change.applied_at is None
    run_billing(Period.parse("2026-02"))
    db.session.refresh(change)
    assert change.applied_at is not None
    invoice = db.session.query(Invoice).filter_by(account_id=account.id).one()
    assert invoice.bill_to_address.startswith("500 Pine Street")
