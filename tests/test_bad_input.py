"""Bad input gets a 4xx with a clear message, never a 500 (SPEC §14): whole numbers in URLs,
files or JSON values sent for text fields, NUL characters, and bodies that are too large."""

import ast
import io
import re
from pathlib import Path

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule
from werkzeug.test import encode_multipart
from wtforms.validators import NumberRange, Optional

from app.config import TestConfig
from app.forms import (
    FILE_FOR_TEXT_MESSAGE,
    NOT_TEXT_MESSAGE,
    WHOLE_NUMBER_MESSAGE,
    Form,
    IntegerField,
)
from app.web import MAX_INT, IntConverter, parse_int, positive_int

APP_DIR = Path(__file__).resolve().parent.parent / "app"
HX = {"HX-Request": "true"}
ARTICLE = "getting-started"
MIB = 1024 * 1024

# int() accepts all of these, or str.isdigit() does; none is a number a URL or form may carry.
NOT_WHOLE_NUMBERS = ["²", "٣", "１２", "𝟗", "99999999999999999999999", str(MAX_INT + 1),
                     "1e3", "0x10", "1_000", "", " ", "\x00", "½"]


@pytest.mark.parametrize("text", NOT_WHOLE_NUMBERS)
def test_parse_int_takes_only_ascii_digits_within_integer_range(text):
    with pytest.raises(ValueError):
        parse_int(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("42", 42), (" 7 ", 7), ("-3", -3),
                                             (str(MAX_INT), MAX_INT), ("+5", 5)])
def test_parse_int_reads_plain_numbers(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["0", "-1"])
def test_positive_int_starts_at_one(text):
    with pytest.raises(ValueError):
        positive_int(text)


def test_int_converter_matches_ascii_digits_up_to_the_integer_range():
    urls = Map([Rule("/items/<int:item_id>", endpoint="item")],
               converters={"int": IntConverter}).bind("localhost")
    assert urls.match("/items/12") == ("item", {"item_id": 12})
    assert urls.match(f"/items/{MAX_INT}") == ("item", {"item_id": MAX_INT})
    for path in ["/items/٣", "/items/１２", f"/items/{MAX_INT + 1}", "/items/-1"]:
        with pytest.raises(NotFound):
            urls.match(path)


def test_the_app_uses_the_safe_int_converter(app):
    assert app.url_map.converters["int"] is IntConverter


class PageForm(Form):
    class Meta:
        csrf = False

    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1)])


@pytest.mark.parametrize("text", NOT_WHOLE_NUMBERS[:8])
def test_integer_field_refuses_what_int_would_take(app, text):
    with app.test_request_context(query_string={"page": text}):
        from flask import request

        form = PageForm(request.args)
        assert not form.validate()
        assert form.page.data is None
        assert form.page.errors == [WHOLE_NUMBER_MESSAGE]


def test_every_form_has_the_shared_base():
    """A form built on FlaskForm directly would let a file into a text field again."""

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    forms = [cls for cls in subclasses(FlaskForm)
             if cls.__module__.startswith("app.") and cls is not Form]
    assert forms, "no forms found"
    assert [cls.__qualname__ for cls in forms if not issubclass(cls, Form)] == []


def test_no_view_reads_a_whole_number_with_int():
    """`type=int`, int(request…) and WTForms' own IntegerField accept '٣' and 10**30; the
    helpers in app.web and app.forms do not."""
    offenders = []
    for path in APP_DIR.rglob("*.py"):
        if path.name.endswith("cli.py"):
            continue  # command-line options are typed by the operator, not the web
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.keyword) and node.arg == "type" \
                    and isinstance(node.value, ast.Name) and node.value.id == "int":
                offenders.append(f"{path.name}:{node.lineno} type=int")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "int" and node.args \
                    and "request" in ast.unparse(node.args[0]):
                offenders.append(f"{path.name}:{node.lineno} int(request…)")
        if path != APP_DIR / "forms.py" \
                and re.search(r"from wtforms[\w.]* import [^\n]*\bIntegerField\b", source):
            offenders.append(f"{path.name}: WTForms' IntegerField")
    assert offenders == []


# --- Files sent for text fields -------------------------------------------------------------


def _file(content: bytes = b"not text", name: str = "x.txt"):
    return (io.BytesIO(content), name)


def multipart(data: dict) -> dict:
    """A multipart body encoded in memory (the test client spools a large one to a temporary
    file that it never closes)."""
    files = {key: FileStorage(value[0], filename=value[1]) if isinstance(value, tuple) else value
             for key, value in data.items()}
    boundary, body = encode_multipart(files)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_login_with_files_for_its_fields_shows_errors_next_to_them(client):
    response = client.post("/login", data={"email": _file(), "password": _file()},
                           content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert body.count(FILE_FOR_TEXT_MESSAGE) == 2
    assert 'id="email-error"' in body and 'id="password-error"' in body


def test_login_with_one_file_keeps_the_other_field(client):
    response = client.post("/login", data={"email": "someone@example.test", "password": _file()},
                           content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="someone@example.test"' in body
    assert FILE_FOR_TEXT_MESSAGE in body


@pytest.mark.parametrize("headers", [{}, HX])
def test_feedback_with_files_for_its_fields_is_a_form_error(client, headers):
    response = client.post(f"/help/{ARTICLE}/feedback", headers=headers,
                           data={"helpful": _file(b"yes"), "comment": _file()},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert FILE_FOR_TEXT_MESSAGE in response.get_data(as_text=True)


def test_a_proper_multipart_form_still_works(client):
    response = client.post(f"/help/{ARTICLE}/feedback", data={"helpful": "yes", "comment": "ok"},
                           content_type="multipart/form-data")
    assert response.status_code == 303


# --- JSON bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"a": 1}, [[1]], [{"a": 1}]])
def test_json_that_is_not_text_is_an_error_next_to_the_field(client, value):
    response = client.post("/login", json={"email": value, "password": "x"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert NOT_TEXT_MESSAGE in body and 'id="email-error"' in body


@pytest.mark.parametrize("document", [[1, 2], "text", 5, None])
def test_a_json_body_that_is_not_an_object_sends_no_fields(client, document):
    response = client.post(f"/help/{ARTICLE}/feedback", json=document)
    assert response.status_code == 422
    assert "Choose Yes or No." in response.get_data(as_text=True)


def test_json_numbers_and_booleans_are_read_as_text(client):
    response = client.post(f"/help/{ARTICLE}/feedback", json={"helpful": "no", "comment": 42})
    assert response.status_code == 303
    assert client.post("/login", json={"email": True, "password": 1.5}).status_code == 422


def test_malformed_json_is_a_bad_request(client):
    response = client.post("/login", data=b"{not json", content_type="application/json")
    assert response.status_code == 400


# --- NUL characters ---------------------------------------------------------------------------


def test_nul_in_a_path_is_not_found(client):
    for path in [f"/help/{ARTICLE}%00", "/help/category/payments%00x", "/login%00"]:
        assert client.get(path).status_code == 404, path


def test_nul_in_a_form_field_is_replaced_not_stored(client):
    response = client.post("/login", data={"email": "a\x00b@example.test", "password": "x\x00"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "\x00" not in body and "a\ufffdb@example.test" in body
    feedback = client.post(f"/help/{ARTICLE}/feedback",
                           data={"helpful": "no", "comment": "bad\x00byte"}, headers=HX)
    assert feedback.status_code == 200


def test_nul_in_a_json_body_is_replaced(client):
    response = client.post("/login", json={"email": ["a\x00b@example.test"], "password": "x"})
    assert response.status_code == 422
    assert "a\ufffdb@example.test" in response.get_data(as_text=True)


def test_nul_in_the_search_box_is_replaced(client):
    response = client.get("/help/search", query_string={"q": "invoice\x00"})
    assert response.status_code == 200
    assert "invoice\ufffd" in response.get_data(as_text=True)


# --- Too large --------------------------------------------------------------------------------


def test_the_limits_leave_room_for_a_ten_megabyte_document():
    assert TestConfig.MAX_CONTENT_LENGTH > 10 * MIB
    assert TestConfig.MAX_CONTENT_LENGTH == TestConfig.MAX_REQUEST_MB * MIB


@pytest.mark.parametrize(("headers", "whole_page"), [({}, True), (HX, False)])
def test_a_body_over_the_limit_gets_a_413_page_or_fragment(client, app, headers, whole_page):
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    response = client.post("/login", headers=headers, **multipart(
        {"email": "a@example.test", "document": _file(b"x" * size)}))
    body = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "too large" in body
    assert ("<html" in body) is whole_page


def test_a_30_megabyte_urlencoded_form_is_refused_before_it_is_read(client):
    response = client.post("/login", data={"email": "a" * (30 * MIB), "password": "x"})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_a_form_text_over_the_form_memory_limit_is_refused(client, app):
    text = "a" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1)
    data = {"helpful": "yes", "comment": text}
    for body in [{"data": data}, multipart(data)]:
        response = client.post(f"/help/{ARTICLE}/feedback", **body)
        assert response.status_code == 413


def test_a_ten_megabyte_file_fits_in_a_request(client):
    response = client.post(f"/help/{ARTICLE}/feedback", **multipart(
        {"helpful": "yes", "document": _file(b"x" * (10 * MIB))}))
    assert response.status_code == 303
