from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from app.forms import Form


class FeedbackForm(Form):
    helpful = RadioField(
        "Was this helpful?",
        choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        validators=[InputRequired("Choose Yes or No.")],
    )
    comment = TextAreaField(
        "What could be better? (optional)",
        validators=[
            Optional(),
            Length(max=1000, message="Keep the comment under 1,000 characters."),
        ],
    )
    submit = SubmitField("Send feedback")
