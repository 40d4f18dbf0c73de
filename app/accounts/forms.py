from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from app.forms import Form


class LoginForm(Form):
    email = EmailField(
        "E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=128)]
    )
    submit = SubmitField("Sign in")


class ConfirmPasswordForm(Form):
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=128)]
    )
    submit = SubmitField("Confirm password")
