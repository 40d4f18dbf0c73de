from datetime import date
from decimal import Decimal

import pytest

from app.accounts.models import Role
from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.extensions import db
from tests.billing.factories import BillingFactory


@pytest.fixture
def billing(factory):
    return BillingFactory(factory)


@pytest.fixture
def tenant(billing, factory):
    """Two accounts (US/USD and CA/CAD), each with an invoice for 2026-03 and users of every
    role; returns a namespace of what was made."""
    billing.tax()
    billing.tax(country="CA", region="ON", rate="0.13")
    home = billing.account(subscriptions=3, start=date(2026, 1, 1))
    customer = services.create_end_customer(home.id, "=Formula Customer")
    services.add_one_time_charge(account_id=home.id, customer=customer, description="Setup",
                                 amount=Decimal("99.00"), charge_date=date(2026, 2, 10))
    other = billing.account(subscriptions=1, country="CA", region="ON", currency="CAD")
    db.session.commit()
    run_billing(Period.parse("2026-03"))
    invoices = {inv.account_id: inv for inv in db.session.query(Invoice).all()}
    users = {role: factory.user(role, account=home) for role in (Role.ADMIN, Role.BILLING,
                                                                 Role.VIEWER)}

    class Tenant:
        account = home
        other_account = other
        invoice = invoices[home.id]
        other_invoice = invoices[other.id]
        other_admin = factory.user(Role.ADMIN, account=other)
        staff = factory.user(Role.STAFF)

    Tenant.users = users
    return Tenant
