from wtforms import SelectField

from app.audit.services import ACTIONS
from app.forms import Form


class AuditFilterForm(Form):
    class Meta:
        csrf = False

    action = SelectField("Action", choices=[("", "All actions"), *ACTIONS.items()])
