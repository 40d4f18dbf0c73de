"""What the payment method tests build: two tenants with users of every role and methods made
through the services and the sandbox gateway, and the steps a browser takes through the pages."""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import unescape

from flask.testing import FlaskClient

from app.accounts.models import Account, Role, User
from app.extensions import db
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.models import PaymentMethod
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}
MANAGERS = [Role.ADMIN, Role.BILLING]
READERS = [Role.ADMIN, Role.BILLING, Role.VIEWER]
GOOD_CARD = "4242424242424242"
BANK_NUMBER = "000123456789"
RIGHT = ("0.32", "0.45")


@dataclass
class Tenants:
    account: Account
    users: dict
    card: PaymentMethod
    bank: PaymentMethod  # waiting for verification
    other_account: Account
    other_admin: User
    other_card: PaymentMethod
    staff: User
    method_ids: list[int] = field(default_factory=list)


def tokenized_card(account: Account, number: str = GOOD_CARD, exp_year: int = 2034):
    gateway = get_gateway()
    setup = gateway.begin_card_setup(customer=account.number, return_url="/billing")
    gateway.tokenize_card(setup.reference, number=number, exp_month=12, exp_year=exp_year,
                          cvc="123")
    return gateway.finish_card_setup(setup.reference)


def add_card(account: Account, user: User, number: str = GOOD_CARD) -> PaymentMethod:
    method = methods.add_card(account, tokenized_card(account, number), user=user)
    db.session.commit()
    return method


def add_bank(account: Account, admin: User, number: str = BANK_NUMBER,
             today: date | None = None) -> PaymentMethod:
    method = methods.add_bank_account(
        account, holder_name=account.legal_name, routing_number="110000000",
        account_number=number, account_type="checking", payee="Payee Inc",
        authorisation=methods.Authorisation(admin, "198.51.100.1", datetime.now(UTC)),
        today=today or date.today(),
    )
    db.session.commit()
    return method


def make_tenants(factory) -> Tenants:
    """A US account (USD) with a card (the default) and a bank account waiting for
    verification, users of every role; a second tenant in Canada (CAD) with a card; staff."""
    account = factory.account(legal_name="Acme Widgets & Sons")
    users = {role: factory.user(role, account=account) for role in READERS}
    card = add_card(account, users[Role.BILLING])
    bank = add_bank(account, users[Role.ADMIN])
    other = factory.account(legal_name="Maple Resale Inc", country="CA", region="ON",
                            currency="CAD")
    other_admin = factory.user(Role.ADMIN, account=other)
    other_card = add_card(other, other_admin, "5555555555554444")
    return Tenants(account, users, card, bank, other, other_admin, other_card,
                   factory.user(Role.STAFF), [card.id, bank.id])


def reauthenticate(client: FlaskClient, password: str = PASSWORD, url: str = "/login/confirm"):
    """Confirm the password (at `url`, the confirmation page with its `next`)."""
    response = client.post(url, data={"password": password})
    assert response.status_code == 303, response.status_code
    return response


def text(response) -> str:
    return response.get_data(as_text=True)


def field_error(body: str, field_id: str) -> str | None:
    """The error shown next to a field (the macro's `<id>-error`), as plain text."""
    match = re.search(rf'id="{field_id}-error">(.*?)</p>', body, re.S)
    return unescape(match.group(1)).strip() if match else None


def input_tag(body: str, name: str, value: str | None = None) -> str | None:
    """The first `<input>` tag named `name` (with this value, for a radio button)."""
    for match in re.finditer(r"<input\b[^>]*>", body):
        tag = match.group(0)
        if f'name="{name}"' in tag and (value is None or f'value="{value}"' in tag):
            return tag
    return None


def input_value(body: str, name: str) -> str | None:
    tag = input_tag(body, name)
    if tag is None:
        return None
    value = re.search(r'value="([^"]*)"', tag)
    return unescape(value.group(1)) if value else ""


def csrf_token(body: str) -> str:
    return input_value(body, "csrf_token")


def authorisation_on_page(body: str) -> str:
    """The debit authorisation's words as the page shows them."""
    match = re.search(r'id="ccd-authorisation">(.*?)</p>', body, re.S)
    assert match, "no authorisation on the page"
    return unescape(re.sub(r"\s+", " ", match.group(1))).strip()


def bank_form(body: str, **overrides) -> dict:
    """A filled-in bank account form, with the authorisation fingerprint the page holds."""
    return {
        "holder_name": "Acme Widgets & Sons", "routing_number": "110000000",
        "account_number": BANK_NUMBER, "confirm_account_number": BANK_NUMBER,
        "account_type": "checking", "accept_authorisation": "y",
        "authorisation_digest": input_value(body, "authorisation_digest"), **overrides,
    }
