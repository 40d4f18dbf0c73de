"""Checks of card and bank details and of charge requests, the same for every gateway (and for
the portal's own forms, which can check a field before calling the gateway). Each raises
InvalidPaymentDetails naming the field, or InvalidChargeRequest, with a message for the user."""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from stdnum import luhn
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.us import rtn

from app.money import CENT
from app.payments.gateways.base import (
    BankAccountType,
    InvalidChargeRequest,
    InvalidPaymentDetails,
)

_SEPARATORS = re.compile(r"[\s-]")
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_CHARGE = Decimal("1000000000000")  # what Numeric(14, 2) holds
MAX_CARD_YEARS_AHEAD = 20
# US bank accounts: an ABA routing number has 9 digits; account numbers have 4 to 17.
ROUTING_NUMBER_DIGITS = 9
MIN_ACCOUNT_NUMBER_DIGITS = 4
MAX_ACCOUNT_NUMBER_DIGITS = 17


def _compact(value: str | None) -> str:
    return _SEPARATORS.sub("", value or "")


def check_card_number(number: str) -> str:
    """The card number's digits (spaces and dashes removed), 12 to 19 with a valid Luhn check
    digit."""
    digits = _compact(number)
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        raise InvalidPaymentDetails("number", "Enter the card number: 12 to 19 digits.")
    if not luhn.is_valid(digits):
        raise InvalidPaymentDetails(
            "number", "This card number is not valid. Check it and enter it again."
        )
    return digits


def card_brand(digits: str) -> str:
    """The card network, from the number's first digits."""
    if digits.startswith("4"):
        return "Visa"
    if digits[:2] in {"34", "37"}:
        return "American Express"
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return "Mastercard"
    if digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649:
        return "Discover"
    return "Card"


def check_expiry(exp_month: int, exp_year: int, today: date) -> tuple[int, int]:
    """(month, four-digit year) of a card that has not expired on `today` (a two-digit year is
    taken as 20YY)."""
    if exp_year < 100:
        exp_year += 2000
    if not 1 <= exp_month <= 12:
        raise InvalidPaymentDetails("expiry", "Enter the expiry month: 1 to 12.")
    if (exp_year, exp_month) < (today.year, today.month):
        raise InvalidPaymentDetails("expiry", "This card has expired.")
    if exp_year > today.year + MAX_CARD_YEARS_AHEAD:
        raise InvalidPaymentDetails("expiry", "Check the expiry year.")
    return exp_month, exp_year


def check_cvc(cvc: str, brand: str) -> None:
    """Three digits, four for American Express (checked, never kept)."""
    length = 4 if brand == "American Express" else 3
    if not ((cvc or "").isascii() and (cvc or "").isdigit() and len(cvc) == length):
        raise InvalidPaymentDetails("cvc", f"Enter the {length}-digit security code from the card.")


def check_holder_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidPaymentDetails("holder_name", "Enter the account holder's name.")
    if len(name) > 100:
        raise InvalidPaymentDetails("holder_name", "Shorten the name to 100 characters.")
    return name


def check_routing_number(routing_number: str) -> str:
    """Nine digits with a valid ABA checksum."""
    try:
        return rtn.validate(_compact(routing_number))
    except InvalidChecksum:
        raise InvalidPaymentDetails(
            "routing_number",
            f"This routing number is not valid. Check the {ROUTING_NUMBER_DIGITS} digits with "
            "your bank.",
        ) from None
    except ValidationError:
        raise InvalidPaymentDetails(
            "routing_number", f"Enter the {ROUTING_NUMBER_DIGITS}-digit routing number."
        ) from None


def check_account_number(account_number: str) -> str:
    """MIN_ACCOUNT_NUMBER_DIGITS to MAX_ACCOUNT_NUMBER_DIGITS digits (spaces and dashes
    removed)."""
    digits = _compact(account_number)
    if not (digits.isascii() and digits.isdigit()
            and MIN_ACCOUNT_NUMBER_DIGITS <= len(digits) <= MAX_ACCOUNT_NUMBER_DIGITS):
        raise InvalidPaymentDetails(
            "account_number",
            f"Enter the account number: {MIN_ACCOUNT_NUMBER_DIGITS} to "
            f"{MAX_ACCOUNT_NUMBER_DIGITS} digits.",
        )
    return digits


def check_account_type(account_type: BankAccountType | str) -> BankAccountType:
    try:
        return BankAccountType(account_type)
    except ValueError:
        raise InvalidPaymentDetails("account_type", "Choose checking or savings.") from None


def check_charge(amount: Decimal, currency: str, idempotency_key: str) -> Decimal:
    """The amount of a valid charge request: a Decimal in whole cents, more than zero, in a
    three-letter currency, with an idempotency key of 1 to 255 characters."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidChargeRequest("An idempotency key of 1 to 255 characters is needed.")
    if not _CURRENCY.fullmatch(currency or ""):
        raise InvalidChargeRequest("The currency must be a three-letter ISO 4217 code.")
    if not isinstance(amount, Decimal):
        raise InvalidChargeRequest("The amount must be a Decimal.")
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:
        raise InvalidChargeRequest("The amount is not a number.") from None
    if cents != amount:
        raise InvalidChargeRequest("The amount must be in whole cents.")
    if cents <= 0:
        raise InvalidChargeRequest("The amount must be more than zero.")
    if cents >= MAX_CHARGE:
        raise InvalidChargeRequest("The amount is too large.")
    return cents
