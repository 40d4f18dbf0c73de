"""The base of every form: input that is not what a field takes becomes an error next to the
field, never a crash (SPEC §14)."""

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import SUBMIT_METHODS, _Auto  # Flask-WTF's "read the request" default
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import Field
from wtforms import IntegerField as _IntegerField
from wtforms.fields import FileField
from wtforms.validators import StopValidation

from app.web import parse_int

FILE_FOR_TEXT_MESSAGE = "Type your answer here; a file cannot be sent in this box."
NOT_TEXT_MESSAGE = "Type your answer here as plain text."
WHOLE_NUMBER_MESSAGE = "Enter a whole number, using the digits 0 to 9."


def _takes_files(field: Field) -> bool:
    return isinstance(field, FileField)


def _json_formdata(data: Any) -> MultiDict:
    """A JSON body as form data: a list gives a field several values; true, false and numbers
    are read as their text; null is no value. Anything but an object sends no fields."""
    pairs = []
    if isinstance(data, dict):
        for key, value in data.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, bool):
                    pairs.append((key, "true" if item else "false"))
                elif isinstance(item, int | float):
                    pairs.append((key, str(item)))
                elif item is not None:
                    pairs.append((key, item))  # text, or an object or list: not text
    return MultiDict(pairs)


class Form(FlaskForm):
    """A FlaskForm whose text fields only ever get text.

    Flask-WTF reads request.files together with request.form (and a JSON body as form data),
    so a text field could be handed an uploaded file, a JSON object or a list instead of a
    string, and its validators would fail on it. Such a value is left out, and the field gets
    FILE_FOR_TEXT_MESSAGE or NOT_TEXT_MESSAGE when the form is validated."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            form._not_text = {}
            if formdata is _Auto and request.method in SUBMIT_METHODS and request.is_json \
                    and not request.form and not request.files:
                formdata = _json_formdata(request.get_json())  # malformed JSON: a 400
            else:
                formdata = super().wrap_formdata(form, formdata)
            if formdata is None or all(
                isinstance(value, str) for _, value in formdata.items(multi=True)
            ):
                return formdata
            fields = {field.name for field in form}
            file_fields = {field.name for field in form if _takes_files(field)}
            kept = MultiDict()
            for key, value in formdata.items(multi=True):
                if isinstance(value, str) or (key in file_fields
                                              and isinstance(value, FileStorage)):
                    kept.add(key, value)
                elif key in fields:
                    form._not_text[key] = (FILE_FOR_TEXT_MESSAGE if isinstance(value, FileStorage)
                                           else NOT_TEXT_MESSAGE)
            return kept

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if field.name in self._not_text:
                field.errors = [self._not_text[field.name]]
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
