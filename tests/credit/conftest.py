from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.credit.services import issue_credit_note
from app.extensions import db
from tests.billing.factories import BillingFactory


@pytest.fixture
def billing(factory):
    return BillingFactory(factory)


def invoices_of(account) -> list[Invoice]:
    """The account's invoices, oldest first."""
    return list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                   .order_by(Invoice.issue_date)))


@pytest.fixture
def tenant(billing, factory):
    """A US account with auto-apply off, two open invoices of 37.50 (March and April 2026) and
    a credit note of 50.00; a Canadian account with its own invoices and a credit note of
    CA$20.00; users of every role, and staff."""
    home = billing.account(subscriptions=2, start=date(2026, 1, 1),
                           legal_name="Home Reseller Credit Co")
    home.auto_apply_credit = False
    other = billing.account(subscriptions=1, country="CA", region="ON", currency="CAD",
                            legal_name="Second Tenant Credit Inc")
    db.session.commit()
    for period in ("2026-03", "2026-04"):
        run_billing(Period.parse(period))
    note = issue_credit_note(home, Decimal("50.00"), "Service credit for an outage",
                             issue_date=date(2026, 4, 10))
    other_note = issue_credit_note(other, Decimal("20.00"), "Goodwill credit",
                                   issue_date=date(2026, 4, 10))
    db.session.commit()

    class Tenant:
        account = home
        other_account = other
        invoices = invoices_of(home)
        other_invoices = invoices_of(other)
        credit_note = note.number
        other_credit_note = other_note.number
        users = {role: factory.user(role, account=home)
                 for role in (Role.ADMIN, Role.BILLING, Role.VIEWER)}
        other_admin = factory.user(Role.ADMIN, account=other)
        staff = factory.user(Role.STAFF)

    return Tenant
