"""`endpoint`: how a view of the API declares its URL, body, query, response and errors once,
for both the request handling and the OpenAPI document (see the package docstring)."""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from app.erp.api import bp, idempotency
from app.erp.api.errors import ApiError, from_validation_error
from app.erp.api.schemas import RequestModel, ResponseModel
from app.errors import DomainError
from app.extensions import db
from app.web import public

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # Flask's, e.g. "/accounts/<account_number>/credit-notes"
    name: str
    summary: str
    description: str
    tag: str
    body: type[RequestModel] | None
    query: type[RequestModel] | None
    response: type[ResponseModel] | None  # None for a file download (`files`)
    status: int
    errors: tuple[int, ...]
    public: bool
    files: tuple[str, ...] = ()  # the media types of a file the view answers with

    @property
    def openapi_path(self) -> str:
        return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", self.rule)

    def path_parameters(self) -> list[tuple[str, str]]:
        """(name, converter) of each path variable, in order."""
        return [(m.group(2), m.group(1) or "string") for m in _CONVERTER.finditer(self.rule)]


OPERATIONS: list[Operation] = []


def _json_body(model: type[RequestModel]) -> tuple[RequestModel, bytes]:
    if request.mimetype != "application/json":
        raise ApiError(415)
    raw = request.get_data(cache=True)  # 413 beyond MAX_CONTENT_LENGTH
    try:
        return model.model_validate_json(raw), raw
    except ValidationError as error:
        raise from_validation_error(error) from None


def _query(model: type[RequestModel]) -> RequestModel:
    values: dict[str, Any] = {}
    for name in request.args:
        items = request.args.getlist(name)
        values[name] = items[0] if len(items) == 1 else items
    try:
        return model.model_validate(values, strict=False)
    except ValidationError as error:
        raise from_validation_error(error) from None


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
          ) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _run(operation: Operation, view: Callable, kwargs: dict[str, Any]) -> Response:
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER)) \
        if operation.method == "POST" else None
    arguments: dict[str, Any] = dict(kwargs)
    raw = b""
    if operation.query is not None:
        arguments["query"] = _query(operation.query)
    if operation.body is not None:
        arguments["body"], raw = _json_body(operation.body)
    record = None
    if key is not None:
        request_hash = idempotency.fingerprint(request.method, request.path, raw)
        claimed = idempotency.begin(g.erp_token.id, key, request_hash)
        if isinstance(claimed, idempotency.Replay):
            db.session.rollback()
            return _json(claimed.status, claimed.body,
                         {idempotency.REPLAYED_HEADER: "true"})
        record = claimed
    if operation.files:
        try:
            return view(**arguments)
        finally:
            db.session.rollback()
    try:
        result = view(**arguments)
        body = result.model_dump(mode="json", exclude_none=False)
        if record is not None:
            idempotency.finish(record, operation.status, body)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "Another request changed the same data at the same time; nothing "
                       "was changed. Try again.") from None
    except (ApiError, DomainError) as error:
        db.session.rollback()
        api_error = error if isinstance(error, ApiError) else \
            ApiError(error.status if 400 <= error.status < 500 else 409, error.message)
        if record is not None and api_error.status < 500:
            idempotency.keep_error(g.erp_token.id, key, request_hash, api_error.status,
                                   api_error.body())
        raise api_error from None
    return _json(operation.status, body)


def endpoint(method: str, rule: str, *, response: type[ResponseModel] | None, summary: str,
             tag: str, body: type[RequestModel] | None = None,
             query: type[RequestModel] | None = None, status: int = 200,
             errors: Sequence[int] = (), description: str = "",
             public_document: bool = False, files: Sequence[str] = ()) -> Callable:
    """Register `view` at `rule` (under /api/erp/v1) for `method`, and in the OpenAPI
    document. The view gets the path variables, `body` (an instance of the body model) and
    `query` (of the query model), and returns an instance of `response`; it raises ApiError,
    FieldErrors or a DomainError for anything but success. A GET that answers with a file
    names its media types in `files`, has no `response` model and returns the Response."""
    if bool(files) == (response is not None) or (files and method != "GET"):
        raise ValueError(f"{rule}: a GET answers with a file (`files`) or a JSON `response`.")

    def register(view: Callable) -> Callable:
        operation = Operation(
            method=method, rule=rule, name=view.__name__, summary=summary,
            description=description or (view.__doc__ or "").strip(), tag=tag, body=body,
            query=query, response=response, status=status, errors=tuple(errors),
            public=public_document, files=tuple(files))
        OPERATIONS.append(operation)

        @wraps(view)
        def handle(**kwargs: Any) -> Response:
            return _run(operation, view, kwargs)

        # The sign-in gate lets the view through; `auth.require_token` (before every view of
        # the blueprint) is what guards it.
        public(handle)
        if public_document:
            handle.token_not_required = True  # type: ignore[attr-defined]
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=handle, methods=[method])
        return view

    return register
