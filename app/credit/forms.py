"""Forms of the credit page: credit to apply to chosen invoices, the auto-apply setting, and
taking credit off an invoice."""

import re
from decimal import Decimal

from wtforms import FieldList, FormField, HiddenField, StringField
from wtforms.validators import AnyOf, InputRequired, Length, StopValidation

from app.credit.overview import APPLY_FORM_INVOICES
from app.forms import Form

AMOUNT_MESSAGE = "Enter an amount like 125.00, using the digits 0 to 9."
MORE_THAN_ZERO_MESSAGE = "Enter an amount more than zero, or leave the box empty."
CENTS_MESSAGE = "Enter the amount to the cent: at most two digits after the point."
TOO_LARGE_MESSAGE = "That amount is too large."

# Digits 0-9 only, thousands separated by commas or not, and a decimal point. Decimal() would
# also take '1e400', 'NaN', 'Infinity' and the digits of other scripts ('٣', '１２').
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.[0-9]*)?")
# The largest amount a money column holds (NUMERIC(14, 2)).
MAX_AMOUNT = Decimal("999999999999.99")


class AmountField(StringField):
    """An amount of money as a person types it ("1,234.50", "80", ".5"), as a Decimal; no
    value when the box is left empty. Anything else is an error next to the field."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = self.raw.strip() if isinstance(self.raw, str) else ""
        if not text:
            return
        if text.startswith("-") and _AMOUNT.fullmatch(text[1:]) and any(c.isdigit() for c in text):
            raise ValueError(MORE_THAN_ZERO_MESSAGE)
        if not _AMOUNT.fullmatch(text) or not any(c in "0123456789" for c in text):
            raise ValueError(AMOUNT_MESSAGE)
        whole, _, cents = text.replace(",", "").partition(".")
        if len(whole.lstrip("0")) > 12:
            raise ValueError(TOO_LARGE_MESSAGE)
        if len(cents.rstrip("0")) > 2:
            raise ValueError(CENTS_MESSAGE)
        amount = Decimal(f"{whole or '0'}.{cents or '0'}").quantize(Decimal("0.01"))
        if amount <= 0:
            raise ValueError(MORE_THAN_ZERO_MESSAGE)
        self.data = amount

    def _value(self) -> str:
        # What was typed stays in the box, also when it was refused (nothing typed is lost).
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else str(self.data)

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()  # one message per field


class InvoiceRows(FieldList):
    """Rows named `<name>-<n>-…` for n of at most four ASCII digits; WTForms' own FieldList
    takes any str.isdigit() index ('²' among them, which int() then refuses)."""

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if re.fullmatch(r"[0-9]{1,4}", index):
                    yield int(index)


class ApplyCreditLine(Form):
    class Meta:
        csrf = False

    number = HiddenField(validators=[InputRequired(), Length(max=20)])
    amount = AmountField("Credit to apply")


class ApplyCreditForm(Form):
    """Credit to apply to chosen open invoices, one amount per invoice (empty: none)."""

    lines = InvoiceRows(FormField(ApplyCreditLine), max_entries=APPLY_FORM_INVOICES)


class AutoApplyForm(Form):
    auto_apply = HiddenField(validators=[InputRequired(), AnyOf(["on", "off"])])


class ReverseCreditForm(Form):
    """Taking the credit off an invoice: the invoice is in the URL; the form carries the
    CSRF token."""
