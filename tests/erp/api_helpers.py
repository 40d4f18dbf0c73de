"""Data for the ERP API tests: a reseller with issued invoices, a verified bank account and an
ACH payment still processing, a card payment, a submitted change request, and a token to call
the API with."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import Account, Role
from app.billing.engine import run_billing
from app.billing.models import Invoice, Subscription
from app.billing.rating import Period
from app.changes.models import ChangeRequest, ChangeType
from app.erp.tokens import create_token
from app.extensions import db
from app.payments.models import Payment
from tests.billing.factories import BillingFactory
from tests.changes.conftest import submitted
from tests.payments.gateway_factory import Calendar, bank_account, card, pay, sandbox_on

TODAY = date(2026, 11, 2)  # a Monday
API = "/api/erp/v1"


@dataclass
class Reseller:
    account: Account
    invoices: list[Invoice]
    subscription: Subscription


@dataclass
class Seed:
    token: str
    a: Reseller
    b: Reseller
    ach: Payment  # processing, of A
    card: Payment  # succeeded, of A
    change: ChangeRequest  # a legal name change of A, submitted with one document

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def reseller(factory, billing: BillingFactory, **fields) -> Reseller:
    account = billing.account(subscriptions=2, start=date(2026, 1, 1), **fields)
    account.auto_apply_credit = False
    db.session.commit()
    for period in ("2026-03", "2026-04"):
        run_billing(Period.parse(period), account_ids=[account.id])
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                       .order_by(Invoice.issue_date)))
    subscription = db.session.scalars(select(Subscription).where(
        Subscription.account_id == account.id).order_by(Subscription.id)).first()
    return Reseller(account, invoices, subscription)


def seed(app, monkeypatch, factory) -> Seed:
    sandbox_on(app, monkeypatch, Calendar(TODAY))
    billing = BillingFactory(factory)
    billing.tax()
    a = reseller(factory, billing)
    b = reseller(factory, billing)
    admin = factory.user(Role.ADMIN, account=a.account)
    ach = pay(bank_account(a.account, admin), [(a.invoices[0], Decimal("5.00"))])
    paid_by_card = pay(card(a.account, admin), [(a.invoices[1], Decimal("5.00"))])
    change = submitted(ChangeType.LEGAL_NAME, admin)
    _, text = create_token("ERP tests")
    db.session.commit()
    return Seed(text, a, b, ach, paid_by_card, change)
