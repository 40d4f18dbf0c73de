"""Dashboard test data: a reseller billed for March to May 2026 (three invoices of 37.50,
due 30 days after their issue date), its users of every role, and a second tenant in CAD with
invoices, credit, a payment and a change request of its own, which must never be counted."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.accounts.models import Account, Role, User
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.changes.models import ChangeType
from app.credit.services import issue_credit_note
from app.extensions import db
from tests.billing.factories import BillingFactory
from tests.changes.conftest import documents_dir, submitted  # noqa: F401 - documents_dir: autouse
from tests.payments import gateway_factory

PERIODS = ("2026-03", "2026-04", "2026-05")


@pytest.fixture
def billing(factory):
    return BillingFactory(factory)


def invoices_of(account: Account) -> list[Invoice]:
    """The account's invoices, oldest first."""
    return list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                   .order_by(Invoice.issue_date, Invoice.id)))


@dataclass
class Tenant:
    account: Account
    users: dict[Role, User]
    other: Account
    other_admin: User
    staff: User

    @property
    def invoices(self) -> list[Invoice]:
        return invoices_of(self.account)


@pytest.fixture
def tenant(billing, factory) -> Tenant:
    home = billing.account(subscriptions=2, start=date(2026, 1, 1), legal_name="Home Reseller")
    home.auto_apply_credit = False
    other = billing.account(subscriptions=3, start=date(2026, 1, 1), country="CA", region="ON",
                            currency="CAD", legal_name="Second Tenant Inc",
                            tax_id="123456782RT0001")
    other.auto_apply_credit = False
    db.session.commit()
    for period in PERIODS:
        run_billing(Period.parse(period))
    users = {role: factory.user(role, account=home)
             for role in (Role.ADMIN, Role.BILLING, Role.VIEWER)}
    other_admin = factory.user(Role.ADMIN, account=other)
    # The second tenant's own credit, payment and change request.
    issue_credit_note(other, Decimal("20.00"), "Goodwill credit", issue_date=date(2026, 4, 10))
    other_card = gateway_factory.card(other, other_admin)
    gateway_factory.pay(other_card, [(invoices_of(other)[0], Decimal("5.00"))])
    db.session.commit()
    submitted(ChangeType.LEGAL_NAME, other_admin)
    return Tenant(home, users, other, other_admin, factory.user(Role.STAFF))
