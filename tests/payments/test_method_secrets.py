"""No full card number, no security code and no full bank account number is kept in the
database or written to a log after a card and a bank account are added through the pages
(SPEC §14). Every table is dumped as text, every log record of every logger captured."""

import logging
import re

from sqlalchemy import select

from app.accounts.models import Role
from app.extensions import db
from app.payments.gateways.sandbox_models import SandboxBankAccount
from app.payments.models import PaymentMethod
from tests.payments.method_helpers import bank_form, reauthenticate, text

CARD_NUMBER = "4000056655665556"  # a Visa debit test number that passes the Luhn check
CVC = "919"
BANK_ACCOUNT_NUMBER = "000765432104"


def database_text() -> str:
    """Every value of every row of every table, as text."""
    db.session.expire_all()
    values = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            values.extend(str(value) for value in row)
    return "\n".join(values)


def spaced(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def test_no_full_number_or_security_code_is_kept_or_logged(client, login, factory, caplog):
    caplog.set_level(logging.DEBUG)
    account = factory.account()
    login(factory.user(Role.ADMIN, account=account))

    # A card, with a mistake first (the form comes back), then for real.
    page = client.post("/billing/payment-methods/new/card").headers["Location"]
    card = {"number": spaced(CARD_NUMBER), "expiry": "10/31", "cvc": CVC}
    assert CVC not in text(client.post(page, data={**card, "expiry": "13/31"}))
    back = client.post(page, data=card)
    assert back.status_code == 303
    assert client.get(back.headers["Location"]).status_code == 303

    # A bank account, with a mistake first, then for real.
    reauthenticate(client)
    form = text(client.get("/billing/payment-methods/new/ach"))
    client.post("/billing/payment-methods/new/ach",
                data=bank_form(form, account_number=BANK_ACCOUNT_NUMBER,
                               confirm_account_number="0"))
    response = client.post("/billing/payment-methods/new/ach",
                           data=bank_form(form, account_number=BANK_ACCOUNT_NUMBER,
                                          confirm_account_number=BANK_ACCOUNT_NUMBER))
    assert response.status_code == 303

    stored = database_text()
    # The dump holds both methods (so it is the right data), and no secret.
    assert {m.label for m in db.session.scalars(select(PaymentMethod))} == {
        "Visa •••• 5556", "ACH •••• 2104"}
    assert "Visa •••• 5556" in stored and "ACH •••• 2104" in stored
    logged = caplog.text
    for where in (stored, logged):
        for secret in (CARD_NUMBER, spaced(CARD_NUMBER), BANK_ACCOUNT_NUMBER):
            assert secret not in where
        assert not re.search(rf"(?<![0-9A-Za-z]){CVC}(?![0-9A-Za-z])", where)
    # The bank account number is at the gateway, encrypted.
    encrypted = db.session.scalar(select(SandboxBankAccount.account_number_encrypted))
    assert encrypted and BANK_ACCOUNT_NUMBER not in encrypted
