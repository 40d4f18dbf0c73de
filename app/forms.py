"""The base of every form: input that is not what a field takes becomes an error next to the
field, never a crash (SPEC §14)."""

from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import Field
from wtforms import IntegerField as _IntegerField
from wtforms.fields import FileField
from wtforms.validators import StopValidation

from app.web import parse_int

FILE_FOR_TEXT_MESSAGE = "Type your answer here; a file cannot be sent in this box."
WHOLE_NUMBER_MESSAGE = "Enter a whole number, using the digits 0 to 9."


def _takes_files(field: Field) -> bool:
    return isinstance(field, FileField)


class Form(FlaskForm):
    """A FlaskForm that refuses a file sent for a field that takes text.

    Flask-WTF reads request.files together with request.form, so a multipart request could
    hand a text field an uploaded file instead of a string, and its validators would fail on
    it. Such a file is left out, and the field gets FILE_FOR_TEXT_MESSAGE when validated."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            formdata = super().wrap_formdata(form, formdata)
            form._files_for_text = set()
            if formdata is None or not any(
                isinstance(value, FileStorage) for _, value in formdata.items(multi=True)
            ):
                return formdata
            text_fields = {field.name for field in form if not _takes_files(field)}
            kept = MultiDict()
            for key, value in formdata.items(multi=True):
                if isinstance(value, FileStorage) and key in text_fields:
                    form._files_for_text.add(key)
                else:
                    kept.add(key, value)
            return kept

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if field.name in self._files_for_text:
                field.errors = [FILE_FOR_TEXT_MESSAGE]
                valid = False
        return valid


class IntegerField(_IntegerField):
    """A whole number in ASCII digits within the database's INTEGER range. WTForms' own takes
    whatever int() takes: '٣', '１２' and numbers of any size."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_int(valuelist[0])
        except ValueError as exc:
            self.data = None
            raise ValueError(self.invalid_value_message or WHOLE_NUMBER_MESSAGE) from exc

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()  # one message: range checks have no number to check
