"""Forms of the payment pages. Payment methods: the bank account (ACH) form with its debit
authorisation, and the micro-deposit amounts. (The buttons that begin a card setup, make a
method the default or remove it carry only the CSRF token.)"""

import re
from decimal import Decimal

from wtforms import BooleanField, HiddenField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, ValidationError

from app.formatting import money
from app.forms import Form
from app.payments.gateways.base import BankAccountType, InvalidPaymentDetails
from app.payments.gateways.validation import (
    MAX_ACCOUNT_NUMBER_DIGITS,
    MIN_ACCOUNT_NUMBER_DIGITS,
    ROUTING_NUMBER_DIGITS,
    check_account_number,
    check_holder_name,
    check_routing_number,
)
from app.payments.methods import MICRO_DEPOSIT_LIMIT

ACCOUNT_TYPES = [SelectChoice(BankAccountType.CHECKING.value, "Checking"),
                 SelectChoice(BankAccountType.SAVINGS.value, "Savings")]
# Dollars and cents as people type them: "0.32", ".32", "$0.32". ASCII digits only.
_AMOUNT = re.compile(r"\$?\s*(?=[0-9]|\.[0-9])([0-9]{0,6})(?:\.([0-9]{1,2}))?")
SMALLEST_DEPOSIT = Decimal("0.01")


def _gateway_check(check):
    """A validator from one of the gateway's checks: its message goes next to the field."""

    def validator(form, field) -> None:
        try:
            check(field.data or "")
        except InvalidPaymentDetails as invalid:
            raise ValidationError(invalid.message) from None

    return validator


class BankAccountForm(Form):
    """A US bank account for ACH and the acceptance of the CCD debit authorisation. What is
    typed comes back on an error, the account number too (never into a log)."""

    holder_name = StringField(
        "Account holder name",
        validators=[_gateway_check(check_holder_name)],
        description="The name on the bank account, usually your company's legal name.",
        render_kw={"autocomplete": "organization"},
    )
    routing_number = StringField(
        "Routing number",
        validators=[_gateway_check(check_routing_number)],
        description=f"The bank's {ROUTING_NUMBER_DIGITS}-digit ABA routing number.",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    account_number = StringField(
        "Account number",
        validators=[_gateway_check(check_account_number)],
        description=f"{MIN_ACCOUNT_NUMBER_DIGITS} to {MAX_ACCOUNT_NUMBER_DIGITS} digits.",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    confirm_account_number = StringField(
        "Confirm account number",
        validators=[DataRequired("Enter the account number again.")],
        description="Type the account number again.",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    account_type = RadioField(
        "Account type", choices=ACCOUNT_TYPES, validate_choice=False,
        validators=[InputRequired("Choose checking or savings."),
                    AnyOf([choice.value for choice in ACCOUNT_TYPES],
                          message="Choose checking or savings.")],
    )
    accept_authorisation = BooleanField(
        "I accept this debit authorisation for my company",
        validators=[DataRequired("Accept the debit authorisation to add the bank account.")],
    )
    # A fingerprint of the authorisation's words as the page showed them.
    authorisation_digest = HiddenField(validators=[Length(max=64)])
    submit = SubmitField("Add bank account")

    def validate_confirm_account_number(self, field) -> None:
        if self.account_number.errors or not self.account_number.data:
            return
        try:
            same = check_account_number(field.data) == check_account_number(
                self.account_number.data)
        except InvalidPaymentDetails:
            same = False
        if not same:
            raise ValidationError("The account numbers do not match. Type the account number "
                                  "again in both boxes.")


def parse_deposit(text: str) -> Decimal:
    """A micro-deposit amount typed in dollars and cents, as a Decimal. Raises ValueError with
    the message for the reader: not an amount, or not between one cent and MICRO_DEPOSIT_LIMIT."""
    match = _AMOUNT.fullmatch((text or "").strip())
    if match is None:
        raise ValueError("Enter the amount in dollars and cents, for example 0.32.")
    amount = Decimal(f"{match.group(1) or '0'}.{match.group(2) or '0'}")
    if not SMALLEST_DEPOSIT <= amount < MICRO_DEPOSIT_LIMIT:
        raise ValueError(
            f"Each deposit is less than {money(MICRO_DEPOSIT_LIMIT, 'USD')}: enter it in dollars "
            "and cents, for example 0.32."
        )
    return amount


class DepositField(StringField):
    """A micro-deposit amount: the text stays as typed (`data`), the Decimal is `amount`."""

    amount: Decimal | None = None

    def pre_validate(self, form) -> None:
        self.amount = None
        if not (self.data or "").strip():
            raise ValidationError("Enter the amount of this deposit, for example 0.32.")
        try:
            self.amount = parse_deposit(self.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class MicroDepositForm(Form):
    first_deposit = DepositField(
        "First deposit", description="In dollars and cents, for example 0.32.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    second_deposit = DepositField(
        "Second deposit", description="In dollars and cents, for example 0.45.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    submit = SubmitField("Verify bank account")
