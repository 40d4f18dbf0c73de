from wtforms import DateField, SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from app.billing.invoices import SORTS, STATUS_FILTERS
from app.forms import Form, IntegerField


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
