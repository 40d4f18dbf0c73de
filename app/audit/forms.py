from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from app.audit.services import ACTIONS
from app.forms import Form


class AuditFilterForm(Form):
    class Meta:
        csrf = False

    action = SelectField("Action", choices=[
        SelectChoice("", "All actions"),
        *(SelectChoice(action, label) for action, label in ACTIONS.items()),
    ])
