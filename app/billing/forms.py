from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from app.billing.invoices import SORTS, STATUS_FILTERS


class InvoiceFilterForm(FlaskForm):
    """The invoice list's filters, read from the query string (they change nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice(key, label) for key, label in STATUS_FILTERS.items()],
        default="all",
    )
    date_from = DateField("Issued from", validators=[Optional()],
                          render_kw={"placeholder": "YYYY-MM-DD"})
    date_to = DateField("Issued to", validators=[Optional()])
    q = SearchField("Search invoices", validators=[Optional(), Length(max=100)],
                    description="Invoice number, PO number or end customer")
    sort = SelectField(
        "Sort by",
        choices=[SelectChoice(key, label) for key, (label, _) in SORTS.items()],
        default="-issue_date",
    )
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(min=1)])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


class DateRangeForm(FlaskForm):
    """A statement's period, from the query string."""

    class Meta:
        csrf = False

    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")
