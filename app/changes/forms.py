"""Forms of the account page and the change request steps. The new values are checked by the
services (app.changes.services.validate_values), which put each error next to its field; the
forms only carry the text and its labels."""

from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.changes import validation
from app.changes.services import EXEMPT, NOT_EXEMPT
from app.forms import Form

VALIDATE_TRIGGER = "change, keyup changed delay:500ms"


class BillingContactForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    email = EmailField("E-mail address", validators=[
        Optional(), Length(max=254),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
               message="Enter an e-mail address like name@example.com.")])
    phone = StringField("Phone", validators=[
        Optional(), Length(max=40),
        Regexp(r"^\+?[0-9 ().-]{5,}$",
               message="Enter a phone number with digits, spaces and + ( ) - only.")])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and not (self.name.data or "").strip() and (self.email.data or self.phone.data):
            self.name.errors.append("Enter the billing contact's name.")
            valid = False
        return valid


class ScopeForm(Form):
    """Step "What changes": the optional parts of each type (the required ones go without
    asking)."""

    trading_name = BooleanField("Also change the trading name")
    tax_id = BooleanField("Tax ID")
    tax_exempt = BooleanField("Tax-exempt status")


class LegalNameForm(Form):
    legal_name = StringField("New legal name", description=(
        "Exactly as on the certificate of name change or incorporation."))
    trading_name = StringField("New trading name", description=(
        "The name you trade under. Leave it empty if you trade under your legal name."))


class AddressForm(Form):
    line1 = StringField("Street address")
    line2 = StringField("Apartment, suite, floor (optional)")
    city = StringField("City")
    region = SelectField("Region", choices=[], validate_choice=False)
    postal_code = StringField("Postal code")

    def for_country(self, country: str) -> "AddressForm":
        self.region.label.text = validation.region_label(country)
        self.region.choices = [
            SelectChoice("", f"Choose a {validation.region_label(country).lower()}"),
            *(SelectChoice(code, name) for code, name in validation.region_choices(country))]
        self.postal_code.label.text = validation.postal_code_label(country)
        return self


class TaxForm(Form):
    tax_id = StringField("Tax ID")
    tax_exempt = RadioField("Tax-exempt status", choices=[
        SelectChoice(EXEMPT, "My company is tax-exempt (I will add the exemption certificate)"),
        SelectChoice(NOT_EXEMPT, "My company is no longer tax-exempt"),
    ], validate_choice=False)

    def for_country(self, country: str) -> "TaxForm":
        self.tax_id.label.text = validation.tax_id_label(country)
        return self


class DocumentForm(Form):
    document = FileField("Document")


class ReviewForm(Form):
    confirm = BooleanField("I confirm", validators=[DataRequired(
        "Tick the box to confirm the request before you submit it.")])


class ConfirmForm(Form):
    """A form with nothing but its CSRF token (cancel, remove)."""
