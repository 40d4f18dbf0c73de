from wtforms import DateField, SearchField, SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation

from app.billing.invoices import SORTS, STATUS_FILTERS
from app.billing.po_numbers import PO_NUMBER_MAX_LENGTH, clean_po_number
from app.forms import Form, IntegerField
from app.web import positive_int


class InvoiceFilterForm(Form):
    """The invoice list's filters, read from the query string (they change nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice(key, label) for key, label in STATUS_FILTERS.items()],
        default="all",
    )
    q = SearchField("Search invoices", validators=[Optional(), Length(max=100)],
                    description="Invoice number, PO number or end customer")
    sort = SelectField(
        "Sort by",
        choices=[SelectChoice(key, label) for key, (label, _) in SORTS.items()],
        default="-issue_date",
    )
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(min=1)])

    def validate(self, extra_validators=None) -> bool:
        return _validate_range(self, super().validate(extra_validators))


class DateRangeForm(Form):
    """A statement's period, from the query string."""

    class Meta:
        csrf = False

    def validate(self, extra_validators=None) -> bool:
        return _validate_range(self, super().validate(extra_validators))


# The public URLs name the dates `from` and `to` (a Python keyword, hence setattr).
setattr(InvoiceFilterForm, "from", DateField("Issued from", validators=[Optional()]))
InvoiceFilterForm.to = DateField("Issued to", validators=[Optional()])
setattr(DateRangeForm, "from", DateField("From", validators=[Optional()]))
DateRangeForm.to = DateField("To", validators=[Optional()])


def _validate_range(form: Form, valid: bool) -> bool:
    start, end = form["from"], form["to"]
    if start.data and end.data and end.data < start.data and not end.errors:
        end.errors = [*end.errors, "The end date is before the start date."]
        return False
    return valid


ACCOUNT_SCOPE = "account"
DATE_MESSAGE = "Enter a real date, such as 2026-12-01."


class DayField(DateField):
    """A date (YYYY-MM-DD, as a date input sends it); anything else is one message next to the
    field, and an empty box is left to InputRequired."""

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata([" ".join(valuelist).strip()])
        except ValueError:
            raise ValueError(DATE_MESSAGE) from None

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()


class PONumberForm(Form):
    """A PO number entry: for the whole account or one end customer, from a date on. The end
    customer's id is checked against the account by the route (another account's: 404), so
    the choices are not checked here."""

    end_customer = SelectField("End customer", validate_choice=False,
                               validators=[InputRequired("Choose the whole account or an end "
                                                         "customer.")])
    po_number = StringField(
        "PO number",
        description=f"Up to {PO_NUMBER_MAX_LENGTH} characters. Leave it empty to end the PO "
                    "number from the date below.")
    effective_from = DayField(
        "Effective from", validators=[InputRequired("Enter the date the PO number applies "
                                                    "from.")],
        description="Invoices issued on or after this date carry it.")

    def validate_po_number(self, field) -> None:
        try:
            clean_po_number(field.data)
        except ValueError as refused:
            raise ValidationError(str(refused)) from None

    def end_customer_id(self) -> int | None:
        """The chosen end customer's id; None for the whole account. Raises ValueError for a
        value that is neither."""
        if self.end_customer.data == ACCOUNT_SCOPE:
            return None
        return positive_int(self.end_customer.data)
