"""The OpenAPI 3.1 document of the API, generated from the operations `framework.endpoint`
registered and their pydantic models, with the event envelopes of app.events.schemas. It is
public (no token): it describes the API and holds no data."""

from typing import Any

from flask import jsonify
from pydantic.json_schema import models_json_schema

from app.erp.api import PREFIX, bp
from app.erp.api.errors import MESSAGES
from app.erp.api.framework import OPERATIONS, Operation
from app.erp.api.idempotency import HEADER, KEY_LIFETIME, MAX_KEY_LENGTH, REPLAYED_HEADER
from app.erp.api.routes_events import event_schema_name
from app.erp.api.schemas import ErrorBody
from app.events.schemas import json_schemas
from app.web import MAX_INT, public

TITLE = "Partner Portal ERP API"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": MESSAGES.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def _error_statuses(operation: Operation) -> list[int]:
    statuses = set(operation.errors)
    if operation.body is not None or operation.query is not None:
        statuses.add(400)
    if not operation.public:
        statuses.add(401)
    if operation.path_parameters():
        statuses.add(404)
    if operation.body is not None:
        statuses |= {413, 415}
    if operation.method == "POST":
        statuses |= {400, 409, 422}  # Idempotency-Key: malformed, in progress, reused
    return sorted(statuses)


def _path_parameter(name: str, converter: str) -> dict[str, Any]:
    schema = ({"type": "integer", "minimum": 0, "maximum": MAX_INT} if converter == "int"
              else {"type": "string", "minLength": 1, "maxLength": 100})
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(operation: Operation, schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "description": prop.get("description", ""),
             "schema": {key: value for key, value in prop.items()
                        if key not in ("description", "title")}}
            for name, prop in schema.get("properties", {}).items()]


def _idempotency_header() -> dict[str, Any]:
    return {
        "name": HEADER, "in": "header", "required": False,
        "description": (f"Makes a retry safe: the first response for the key is kept "
                        f"{int(KEY_LIFETIME.total_seconds() // 3600)} hours and replayed for "
                        "the same request; another request with the key gets 422."),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                   "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"},
    }


def document() -> dict[str, Any]:
    models = {ErrorBody: "serialization"}
    for operation in OPERATIONS:
        if operation.response is not None:
            models[operation.response] = "serialization"
        for model in (operation.body, operation.query):
            if model is not None:
                models[model] = "validation"
    refs, definitions = models_json_schema([(model, mode) for model, mode in models.items()],
                                           ref_template=REF)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for event_type, schema in json_schemas().items():
        schemas[event_schema_name(event_type)] = {key: value for key, value in schema.items()
                                                  if key != "$schema"}

    def resolve(model) -> dict[str, Any]:
        ref = refs[(model, models[model])]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]

    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        parameters = [_path_parameter(name, converter)
                      for name, converter in operation.path_parameters()]
        if operation.query is not None:
            parameters += _query_parameters(operation, resolve(operation.query))
        if operation.method == "POST":
            parameters.append(_idempotency_header())
        success: dict[str, Any] = {
            "description": "Success.",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}
                        for media_type in operation.files}
            if operation.files else
            {"application/json": {"schema": refs[(operation.response, "serialization")]}},
        }
        if operation.method == "POST":
            success["headers"] = {REPLAYED_HEADER: {
                "description": "true when this is the kept response of an earlier request "
                               "with the same Idempotency-Key.",
                "schema": {"type": "string", "enum": ["true"]}}}
        entry: dict[str, Any] = {
            "operationId": operation.name,
            "summary": operation.summary,
            "description": operation.description,
            "tags": [operation.tag],
            "parameters": parameters,
            "responses": {str(operation.status): success,
                          **{str(status): _error_response(status)
                             for status in _error_statuses(operation)}},
        }
        if operation.body is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": refs[(operation.body, "validation")]}}}
        if operation.public:
            entry["security"] = []
        paths.setdefault(operation.openapi_path, {})[operation.method.lower()] = entry
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi_document", "summary": "This document", "tags": ["Document"],
        "security": [],
        "responses": {"200": {"description": "The OpenAPI document.", "content": {
            "application/json": {"schema": {"type": "object"}}}}},
    }}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": TITLE, "version": VERSION, "description": (
            "The ERP's side of the Partner Portal: read the event feed, issue credit notes, "
            "report ACH settlements and returns, post invoices issued in the ERP and report "
            "subscription changes. Money is a string with at most 2 decimals, dates are "
            "YYYY-MM-DD. Every call but this document needs a bearer token "
            "(`flask erp token create`). Each request is applied entirely or not at all.")},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "erp_<prefix>_<secret>"}},
        },
    }


@bp.route("/openapi.json")
@public
def openapi_document():
    """The OpenAPI document (no token needed)."""
    response = jsonify(document())
    response.headers["Cache-Control"] = "no-store"
    return response


openapi_document.token_not_required = True
