"""Payment method states (app.payments.methods): cards verified on adding, bank accounts
verified by micro-deposits within VERIFICATION_TRIES tries and VERIFICATION_DAYS days,
disabled by a closing return, one default per account."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.accounts.models import Role
from app.events.models import OutboxEvent
from app.extensions import db
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.models import MethodStatus

TODAY = date(2026, 3, 2)
RIGHT = (Decimal("0.45"), Decimal("0.32"))
WRONG = (Decimal("0.12"), Decimal("0.34"))


def _card(account, number="4242424242424242"):
    gateway = get_gateway()
    setup = gateway.begin_card_setup(customer=account.number, return_url="/back")
    gateway.tokenize_card(setup.reference, number=number, exp_month=12, exp_year=2030, cvc="123")
    return gateway.finish_card_setup(setup.reference)


def _bank(account, user, number="000123456789"):
    return methods.add_bank_account(
        account, holder_name="Northwind Cloud", routing_number="110000000",
        account_number=number, account_type="checking", payee="Distributor Inc",
        authorisation=methods.Authorisation(user, "203.0.113.9",
                                            datetime(2026, 3, 2, tzinfo=UTC)),
        today=TODAY,
    )


def test_card_is_verified_and_first_method_is_default(app, factory):
    account = factory.account()
    user = factory.user(Role.BILLING, account=account)
    card = methods.add_card(account, _card(account), user=user)
    assert (card.status, card.is_default, card.label) == (MethodStatus.VERIFIED, True,
                                                          "Visa •••• 4242")
    second = methods.add_card(account, _card(account, "5555555555554444"), user=user)
    assert not second.is_default
    methods.set_default(second, TODAY)
    db.session.commit()
    assert [m.id for m in methods.list_methods(account.id) if m.is_default] == [second.id]


def test_bank_account_stores_authorisation_and_verifies(app, factory):
    account = factory.account(legal_name="Northwind Cloud Solutions")
    admin = factory.user(Role.ADMIN, account=account)
    bank = _bank(account, admin)
    assert bank.status == MethodStatus.PENDING_VERIFICATION
    assert bank.verification_expires_on == TODAY + timedelta(days=methods.VERIFICATION_DAYS)
    assert bank.authorisation_text.startswith(
        f"Northwind Cloud Solutions ({account.number}) authorises Distributor Inc to debit the "
        "business bank account entered above by ACH (CCD entries)")
    assert bank.authorisation_text == methods.authorisation_text(account, payee="Distributor Inc")
    # The account the words refer to ("entered above") is kept beside them.
    assert (bank.holder_name, bank.routing_number, bank.last4, bank.account_type.value) == (
        "Northwind Cloud", "110000000", "6789", "checking")
    assert (bank.authorised_by_id, bank.authorised_ip) == (admin.id, "203.0.113.9")
    assert methods.verify_bank_account(bank, RIGHT, today=TODAY)
    assert bank.status == MethodStatus.VERIFIED and bank.is_default
    types = [e.event_type for e in db.session.query(OutboxEvent).order_by(OutboxEvent.id)]
    assert types == ["payment_method.added", "payment_method.verified"]


def test_wrong_amounts_lock_after_the_tries(app, factory):
    account = factory.account()
    bank = _bank(account, factory.user(Role.ADMIN, account=account))
    for _ in range(methods.VERIFICATION_TRIES):
        assert not methods.verify_bank_account(bank, WRONG, today=TODAY)
    assert bank.status == MethodStatus.LOCKED
    with pytest.raises(methods.MethodStateError):
        methods.verify_bank_account(bank, RIGHT, today=TODAY)


def test_unverified_bank_account_expires(app, factory):
    account = factory.account()
    bank = _bank(account, factory.user(Role.ADMIN, account=account))
    last_day = TODAY + timedelta(days=methods.VERIFICATION_DAYS)
    assert methods.expire_unverified_methods(last_day) == 0
    assert methods.expire_unverified_methods(last_day + timedelta(days=1)) == 1
    assert bank.status == MethodStatus.EXPIRED


def test_cad_account_cannot_add_a_bank_account(app, factory):
    account = factory.account(country="CA", region="ON", currency="CAD")
    with pytest.raises(methods.MethodStateError, match="US dollars"):
        _bank(account, factory.user(Role.ADMIN, account=account))


def test_disabled_method_is_not_usable(app, factory):
    account = factory.account()
    bank = _bank(account, factory.user(Role.ADMIN, account=account))
    methods.verify_bank_account(bank, RIGHT, today=TODAY)
    methods.disable_method(bank, "The account is closed.")
    assert not methods.is_usable(bank, TODAY) and not bank.is_default
    assert methods.usable_methods(account.id, TODAY) == []
