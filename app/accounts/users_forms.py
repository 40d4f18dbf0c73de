"""Forms of the users and roles pages and of signing up through an invitation."""

from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from app.accounts.models import Role
from app.accounts.services import MAX_PASSWORD_LENGTH
from app.accounts.users import ACCOUNT_ROLES, ROLE_LABELS
from app.forms import Form

ROLE_CHOICES = [SelectChoice(role.value, ROLE_LABELS[role]) for role in ACCOUNT_ROLES]


class InviteForm(Form):
    email = EmailField("E-mail address", validators=[
        DataRequired("Enter the new user's e-mail address."), Length(max=254),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
               message="Enter an e-mail address like name@example.com."),
    ])
    name = StringField("Name", validators=[DataRequired("Enter the new user's name."),
                                           Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.VIEWER.value,
                       validate_choice=True)
    submit = SubmitField("Create invitation link")


class RoleForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Change role")


class SignupForm(Form):
    password = PasswordField("Choose a password", validators=[
        DataRequired("Choose a password."), Length(max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField("Type the password again", validators=[
        DataRequired("Type the password again."),
        EqualTo("password", "The two passwords are not the same."),
    ])
    submit = SubmitField("Create my account")
