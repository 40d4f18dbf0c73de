"""Forms of the pay flow and of the payments list. The pay form has a checkbox and an amount
box per invoice it offers, so its class is made for those invoices (`pay_form`)."""

import re
from decimal import Decimal

from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.billing.models import Invoice
from app.forms import Form, IntegerField
from app.money import CENT, ZERO
from app.payments.models import PaymentMethod
from app.payments.pay import INVOICES, METHOD
from app.payments.receipts import STATUS_FILTERS
from app.web import parse_int

# Digits 0-9 only (never other scripts' digits), thousands optionally grouped by commas, a
# decimal point; no sign, exponent, "NaN" or "Infinity", which Decimal() would accept.
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+")
# More digits than any balance can have: refused before Decimal() works on them.
_MAX_AMOUNT_CHARACTERS = 20
AMOUNT_MISSING = "Enter the amount to pay on this invoice."
AMOUNT_NOT_A_NUMBER = "Enter the amount in digits 0 to 9, like 1234.50."
AMOUNT_NOT_POSITIVE = "Enter an amount more than zero."
AMOUNT_TOO_PRECISE = "Enter the amount in dollars and cents: at most two decimal places."
METHOD_UNKNOWN = "Choose one of your payment methods."


def parse_amount(text: str) -> Decimal:
    """An amount typed by a reseller, to the cent: "1,234.5" → 1234.50. Raises ValueError with
    the message to show for anything else (a sign, an exponent, other scripts' digits, more
    than two decimal places, zero)."""
    cleaned = text.strip().removeprefix("$").strip()
    if not cleaned:
        raise ValueError(AMOUNT_MISSING)
    if cleaned.startswith("-"):
        raise ValueError(AMOUNT_NOT_POSITIVE)
    if len(cleaned) > _MAX_AMOUNT_CHARACTERS or not _AMOUNT.fullmatch(cleaned):
        raise ValueError(AMOUNT_NOT_A_NUMBER)
    amount = Decimal(cleaned.replace(",", ""))
    if amount != amount.quantize(CENT):
        raise ValueError(AMOUNT_TOO_PRECISE)
    if amount <= ZERO:
        raise ValueError(AMOUNT_NOT_POSITIVE)
    return amount.quantize(CENT)


def _amount_or_none(text: str | None) -> Decimal | None:
    try:
        return parse_amount(text or "")
    except ValueError:
        return None


class PayForm(Form):
    """Invoices and amounts, credit and method; `pay_form` adds a `pay_<id>` checkbox and an
    `amount_<id>` box for each invoice offered."""

    draft = HiddenField(validators=[DataRequired(), Length(max=64)])
    apply_credit = BooleanField("Apply available credit")
    method = RadioField("Pay with", choices=[], validate_choice=False)

    invoices: list[Invoice] = []
    usable_methods: list[PaymentMethod] = []

    def pay_field(self, invoice: Invoice) -> BooleanField:
        return self[f"pay_{invoice.id}"]

    def amount_field(self, invoice: Invoice) -> StringField:
        return self[f"amount_{invoice.id}"]

    def validate(self, extra_validators=None) -> bool:
        """The form's own checks, then each chosen invoice's amount (`self.amounts`)."""
        super().validate(extra_validators)
        self.amounts: dict[int, Decimal] = {}
        for invoice in self.invoices:
            field = self.amount_field(invoice)
            if not self.pay_field(invoice).data:
                field.errors = []  # an invoice left out: what its box holds does not matter
            elif not field.errors:
                try:
                    self.amounts[invoice.id] = parse_amount(field.data or "")
                except ValueError as error:
                    field.errors = [str(error)]
        if self.method.data and self.method_id() is None:
            self.method.errors = [METHOD_UNKNOWN]
        return not any(field.errors for field in self)

    def method_id(self) -> int | None:
        """The chosen method's id, when it is one the form offered."""
        offered = {choice.value for choice in self.method.choices}
        if self.method.data not in offered:
            return None
        return parse_int(self.method.data, minimum=1)

    def selections(self) -> list[tuple[int, Decimal]]:
        """(invoice id, amount) of each chosen invoice whose amount reads well, in the order
        offered (as `validate` read them; a form not validated, such as the one first shown,
        reads its boxes now)."""
        if not hasattr(self, "amounts"):
            return [(invoice.id, amount) for invoice in self.chosen()
                    if (amount := _amount_or_none(self.amount_field(invoice).data)) is not None]
        return [(invoice.id, self.amounts[invoice.id]) for invoice in self.invoices
                if invoice.id in self.amounts]

    def chosen(self) -> list[Invoice]:
        return [invoice for invoice in self.invoices if self.pay_field(invoice).data]

    def add_plan_errors(self, errors: dict[int | str, str]) -> None:
        """Put a plan's errors (see `app.payments.pay.PlanInvalid`) next to their fields."""
        self.invoice_error = errors.get(INVOICES)
        if METHOD in errors:
            self.method.errors = [errors[METHOD]]
        for invoice in self.invoices:
            if invoice.id in errors:
                self.amount_field(invoice).errors = [errors[invoice.id]]

    invoice_error: str | None = None

    def first_error_id(self) -> str | None:
        """The id of the first field with an error, in page order (it takes the focus)."""
        if self.invoice_error and self.invoices:
            return self.pay_field(self.invoices[0]).id
        for invoice in self.invoices:
            if self.amount_field(invoice).errors:
                return self.amount_field(invoice).id
        if self.method.errors:
            return f"{self.method.id}-0" if self.method.choices else None
        return None


def pay_form(invoices: list[Invoice], usable_methods: list[PaymentMethod], **kwargs) -> PayForm:
    """A PayForm for these invoices (in this order) and the methods that can be charged;
    `kwargs` go to the form (`formdata`, `data`)."""
    fields = {}
    for invoice in invoices:
        fields[f"pay_{invoice.id}"] = BooleanField(f"Pay {invoice.number}")
        fields[f"amount_{invoice.id}"] = StringField(f"Amount for {invoice.number}")
    form_class = type("InvoicesPayForm", (PayForm,), fields)
    form = form_class(**kwargs)
    form.invoices = invoices
    form.usable_methods = usable_methods
    form.method.choices = [SelectChoice(str(method.id), method.label)
                           for method in usable_methods]
    return form


def posted_invoice_ids(names) -> set[int]:
    """The invoice ids that a posted pay form names in its `pay_<id>` fields."""
    ids = set()
    for name in names:
        match = re.fullmatch(r"pay_([0-9]{1,10})", name)
        if match:
            try:
                ids.add(parse_int(match.group(1), minimum=1))
            except ValueError:
                continue
    return ids


class ConfirmForm(Form):
    draft = HiddenField(validators=[DataRequired(), Length(max=64)])


class PaymentFilterForm(Form):
    """The payments list's filters, read from the query string (they change nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice(key, label) for key, label in STATUS_FILTERS.items()],
        default="all",
    )
    method = SelectField("Method", choices=[SelectChoice("", "All methods")], default="")
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(min=1)])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        start, end = self["from"], self["to"]
        if start.data and end.data and end.data < start.data and not end.errors:
            end.errors = [*end.errors, "The end date is before the start date."]
            return False
        return valid


# The public URLs name the dates `from` and `to` (a Python keyword, hence setattr).
setattr(PaymentFilterForm, "from", DateField("Paid from", validators=[Optional()]))
PaymentFilterForm.to = DateField("Paid to", validators=[Optional()])
