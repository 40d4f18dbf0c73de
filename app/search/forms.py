from wtforms import SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from app.forms import Form, IntegerField
from app.kb.articles import CATEGORIES


class SearchForm(Form):
    """The search box; read from the query string, so no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField("Search help", validators=[Optional(), Length(max=200)])
    category = SelectField(
        "Category",
        choices=[SelectChoice("", "All categories"),
                 *(SelectChoice(slug, name) for slug, name in CATEGORIES.items())],
        validators=[Optional()],
        validate_choice=True,
    )
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(min=1, max=1000)])
