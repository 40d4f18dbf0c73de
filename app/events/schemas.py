"""Every business event the portal publishes, one versioned schema per type, in one place.

An event's data is an instance of one of the dataclasses below: a call site cannot record an
ad-hoc dictionary. `record_event` checks every field against its annotation before writing.
Every event travels in the same envelope (`envelope`): id, type, version, occurred_at,
account_number, data. `json_schema(type)` gives the JSON Schema of an event's envelope, for the
ERP's OpenAPI document. Changing a type's fields means a new version number.
"""

import dataclasses
import types
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

from app.events.models import OutboxEvent

# A decimal amount as the JSON carries it: a string, never a float ("12.50", "-3.00").
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class EventSchemaError(TypeError):
    """An event's data does not match the schema of its type."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventData:
    """The data of one business event; subclasses register with `@event_schema`."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


EVENT_SCHEMAS: dict[str, type[EventData]] = {}


def event_schema(event_type: str, version: int):
    """Make the class a frozen dataclass and register it as the schema of `event_type`."""

    def register(cls: type[EventData]) -> type[EventData]:
        if event_type in EVENT_SCHEMAS:
            raise ValueError(f"{event_type} already has a schema")
        cls.TYPE, cls.VERSION = event_type, version
        cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        EVENT_SCHEMAS[event_type] = cls
        return cls

    return register


# Invoices ---------------------------------------------------------------------------------

@event_schema("invoice.issued", version=1)
class InvoiceIssued(EventData):
    invoice_number: str
    account_number: str
    period: str  # "2026-03"
    issue_date: date
    due_date: date
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    lines: int


# Payments ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class _PaymentEvent(EventData):
    reference: str
    amount: Decimal
    currency: str
    status: str


@event_schema("payment.created", version=1)
class PaymentCreated(_PaymentEvent):
    invoices: list[str]


@event_schema("payment.succeeded", version=1)
class PaymentSucceeded(_PaymentEvent):
    pass


@event_schema("payment.failed", version=1)
class PaymentFailed(_PaymentEvent):
    reason: str | None


@event_schema("payment.returned", version=1)
class PaymentReturned(_PaymentEvent):
    return_code: str


# Credit -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class _CreditEvent(EventData):
    invoice_number: str
    amount: Decimal
    currency: str


@event_schema("credit.applied", version=1)
class CreditApplied(_CreditEvent):
    pass


@event_schema("credit.reversed", version=1)
class CreditReversed(_CreditEvent):
    pass


@event_schema("account.credit_auto_apply_changed", version=1)
class CreditAutoApplyChanged(EventData):
    account_number: str
    auto_apply: bool
    changed_by: str  # the admin's e-mail address
    changed_at: datetime


# Payment methods --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class _MethodEvent(EventData):
    method_id: int
    kind: str
    label: str
    status: str


@event_schema("payment_method.added", version=1)
class PaymentMethodAdded(_MethodEvent):
    pass


@event_schema("payment_method.verified", version=1)
class PaymentMethodVerified(_MethodEvent):
    pass


@event_schema("payment_method.locked", version=1)
class PaymentMethodLocked(_MethodEvent):
    pass


@event_schema("payment_method.expired", version=1)
class PaymentMethodExpired(_MethodEvent):
    pass


@event_schema("payment_method.disabled", version=1)
class PaymentMethodDisabled(_MethodEvent):
    reason: str


@event_schema("payment_method.removed", version=1)
class PaymentMethodRemoved(_MethodEvent):
    pass


# Account information and change requests (SPEC §10) -----------------------------------------

@event_schema("account.billing_contact_changed", version=1)
class BillingContactChanged(EventData):
    account_number: str
    name: str | None
    email: str | None
    phone: str | None
    changed_by: str  # the admin's e-mail address
    changed_at: datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ChangeRequestEvent(EventData):
    reference: str  # "CR-000123"
    change_type: str  # legal_name | address | tax
    status: str


@event_schema("change_request.submitted", version=1)
class ChangeRequestSubmitted(_ChangeRequestEvent):
    """The request with what it changes. `proposed_*` is the new value and `previous_*` the
    account's value when it was submitted, for each field the request changes; both are null
    for a field it leaves alone (an address line 2 that is removed is an empty string). The
    account's country never changes (its currency and tax depend on it). `document_*` are
    parallel lists, one entry per supporting document."""

    changes: list[str]  # the fields it changes, by the names below without proposed_/previous_
    proposed_legal_name: str | None
    proposed_trading_name: str | None
    proposed_address_line1: str | None
    proposed_address_line2: str | None
    proposed_city: str | None
    proposed_region: str | None
    proposed_postal_code: str | None
    proposed_tax_id: str | None
    proposed_tax_exempt: bool | None
    previous_legal_name: str | None
    previous_trading_name: str | None
    previous_address_line1: str | None
    previous_address_line2: str | None
    previous_city: str | None
    previous_region: str | None
    previous_postal_code: str | None
    previous_tax_id: str | None
    previous_tax_exempt: bool | None
    country: str
    document_names: list[str]
    document_sizes: list[int]
    document_sha256: list[str]
    submitted_by: str  # the admin's e-mail address
    submitted_at: datetime


@event_schema("change_request.cancelled", version=1)
class ChangeRequestCancelled(_ChangeRequestEvent):
    cancelled_by: str
    cancelled_at: datetime


@event_schema("change_request.in_review", version=1)
class ChangeRequestInReview(_ChangeRequestEvent):
    note: str | None


@event_schema("change_request.approved", version=1)
class ChangeRequestApproved(_ChangeRequestEvent):
    effective_date: date
    reason: str | None


@event_schema("change_request.rejected", version=1)
class ChangeRequestRejected(_ChangeRequestEvent):
    reason: str


@event_schema("change_request.applied", version=1)
class ChangeRequestApplied(_ChangeRequestEvent):
    effective_date: date
    applied_at: datetime


# Checking and serialising -----------------------------------------------------------------

def _matches(value: Any, annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_matches(value, option) for option in get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is int:  # a bool is an int to Python, not to the ERP
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is Decimal:
        return isinstance(value, Decimal) and value.is_finite()
    if annotation is date:  # a datetime is a date to Python: refuse it here
        return isinstance(value, date) and not isinstance(value, datetime)
    if annotation is datetime:
        return isinstance(value, datetime) and value.tzinfo is not None
    return isinstance(value, annotation)


def validate(data: object) -> type[EventData]:
    """The schema `data` is an instance of, after checking every field's value. Raises
    EventSchemaError for anything but a registered event dataclass, or a field of the wrong
    type (a float amount, a naive datetime, a string where a number goes …)."""
    cls = type(data)
    if EVENT_SCHEMAS.get(getattr(cls, "TYPE", None)) is not cls:
        raise EventSchemaError(f"{cls.__name__} is not an event schema; use one of "
                               "app.events.schemas")
    hints = get_type_hints(cls)
    for field in dataclasses.fields(cls):
        value = getattr(data, field.name)
        if not _matches(value, hints[field.name]):
            raise EventSchemaError(f"{cls.TYPE} v{cls.VERSION}: {field.name} must be "
                                   f"{hints[field.name]}, not {value!r}")
    return cls


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # date and datetime
        return value.isoformat()
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def to_payload(data: EventData) -> dict[str, Any]:
    """The event's data as JSON values (amounts as strings, dates in ISO 8601)."""
    return {field.name: _to_json(getattr(data, field.name))
            for field in dataclasses.fields(data)}


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """The body the ERP receives: the same envelope for every event type."""
    return {
        "id": event.event_id,
        "type": event.event_type,
        "version": event.schema_version,
        "occurred_at": event.created_at.isoformat(),
        "account_number": event.account_number,
        "data": event.payload,
    }


# JSON Schema ------------------------------------------------------------------------------

def _schema_of(annotation: Any) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema_of(option) for option in get_args(annotation)]}
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": _schema_of(item)}
    simple = {
        type(None): {"type": "null"},
        str: {"type": "string"},
        bool: {"type": "boolean"},
        int: {"type": "integer"},
        Decimal: {"type": "string", "pattern": DECIMAL_PATTERN},
        date: {"type": "string", "format": "date"},
        datetime: {"type": "string", "format": "date-time"},
    }
    return dict(simple[annotation])


def data_schema(cls: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of one event type's `data`."""
    hints = get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]
    return {
        "type": "object",
        "properties": {name: _schema_of(hints[name]) for name in names},
        "required": names,
        "additionalProperties": False,
    }


def json_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) of the webhook body for one event
    type. Raises KeyError for an unknown type."""
    cls = EVENT_SCHEMAS[event_type]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"{cls.TYPE} v{cls.VERSION}",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"const": cls.TYPE},
            "version": {"const": cls.VERSION},
            "occurred_at": {"type": "string", "format": "date-time"},
            "account_number": {"type": ["string", "null"]},
            "data": data_schema(cls),
        },
        "required": ["id", "type", "version", "occurred_at", "account_number", "data"],
        "additionalProperties": False,
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every event type's JSON Schema, by type."""
    return {event_type: json_schema(event_type) for event_type in sorted(EVENT_SCHEMAS)}
