"""Card and bank details as the gateway checks them: Luhn and ABA check digits against small
oracles written here, lengths, expiry, security code, charge requests."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.payments.gateways.base import (
    BankAccountType,
    InvalidChargeRequest,
    InvalidPaymentDetails,
)
from app.payments.gateways.validation import (
    card_brand,
    check_account_number,
    check_account_type,
    check_card_number,
    check_charge,
    check_cvc,
    check_expiry,
    check_holder_name,
    check_routing_number,
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def aba_ok(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, [3, 7, 1] * 3, strict=True)) % 10 == 0


def field_of(check, *args) -> str | None:
    try:
        check(*args)
    except InvalidPaymentDetails as error:
        return error.field
    return None


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_a_card_number_is_accepted_exactly_when_its_luhn_digit_is_right(digits):
    assert (field_of(check_card_number, digits) is None) == luhn_ok(digits)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_a_routing_number_is_accepted_exactly_when_its_aba_checksum_is_right(digits):
    assert (field_of(check_routing_number, digits) is None) == aba_ok(digits)


@pytest.mark.parametrize(
    ("number", "accepted"),
    [
        ("4242 4242 4242 4242", "4242424242424242"),
        ("4000-0000-0000-0002", "4000000000000002"),
        ("4000000000009995", "4000000000009995"),
        ("3782 822463 10005", "378282246310005"),
    ],
)
def test_card_numbers_are_read_without_spaces_or_dashes(number, accepted):
    assert check_card_number(number) == accepted


@pytest.mark.parametrize(
    "number",
    ["4242 4242 4242 4241", "4242", "4242 4242 4242 424X", "", "4" * 20, "0000 0000 0000 0001"],
)
def test_bad_card_numbers_are_refused_on_the_number_field(number):
    assert field_of(check_card_number, number) == "number"


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "Visa"),
        ("5555555555554444", "Mastercard"),
        ("2223003122003222", "Mastercard"),
        ("378282246310005", "American Express"),
        ("6011111111111117", "Discover"),
        ("3056930009020004", "Card"),
    ],
)
def test_card_brand(number, brand):
    assert card_brand(number) == brand


TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("month", "year", "accepted"),
    [
        (11, 2026, (11, 2026)),  # valid to the end of its month
        (12, 30, (12, 2030)),  # two-digit year
        (1, 2046, (1, 2046)),
    ],
)
def test_expiry_accepted(month, year, accepted):
    assert check_expiry(month, year, TODAY) == accepted


@pytest.mark.parametrize(
    ("month", "year"), [(10, 2026), (12, 2025), (13, 2027), (0, 2027), (1, 2047)]
)
def test_expiry_refused(month, year):
    assert field_of(check_expiry, month, year, TODAY) == "expiry"


@pytest.mark.parametrize(
    ("cvc", "brand", "field"),
    [
        ("123", "Visa", None),
        ("1234", "American Express", None),
        ("1234", "Visa", "cvc"),
        ("123", "American Express", "cvc"),
        ("12a", "Visa", "cvc"),
        ("", "Visa", "cvc"),
    ],
)
def test_security_code(cvc, brand, field):
    assert field_of(check_cvc, cvc, brand) == field


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [
        (check_routing_number, "110000000", None),
        (check_routing_number, "021 000 021", None),
        (check_routing_number, "110000001", "routing_number"),
        (check_routing_number, "11000000", "routing_number"),
        (check_routing_number, "1100000000", "routing_number"),
        (check_routing_number, "11000000A", "routing_number"),
        (check_account_number, "1234", None),
        (check_account_number, "12345678901234567", None),
        (check_account_number, "123", "account_number"),
        (check_account_number, "123456789012345678", "account_number"),
        (check_account_number, "12a45", "account_number"),
        (check_holder_name, "Northwind Cloud Solutions", None),
        (check_holder_name, "   ", "holder_name"),
        (check_holder_name, "N" * 101, "holder_name"),
        (check_account_type, "checking", None),
        (check_account_type, "savings", None),
        (check_account_type, "business", "account_type"),
    ],
)
def test_bank_details(check, value, field):
    assert field_of(check, value) == field


def test_bank_details_are_normalised():
    assert check_routing_number("021-000-021") == "021000021"
    assert check_account_number("0001 2345 6789") == "000123456789"
    assert check_holder_name("  Northwind   Cloud ") == "Northwind Cloud"
    assert check_account_type("savings") is BankAccountType.SAVINGS


@pytest.mark.parametrize(
    ("amount", "currency", "key"),
    [
        (Decimal("0"), "USD", "k"),
        (Decimal("-1.00"), "USD", "k"),
        (Decimal("1.001"), "USD", "k"),
        (Decimal("NaN"), "USD", "k"),
        (Decimal("1000000000000.00"), "USD", "k"),
        (10.5, "USD", "k"),
        ("10.50", "USD", "k"),
        (Decimal("10.50"), "usd", "k"),
        (Decimal("10.50"), "US", "k"),
        (Decimal("10.50"), "USD", ""),
        (Decimal("10.50"), "USD", "k" * 256),
    ],
)
def test_bad_charge_requests_are_refused(amount, currency, key):
    with pytest.raises(InvalidChargeRequest):
        check_charge(amount, currency, key)


def test_a_good_charge_request_keeps_its_amount():
    assert check_charge(Decimal("10.5"), "USD", "k" * 255) == Decimal("10.50")


@given(
    st.decimals(
        min_value=Decimal("-1000000000001"),
        max_value=Decimal("1000000000001"),
        places=3,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_a_charge_amount_is_accepted_exactly_when_it_is_positive_whole_cents_in_range(amount):
    fits = Decimal("0") < amount < Decimal("1000000000000") and amount == amount.quantize(
        Decimal("0.01")
    )
    try:
        accepted = check_charge(amount, "USD", "key")
    except InvalidChargeRequest:
        assert not fits
    else:
        assert fits
        assert accepted == amount
