"""The sandbox gateway (SPEC §8): test cards, ACH test accounts and micro-deposits, settlement
after 3 business days on its clock, returns with R-codes, idempotent charges, timeouts and their
reconciliation, and nothing stored in clear. Runs on SQLite and PostgreSQL."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.extensions import db
from app.payments.gateways import get_gateway
from app.payments.gateways.ach_returns import describe_return
from app.payments.gateways.base import (
    BankAccountStatus,
    CardSetupError,
    ChargeNotFound,
    ChargeStatus,
    EventNotFound,
    EventType,
    IdempotencyConflict,
    InvalidChargeRequest,
    InvalidPaymentDetails,
    MethodNotFound,
    MethodNotUsable,
    VerificationError,
)
from app.payments.gateways.encryption import DecryptionError, FieldEncryptor
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.gateways.sandbox_models import (
    SandboxBankAccount,
    SandboxCard,
    SandboxCardSetup,
    SandboxCharge,
)

FRIDAY = date(2026, 11, 20)
CUSTOMER = "R-100001"
RIGHT_AMOUNTS = (Decimal("0.32"), Decimal("0.45"))


class Calendar:
    """The wall calendar the sandbox clock never runs behind; tests move it by hand."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def calendar() -> Calendar:
    return Calendar(FRIDAY)


@pytest.fixture
def gateway(app, calendar) -> SandboxGateway:
    return SandboxGateway(FieldEncryptor.from_config(app.config), calendar_today=calendar)


def add_card(gateway, number="4242 4242 4242 4242", exp_month=12, exp_year=2030, cvc="123"):
    setup = gateway.begin_card_setup(customer=CUSTOMER, return_url="https://portal.test/back")
    gateway.tokenize_card(
        setup.reference, number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc
    )
    return gateway.finish_card_setup(setup.reference)


def add_bank_account(gateway, account_number="000123456789", routing_number="110000000"):
    return gateway.create_bank_account(
        customer=CUSTOMER,
        holder_name="Northwind Cloud Solutions",
        routing_number=routing_number,
        account_number=account_number,
        account_type="checking",
    )


def add_verified_bank_account(gateway, account_number="000123456789", routing_number="110000000"):
    account = add_bank_account(gateway, account_number, routing_number)
    gateway.start_micro_deposits(account.reference)
    check = gateway.verify_micro_deposits(account.reference, RIGHT_AMOUNTS)
    assert check.matched
    return check.account


def charge_count() -> int:
    return len(db.session.scalars(select(SandboxCharge)).all())


def test_the_default_gateway_is_the_sandbox(app):
    assert app.config["PAYMENT_GATEWAY"] == "sandbox"
    assert isinstance(get_gateway(), SandboxGateway)
    assert get_gateway().name == "sandbox"


# --- Cards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "cvc", "status", "decline_code", "reason_words"),
    [
        ("4242 4242 4242 4242", "123", ChargeStatus.SUCCEEDED, None, None),
        ("4000 0000 0000 0002", "123", ChargeStatus.FAILED, "generic_decline", "declined"),
        ("4000 0000 0000 9995", "123", ChargeStatus.FAILED, "insufficient_funds", "insufficient"),
        # Any other number with a valid Luhn digit succeeds.
        ("5555 5555 5555 4444", "123", ChargeStatus.SUCCEEDED, None, None),
        ("3782 822463 10005", "1234", ChargeStatus.SUCCEEDED, None, None),
        ("4000 0000 0000 0010", "123", ChargeStatus.SUCCEEDED, None, None),
    ],
)
def test_test_cards(gateway, number, cvc, status, decline_code, reason_words):
    card = add_card(gateway, number, cvc=cvc)
    result = gateway.charge(card.token, Decimal("120.50"), "USD", f"key-{number}")
    assert result.status == status
    assert result.decline_code == decline_code
    assert result.reference is not None
    assert (result.amount, result.currency, result.method_reference) == (
        Decimal("120.50"),
        "USD",
        card.token,
    )
    if reason_words is None:
        assert result.failure_reason is None
    else:
        assert reason_words in result.failure_reason


@pytest.mark.parametrize(
    ("number", "brand", "last4"),
    [
        ("4242 4242 4242 4242", "Visa", "4242"),
        ("5555-5555-5555-4444", "Mastercard", "4444"),
        ("6011 1111 1111 1117", "Discover", "1117"),
    ],
)
def test_a_card_token_carries_brand_last4_and_expiry_only(gateway, number, brand, last4):
    card = add_card(gateway, number, exp_month=3, exp_year=29)
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == (brand, last4, 3, 2029)
    assert card.token.startswith("card_")
    assert card.label == f"{brand} •••• {last4}"
    assert gateway.get_card(card.token) == card


@pytest.mark.parametrize(
    ("number", "exp_month", "exp_year", "cvc", "field"),
    [
        ("4242 4242 4242 4241", 12, 2030, "123", "number"),  # Luhn check digit wrong
        ("4242 4242", 12, 2030, "123", "number"),
        ("4242 4242 4242 4242", 10, 2026, "123", "expiry"),  # expired last month
        ("4242 4242 4242 4242", 13, 2030, "123", "expiry"),
        ("4242 4242 4242 4242", 12, 2030, "12", "cvc"),
        ("3782 822463 10005", 12, 2030, "123", "cvc"),  # American Express has 4 digits
    ],
)
def test_bad_card_details_are_refused_at_tokenisation(
    gateway, number, exp_month, exp_year, cvc, field
):
    setup = gateway.begin_card_setup(customer=CUSTOMER, return_url="https://portal.test/back")
    with pytest.raises(InvalidPaymentDetails) as error:
        gateway.tokenize_card(
            setup.reference, number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc
        )
    assert error.value.field == field
    assert db.session.scalars(select(SandboxCard)).all() == []
    # The form stays open: the user corrects the field and goes on.
    assert gateway.card_setup_return_url(setup.reference) == "https://portal.test/back"
    card = add_card(gateway)
    assert card.last4 == "4242"


def test_card_setup_session(gateway):
    setup = gateway.begin_card_setup(customer=CUSTOMER, return_url="https://portal.test/back")
    assert setup.redirect_url == f"/sandbox/gateway/cards/{setup.reference}"
    with pytest.raises(CardSetupError, match="No card was entered"):
        gateway.finish_card_setup(setup.reference)
    card = gateway.tokenize_card(
        setup.reference, number="4242424242424242", exp_month=1, exp_year=2031, cvc="999"
    )
    assert gateway.finish_card_setup(setup.reference) == card
    assert gateway.finish_card_setup(setup.reference) == card  # finishing again is harmless
    with pytest.raises(CardSetupError, match="already"):
        gateway.tokenize_card(
            setup.reference, number="5555555555554444", exp_month=1, exp_year=2031, cvc="999"
        )
    with pytest.raises(CardSetupError):
        gateway.finish_card_setup("cs_unknown")
    with pytest.raises(CardSetupError):
        gateway.card_setup_return_url("cs_unknown")


def test_an_expired_card_setup_takes_no_card(gateway):
    setup = gateway.begin_card_setup(customer=CUSTOMER, return_url="https://portal.test/back")
    db.session.execute(
        update(SandboxCardSetup).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    with pytest.raises(CardSetupError, match="expired"):
        gateway.tokenize_card(
            setup.reference, number="4242424242424242", exp_month=1, exp_year=2031, cvc="999"
        )
    with pytest.raises(CardSetupError, match="expired"):
        gateway.finish_card_setup(setup.reference)


def test_a_card_that_expired_since_it_was_saved_is_declined(gateway, calendar):
    card = add_card(gateway, exp_month=11, exp_year=2026)
    assert gateway.charge(card.token, Decimal("5.00"), "USD", "k1").status == "succeeded"
    calendar.today = date(2026, 12, 1)
    result = gateway.charge(card.token, Decimal("5.00"), "USD", "k2")
    assert (result.status, result.decline_code) == (ChargeStatus.FAILED, "expired_card")
    assert "expired" in result.failure_reason


def test_a_removed_method_cannot_be_charged(gateway):
    card = add_card(gateway)
    account = add_verified_bank_account(gateway)
    for reference in (card.token, account.reference):
        gateway.remove_method(reference)
        gateway.remove_method(reference)  # removing again is harmless
        with pytest.raises(MethodNotUsable):
            gateway.charge(reference, Decimal("5.00"), "USD", f"key-{reference}")
    assert charge_count() == 0


@pytest.mark.parametrize("reference", ["card_missing", "ba_missing", "pm_other"])
def test_unknown_methods(gateway, reference):
    with pytest.raises(MethodNotFound):
        gateway.charge(reference, Decimal("5.00"), "USD", "k")
    with pytest.raises(MethodNotFound):
        gateway.remove_method(reference)


# --- Bank accounts and micro-deposits -------------------------------------------------------


@pytest.mark.parametrize(
    ("routing_number", "account_number", "field"),
    [
        ("110000001", "000123456789", "routing_number"),  # ABA checksum wrong
        ("11000000", "000123456789", "routing_number"),
        ("110000000", "123", "account_number"),
        ("110000000", "123456789012345678", "account_number"),
    ],
)
def test_bad_bank_details_are_refused(gateway, routing_number, account_number, field):
    with pytest.raises(InvalidPaymentDetails) as error:
        add_bank_account(gateway, account_number, routing_number)
    assert error.value.field == field
    assert db.session.scalars(select(SandboxBankAccount)).all() == []


def test_a_new_bank_account_shows_last4_only(gateway):
    account = add_bank_account(gateway, "0001 2345 6789", "110 000 000")
    assert account.reference.startswith("ba_")
    assert (account.routing_number, account.last4, account.label) == (
        "110000000",
        "6789",
        "ACH •••• 6789",
    )
    assert account.status == BankAccountStatus.NEW
    assert gateway.get_bank_account(account.reference) == account


def test_micro_deposits_with_the_right_amounts_verify_the_account_in_either_order(gateway):
    account = add_bank_account(gateway)
    with pytest.raises(VerificationError, match="not been sent"):
        gateway.verify_micro_deposits(account.reference, RIGHT_AMOUNTS)
    sent = gateway.start_micro_deposits(account.reference)
    assert sent.status == BankAccountStatus.PENDING_VERIFICATION
    assert sent.micro_deposits_sent_on == FRIDAY
    assert gateway.start_micro_deposits(account.reference) == sent  # sending again: no change

    check = gateway.verify_micro_deposits(account.reference, ("0.45", "0.32"))
    assert check.matched
    assert check.account.status == BankAccountStatus.VERIFIED
    assert gateway.verify_micro_deposits(account.reference, ("0.01", "0.02")).matched
    with pytest.raises(VerificationError, match="verified already"):
        gateway.start_micro_deposits(account.reference)


@pytest.mark.parametrize(
    "amounts",
    [("0.32", "0.46"), ("0.45", "0.45"), ("0.23", "0.54"), ("32", "45"), ("0.00", "0.00")],
)
def test_wrong_micro_deposit_amounts_do_not_verify_and_count(gateway, amounts):
    account = add_bank_account(gateway)
    gateway.start_micro_deposits(account.reference)
    check = gateway.verify_micro_deposits(account.reference, amounts)
    assert not check.matched
    assert check.account.status == BankAccountStatus.PENDING_VERIFICATION
    assert check.account.verification_attempts_left == account.verification_attempts_left - 1
    with pytest.raises(MethodNotUsable, match="Verify"):
        gateway.charge(account.reference, Decimal("10.00"), "USD", "k")
    assert gateway.verify_micro_deposits(account.reference, RIGHT_AMOUNTS).matched


def test_too_many_wrong_amounts_lock_the_account(gateway):
    account = add_bank_account(gateway)
    gateway.start_micro_deposits(account.reference)
    for _ in range(account.verification_attempts_left):
        check = gateway.verify_micro_deposits(account.reference, ("0.01", "0.02"))
    assert check.account.status == BankAccountStatus.VERIFICATION_FAILED
    assert check.account.verification_attempts_left == 0
    with pytest.raises(VerificationError, match="locked"):
        gateway.verify_micro_deposits(account.reference, RIGHT_AMOUNTS)
    with pytest.raises(VerificationError, match="locked"):
        gateway.start_micro_deposits(account.reference)


def test_ach_is_in_us_dollars_only(gateway):
    account = add_verified_bank_account(gateway)
    with pytest.raises(InvalidChargeRequest, match="US dollars"):
        gateway.charge(account.reference, Decimal("10.00"), "CAD", "k")
    assert charge_count() == 0


# --- Settlement and returns -----------------------------------------------------------------


def test_an_ach_debit_settles_after_exactly_three_business_days_over_a_weekend(gateway):
    assert FRIDAY.isoweekday() == 5
    account = add_verified_bank_account(gateway)
    result = gateway.charge(account.reference, Decimal("980.00"), "USD", "pay-1")
    assert result.status == ChargeStatus.PROCESSING
    assert (result.created_on, result.settles_on) == (FRIDAY, date(2026, 11, 25))

    for expected_day in (date(2026, 11, 23), date(2026, 11, 24)):  # Monday, Tuesday
        assert gateway.advance(1) == []
        assert gateway.today() == expected_day
        assert gateway.find_charge("pay-1").status == ChargeStatus.PROCESSING

    events = gateway.advance(1)  # Wednesday
    assert gateway.today() == date(2026, 11, 25)
    assert [(e.type, e.charge_reference, e.occurred_on) for e in events] == [
        (EventType.CHARGE_SETTLED, result.reference, date(2026, 11, 25))
    ]
    assert (events[0].amount, events[0].currency, events[0].idempotency_key) == (
        Decimal("980.00"),
        "USD",
        "pay-1",
    )
    assert gateway.get_charge(result.reference).status == ChargeStatus.SUCCEEDED
    assert gateway.advance(3) == []  # settled once


@pytest.mark.parametrize(
    ("account_number", "routing_number", "return_code"),
    [
        ("000123456789", "110000000", None),
        ("000222222227", "110000000", "R01"),
        ("000111111113", "110000000", "R02"),
        ("000111111116", "110000000", "R03"),
        ("000333333335", "110000000", "R29"),
        # Any other account at a valid routing number settles, test numbers included.
        ("987654321", "110000000", None),
        ("000222222227", "021000021", None),
    ],
)
def test_ach_test_accounts_settle_or_return_with_their_r_code(
    gateway, account_number, routing_number, return_code
):
    account = add_verified_bank_account(gateway, account_number, routing_number)
    charged = gateway.charge(account.reference, Decimal("250.00"), "USD", "pay-1")
    assert charged.status == ChargeStatus.PROCESSING
    (event,) = gateway.advance(3)
    result = gateway.get_charge(charged.reference)
    assert event.return_code == result.return_code == return_code
    if return_code is None:
        assert event.type == EventType.CHARGE_SETTLED
        assert result.status == ChargeStatus.SUCCEEDED
        assert result.failure_reason is None
    else:
        assert event.type == EventType.CHARGE_RETURNED
        assert result.status == ChargeStatus.RETURNED
        assert result.failure_reason == describe_return(return_code).explanation


def test_advancing_from_a_weekend_counts_from_monday(gateway, calendar):
    calendar.today = date(2026, 11, 21)  # Saturday
    assert gateway.advance(0) == [] and gateway.today() == date(2026, 11, 21)
    gateway.advance(1)
    assert gateway.today() == date(2026, 11, 23)


def test_the_clock_never_runs_behind_the_calendar_and_advance_0_settles_what_is_due(
    gateway, calendar
):
    account = add_verified_bank_account(gateway)
    charged = gateway.charge(account.reference, Decimal("10.00"), "USD", "pay-1")
    calendar.today = date(2026, 11, 25)  # days went by without anyone moving the clock
    assert gateway.today() == date(2026, 11, 25)
    assert gateway.find_charge("pay-1").status == ChargeStatus.PROCESSING  # nobody settled yet
    (event,) = gateway.advance(0)
    assert event.charge_reference == charged.reference
    gateway.advance(2)
    assert gateway.today() == date(2026, 11, 27)


def test_the_clock_moves_forward_only(gateway):
    gateway.set_clock(date(2026, 11, 24))
    with pytest.raises(ValueError):
        gateway.set_clock(date(2026, 11, 23))
    with pytest.raises(ValueError):
        gateway.advance(-1)
    assert gateway.today() == date(2026, 11, 24)


def test_events_wait_until_acknowledged(gateway):
    first = add_verified_bank_account(gateway, "000123456789")
    second = add_verified_bank_account(gateway, "000111111113")
    gateway.charge(first.reference, Decimal("10.00"), "USD", "pay-1")
    gateway.advance(1)
    gateway.charge(second.reference, Decimal("20.00"), "USD", "pay-2")
    made = gateway.advance(5)
    assert [e.idempotency_key for e in made] == ["pay-1", "pay-2"]  # oldest first
    assert gateway.pending_events() == made
    assert gateway.pending_events(limit=1) == made[:1]

    gateway.acknowledge_event(made[0].reference)
    gateway.acknowledge_event(made[0].reference)  # twice is harmless
    assert gateway.pending_events() == made[1:]
    gateway.acknowledge_event(made[1].reference)
    assert gateway.pending_events() == []
    with pytest.raises(EventNotFound):
        gateway.acknowledge_event("evt_unknown")


# --- Idempotency and timeouts ---------------------------------------------------------------


def test_the_same_idempotency_key_never_charges_twice(gateway):
    card = add_card(gateway)
    first = gateway.charge(card.token, Decimal("75.00"), "USD", "pay-1")
    again = gateway.charge(card.token, Decimal("75.00"), "USD", "pay-1")
    assert again == first
    assert charge_count() == 1
    assert gateway.find_charge("pay-1") == first
    assert gateway.get_charge(first.reference) == first


@pytest.mark.parametrize(
    ("amount", "currency", "other_card"),
    [
        (Decimal("75.01"), "USD", False),
        (Decimal("75.00"), "CAD", False),
        (Decimal("75.00"), "USD", True),
    ],
)
def test_the_same_key_with_other_details_is_refused(gateway, amount, currency, other_card):
    card = add_card(gateway)
    gateway.charge(card.token, Decimal("75.00"), "USD", "pay-1")
    method = add_card(gateway, "5555555555554444").token if other_card else card.token
    with pytest.raises(IdempotencyConflict):
        gateway.charge(method, amount, currency, "pay-1")
    assert charge_count() == 1


def test_a_declined_charge_answers_the_same_for_its_key(gateway):
    card = add_card(gateway, "4000 0000 0000 0002")
    first = gateway.charge(card.token, Decimal("75.00"), "USD", "pay-1")
    assert first.status == ChargeStatus.FAILED
    assert gateway.charge(card.token, Decimal("75.00"), "USD", "pay-1") == first
    assert charge_count() == 1


def test_an_ach_debit_charged_twice_with_one_key_settles_once(gateway):
    account = add_verified_bank_account(gateway)
    first = gateway.charge(account.reference, Decimal("75.00"), "USD", "pay-1")
    assert gateway.charge(account.reference, Decimal("75.00"), "USD", "pay-1") == first
    assert len(gateway.advance(3)) == 1
    replay = gateway.charge(account.reference, Decimal("75.00"), "USD", "pay-1")
    assert (replay.reference, replay.status) == (first.reference, ChargeStatus.SUCCEEDED)


@pytest.mark.parametrize("method", ["card", "ach"])
def test_a_timeout_after_the_charge_is_reconciled_by_key_without_charging_again(gateway, method):
    if method == "card":
        reference = add_card(gateway).token
        made = ChargeStatus.SUCCEEDED
    else:
        reference = add_verified_bank_account(gateway).reference
        made = ChargeStatus.PROCESSING
    gateway.simulate_timeout(reached_gateway=True)
    lost = gateway.charge(reference, Decimal("42.00"), "USD", "pay-1")
    assert lost.status == ChargeStatus.UNKNOWN
    assert lost.reference is None

    found = gateway.find_charge("pay-1")
    assert found.status == made
    assert found.reference is not None
    # Retrying with the same key answers the charge that was made; nothing is charged twice.
    assert gateway.charge(reference, Decimal("42.00"), "USD", "pay-1") == found
    assert charge_count() == 1


def test_a_timeout_before_the_charge_leaves_nothing_and_the_retry_charges_once(gateway):
    card = add_card(gateway)
    gateway.simulate_timeout(reached_gateway=False)
    lost = gateway.charge(card.token, Decimal("42.00"), "USD", "pay-1")
    assert lost.status == ChargeStatus.UNKNOWN
    assert gateway.find_charge("pay-1") is None
    assert charge_count() == 0
    retried = gateway.charge(card.token, Decimal("42.00"), "USD", "pay-1")
    assert retried.status == ChargeStatus.SUCCEEDED
    assert gateway.charge(card.token, Decimal("42.00"), "USD", "pay-2").status == "succeeded"
    assert charge_count() == 2  # one timeout, one charge each: the fault was used up


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2),
    method=st.sampled_from(["card", "ach"]),
)
def test_amounts_are_charged_stored_and_settled_to_the_cent(app, amount, method):
    gateway = SandboxGateway(FieldEncryptor.from_config(app.config), Calendar(FRIDAY))
    if method == "card":
        reference = add_card(gateway).token
    else:
        reference = add_verified_bank_account(gateway).reference
    key = f"pay-{uuid.uuid4()}"
    charged = gateway.charge(reference, amount, "USD", key)
    db.session.commit()
    db.session.expire_all()
    assert gateway.get_charge(charged.reference).amount == amount
    assert gateway.find_charge(key).amount == amount
    if method == "ach":
        settled = [
            event for event in gateway.set_clock(charged.settles_on) if event.idempotency_key == key
        ]
        assert [event.amount for event in settled] == [amount]
    db.session.rollback()


def test_unknown_charges(gateway):
    assert gateway.find_charge("never-used") is None
    with pytest.raises(ChargeNotFound):
        gateway.get_charge("ch_unknown")


# --- Secrets at rest ------------------------------------------------------------------------


def sandbox_table_values() -> list[str]:
    """Every value of every row of every sandbox table, as text."""
    values = []
    for table in db.metadata.sorted_tables:
        if table.name.startswith("sandbox_"):
            for row in db.session.execute(select(table)):
                values.extend(str(value) for value in row)
    return values


def test_no_full_card_or_account_number_is_stored(app, gateway):
    cards = ["4242424242424242", "4000000000000002", "4000000000009995", "5555555555554444"]
    accounts = ["000123456789", "000222222227", "000111111113", "000111111116", "000333333335"]
    for number in cards:
        card = add_card(gateway, number, cvc="739")
        gateway.charge(card.token, Decimal("1.00"), "USD", f"c-{number[-4:]}")
    for number in accounts:
        account = add_verified_bank_account(gateway, number)
        gateway.charge(account.reference, Decimal("1.00"), "USD", f"a-{number[-4:]}")
    gateway.advance(3)
    db.session.commit()

    values = sandbox_table_values()
    assert len(values) > 100  # the scan sees the rows
    for number in cards + accounts:
        assert [value for value in values if number in value] == [], number
    assert "739" not in values  # the security code is checked, never kept
    # The account numbers are there, encrypted: the sandbox reads them back to settle.
    stored = db.session.scalars(select(SandboxBankAccount.account_number_encrypted)).all()
    encryptor = FieldEncryptor.from_config(app.config)
    assert sorted(encryptor.decrypt(value) for value in stored) == sorted(accounts)


def test_rotating_the_key_re_encrypts_account_numbers(app, calendar, monkeypatch):
    old_key = app.config["PAYMENTS_ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    old = SandboxGateway(FieldEncryptor([old_key]), calendar_today=calendar)
    account = add_verified_bank_account(old, "000111111113")
    old.charge(account.reference, Decimal("10.00"), "USD", "pay-1")
    db.session.commit()

    # The operator puts a new key in front of the setting and runs the rotation.
    during = SandboxGateway(FieldEncryptor([new_key, old_key]), calendar_today=calendar)
    monkeypatch.setitem(app.extensions, "payment_gateway", during)
    result = app.test_cli_runner().invoke(args=["payment-keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "1 stored account numbers re-encrypted" in result.output

    # With the old key dropped, the account is still read: its R02 return comes through.
    db.session.expire_all()
    after = SandboxGateway(FieldEncryptor([new_key]), calendar_today=calendar)
    (event,) = after.advance(3)
    assert event.return_code == "R02"


def test_without_rotation_dropping_the_old_key_loses_the_account_numbers(app, calendar):
    old = SandboxGateway(FieldEncryptor([app.config["PAYMENTS_ENCRYPTION_KEYS"]]), calendar)
    account = add_verified_bank_account(old, "000111111113")
    old.charge(account.reference, Decimal("10.00"), "USD", "pay-1")
    after = SandboxGateway(FieldEncryptor([Fernet.generate_key().decode()]), calendar)
    with pytest.raises(DecryptionError):
        after.advance(3)
