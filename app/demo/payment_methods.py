"""The demo accounts' payment methods (SPEC §3), made as a reseller makes them: through the
payment method services and the sandbox gateway. Northwind has a Visa card ending in 4242 (its
default) and a verified bank account (routing 110000000, account 000123456789, checking) whose
debit authorisation its admin accepted; Contoso, billed in CAD, has a card only."""

from datetime import date

from flask import current_app, url_for

from app.accounts.models import Account, Role, User, utcnow
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.gateways.base import BankAccountType
from app.payments.gateways.sandbox import (
    MICRO_DEPOSIT_AMOUNTS,
    TEST_ROUTING_NUMBER,
    SandboxGateway,
)
from app.payments.models import PaymentMethod

DEMO_CARD_NUMBER = "4242424242424242"
DEMO_CARD_CVC = "123"
DEMO_CARD_YEARS = 3  # the card expires in December, this many years ahead
DEMO_BANK_ACCOUNT_NUMBER = "000123456789"


def seed_payment_methods(account: Account, users: list[User], today: date) -> list[PaymentMethod]:
    """A card for the account, and for an account billed in USD a bank account verified with
    the sandbox's micro-deposits, the authorisation accepted by the account's admin. Nothing
    when another gateway than the sandbox is configured (its test data would be its own)."""
    gateway = get_gateway()
    if not isinstance(gateway, SandboxGateway):
        return []
    admin = next(user for user in users if user.role == Role.ADMIN)
    with current_app.test_request_context():
        return_url = url_for("payments.card_return")
    setup = gateway.begin_card_setup(customer=account.number, return_url=return_url)
    gateway.tokenize_card(setup.reference, number=DEMO_CARD_NUMBER, exp_month=12,
                          exp_year=today.year + DEMO_CARD_YEARS, cvc=DEMO_CARD_CVC)
    created = [methods.add_card(account, gateway.finish_card_setup(setup.reference), user=admin)]
    if account.currency in methods.ACH_CURRENCIES:
        bank = methods.add_bank_account(
            account,
            holder_name=account.legal_name,
            routing_number=TEST_ROUTING_NUMBER,
            account_number=DEMO_BANK_ACCOUNT_NUMBER,
            account_type=BankAccountType.CHECKING,
            payee=current_app.config["ISSUER_NAME"],
            # Seeded, not sent from a browser: no client address to record.
            authorisation=methods.Authorisation(admin, None, utcnow()),
            today=today,
        )
        methods.verify_bank_account(bank, MICRO_DEPOSIT_AMOUNTS, today=today)
        created.append(bank)
    return created
