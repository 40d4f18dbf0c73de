"""Errors of the ERP API: always a JSON body `{"error": code, "message": sentence}`, with
`fields` (field path → sentence) for invalid input. Never an HTML page or a redirect."""

from typing import Any

from flask import Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

# The machine-readable code of each status the API answers with.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    500: "server_error",
}

MESSAGES = {
    400: "The request is not valid.",
    401: "Send a valid bearer token: Authorization: Bearer erp_….",
    404: "Nothing was found at this address.",
    405: "This address does not take that method.",
    409: "The request conflicts with the current state; nothing was changed.",
    413: "The request body is too large; nothing was changed.",
    415: "Send the body as JSON (Content-Type: application/json).",
    422: "The request cannot be processed.",
    500: "Something went wrong on our side; nothing was changed. Try again.",
}


class ApiError(Exception):
    """An answer other than success: `status`, a sentence, and for invalid input the sentence
    for each field."""

    def __init__(self, status: int, message: str | None = None, *,
                 fields: dict[str, str] | None = None, error: str | None = None) -> None:
        super().__init__(message or MESSAGES.get(status, ""))
        self.status = status
        self.message = message or MESSAGES.get(status, "")
        self.fields = fields
        self.error = error or ERROR_CODES.get(status, "error")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.fields is not None:
            body["fields"] = self.fields
        return body


class FieldErrors(ApiError):
    """400 naming each invalid field: `FieldErrors({"amount": "Enter an amount greater than
    0."})`."""

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(400, message or "Some fields are not valid; nothing was changed.",
                         fields=fields)


def _path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _sentence(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    sentences = {
        "missing": "This field is required.",
        "extra_forbidden": "This field is not accepted here.",
        "string_type": "Enter text (a JSON string).",
        "string_too_short": "Enter a value." if ctx.get("min_length") == 1
        else f"Enter at least {ctx.get('min_length')} characters.",
        "string_too_long": f"Enter at most {ctx.get('max_length')} characters.",
        "int_type": "Enter a whole number.",
        "int_parsing": "Enter a whole number.",
        "int_from_float": "Enter a whole number.",
        "greater_than_equal": f"Enter a number of at least {ctx.get('ge')}.",
        "less_than_equal": f"Enter a number of at most {ctx.get('le')}.",
        "date_type": "Enter a date as YYYY-MM-DD.",
        "date_parsing": "Enter a date as YYYY-MM-DD.",
        "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD.",
        "date_from_datetime_inexact": "Enter a date as YYYY-MM-DD.",
        "list_type": "Enter a list.",
        "too_short": f"Enter at least {ctx.get('min_length')} item(s).",
        "too_long": f"Enter at most {ctx.get('max_length')} items.",
        "model_type": "Send a JSON object.",
        "model_attributes_type": "Send a JSON object.",
        "dict_type": "Send a JSON object.",
        "json_invalid": "The body is not valid JSON.",
        "literal_error": f"Enter one of {ctx.get('expected')}.",
        "bool_type": "Enter true or false.",
        "string_pattern_mismatch": f"Enter a value of the form {ctx.get('pattern')}.",
    }
    return sentences.get(kind, error["msg"].removeprefix("Value error, "))


def from_validation_error(error: ValidationError, *, prefix: tuple = ()) -> ApiError:
    """A 400 naming each invalid field of a pydantic ValidationError (the first sentence per
    field)."""
    if any(item["type"] == "json_invalid" for item in error.errors()):
        return ApiError(400, "The body is not valid JSON; nothing was changed.",
                        error="invalid_json")
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        fields.setdefault(_path(prefix + tuple(item["loc"])), _sentence(item))
    return FieldErrors(fields)


def from_http_exception(error: HTTPException) -> ApiError:
    status = error.code or 500
    if status not in ERROR_CODES:
        status = 400 if 400 <= status < 500 else 500
    return ApiError(status)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="erp"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response
