"""Test data for the pay flow: an account with open invoices, its methods added through the
method services (cards tokenised by the sandbox, bank accounts verified by micro-deposits)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import Account, Role, User
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.credit.services import issue_credit_note
from app.extensions import db
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.models import PaymentMethod

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
GOOD_BANK_ACCOUNT = "000123456789"
TODAY = date(2026, 6, 10)


def add_card(account: Account, user: User, number: str = GOOD_CARD) -> PaymentMethod:
    gateway = get_gateway()
    setup = gateway.begin_card_setup(customer=account.number, return_url="/back")
    gateway.tokenize_card(setup.reference, number=number, exp_month=12, exp_year=2040, cvc="123")
    method = methods.add_card(account, gateway.finish_card_setup(setup.reference), user=user)
    db.session.commit()
    return method


def add_bank_account(account: Account, user: User, number: str = GOOD_BANK_ACCOUNT
                     ) -> PaymentMethod:
    method = methods.add_bank_account(
        account, holder_name=account.legal_name, routing_number="110000000",
        account_number=number, account_type="checking", payee="Northgate Cloud Distribution",
        authorisation=methods.Authorisation(user, "203.0.113.9", datetime.now(UTC)),
        today=TODAY,
    )
    assert methods.verify_bank_account(method, (Decimal("0.32"), Decimal("0.45")), today=TODAY)
    db.session.commit()
    return method


def give_credit(account: Account, amount: str) -> None:
    issue_credit_note(account, Decimal(amount), "Service credit", issue_date=date(2026, 5, 2))
    db.session.commit()


@dataclass
class Reseller:
    account: Account
    users: dict
    invoices: list[Invoice]  # oldest first: three of 37.50 (March, April, May 2026)

    @property
    def payer(self) -> User:
        return self.users[Role.BILLING]


def make_reseller(billing, factory, *, periods=("2026-03", "2026-04", "2026-05"),
                  **fields) -> Reseller:
    account = billing.account(subscriptions=2, start=date(2026, 1, 1), **fields)
    account.auto_apply_credit = False
    db.session.commit()
    for period in periods:
        run_billing(Period.parse(period), account_ids=[account.id])
    users = {role: factory.user(role, account=account)
             for role in (Role.ADMIN, Role.BILLING, Role.VIEWER)}
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                       .order_by(Invoice.issue_date)))
    return Reseller(account, users, invoices)
