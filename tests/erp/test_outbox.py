"""The core outbox: events are written in the caller's transaction, only through a registered
schema, in one envelope; each type's JSON Schema describes what the ERP receives."""

import dataclasses
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.events.models import DeliveryState, OutboxEvent
from app.events.schemas import (
    DECIMAL_PATTERN,
    EVENT_SCHEMAS,
    CreditApplied,
    CreditAutoApplyChanged,
    EventSchemaError,
    InvoiceIssued,
    PaymentCreated,
    PaymentFailed,
    PaymentMethodAdded,
    envelope,
    json_schema,
    json_schemas,
    to_payload,
)
from app.events.services import record_event
from app.extensions import db

# SPEC §13 and every type the domains record today.
PUBLISHED_TYPES = {
    "invoice.issued",
    "payment.created", "payment.succeeded", "payment.failed", "payment.returned",
    "credit.applied", "credit.reversed", "account.credit_auto_apply_changed",
    "payment_method.added", "payment_method.verified", "payment_method.locked",
    "payment_method.expired", "payment_method.disabled", "payment_method.removed",
    "account.billing_contact_changed",
    "change_request.submitted", "change_request.cancelled", "change_request.in_review",
    "change_request.approved", "change_request.rejected", "change_request.applied",
}

SAMPLES = [
    InvoiceIssued(invoice_number="INV-2026-000001", account_number="R-100001", period="2026-03",
                  issue_date=date(2026, 4, 1), due_date=date(2026, 5, 1), currency="USD",
                  subtotal=Decimal("100.00"), tax=Decimal("10.25"), total=Decimal("110.25"),
                  lines=2),
    PaymentCreated(reference="PAY-ABC", amount=Decimal("12.50"), currency="USD",
                   status="processing", invoices=["INV-2026-000001"]),
    PaymentFailed(reference="PAY-ABC", amount=Decimal("12.50"), currency="USD",
                  status="failed", reason=None),
    CreditApplied(invoice_number="INV-2026-000001", amount=Decimal("35.00"), currency="USD"),
    CreditAutoApplyChanged(account_number="R-100001", auto_apply=False,
                           changed_by="admin@example.test",
                           changed_at=datetime(2026, 3, 5, 9, 30, tzinfo=UTC)),
    PaymentMethodAdded(method_id=7, kind="card", label="Visa •••• 4242", status="verified"),
]


def outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxEvent))


def test_every_published_type_has_one_schema():
    assert set(EVENT_SCHEMAS) == PUBLISHED_TYPES
    assert all(name == cls.TYPE and cls.VERSION >= 1 for name, cls in EVENT_SCHEMAS.items())


def test_an_event_is_written_in_the_callers_transaction(factory):
    account = factory.account()
    record_event(SAMPLES[3], account_id=account.id)
    db.session.flush()
    assert outbox_count() == 1
    db.session.rollback()  # the business change failed: its event goes with it
    assert outbox_count() == 0

    event_id = record_event(SAMPLES[3], account_id=account.id).event_id
    number = account.number
    db.session.commit()
    db.session.remove()
    stored = db.session.scalar(select(OutboxEvent))
    assert (stored.event_id, stored.event_type, stored.schema_version) == (
        event_id, "credit.applied", 1)
    assert stored.payload == {"invoice_number": "INV-2026-000001", "amount": "35.00",
                              "currency": "USD"}
    assert (stored.account_number, stored.state, stored.attempts) == (
        number, DeliveryState.PENDING, 0)


@pytest.mark.parametrize("data", [
    {"invoice_number": "INV-1", "amount": "35.00", "currency": "USD"},  # ad-hoc dictionary
    CreditApplied(invoice_number="INV-1", amount="35.00", currency="USD"),  # amount as text
    CreditApplied(invoice_number="INV-1", amount=35.0, currency="USD"),  # a float
    CreditApplied(invoice_number="INV-1", amount=Decimal("NaN"), currency="USD"),
    PaymentMethodAdded(method_id=True, kind="card", label="Visa", status="verified"),
    PaymentMethodAdded(method_id="7", kind="card", label="Visa", status="verified"),
    PaymentCreated(reference="PAY-1", amount=Decimal(1), currency="USD", status="succeeded",
                   invoices=["INV-1", 2]),
    CreditAutoApplyChanged(account_number="R-1", auto_apply=True, changed_by="a@example.test",
                           changed_at=datetime(2026, 3, 5, 9, 30)),  # naive
    dataclasses.replace(SAMPLES[0], issue_date=datetime(2026, 4, 1, tzinfo=UTC)),
], ids=["dict", "text-amount", "float", "nan", "bool-id", "text-id", "list-item", "naive",
        "datetime-for-date"])
def test_a_wrong_payload_is_refused_at_the_call_site(factory, data):
    account = factory.account()
    with pytest.raises(EventSchemaError):
        record_event(data, account_id=account.id)
    assert outbox_count() == 0


def test_an_unknown_or_missing_field_is_refused_when_the_event_is_built():
    with pytest.raises(TypeError):
        CreditApplied(invoice_number="INV-1", amount=Decimal(1), currency="USD", memo="x")
    with pytest.raises(TypeError):
        CreditApplied(invoice_number="INV-1", amount=Decimal(1))


def test_a_subclass_that_is_not_registered_is_refused(factory):
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Lookalike(CreditApplied):
        pass

    with pytest.raises(EventSchemaError):
        record_event(Lookalike(invoice_number="I", amount=Decimal(1), currency="USD"),
                     account_id=factory.account().id)


def _check(value, schema, path="$"):
    """The subset of JSON Schema that `json_schema` uses."""
    if "anyOf" in schema:
        errors = [_check(value, option, path) for option in schema["anyOf"]]
        return [] if [] in errors else [f"{path}: matches no option"]
    if "const" in schema:
        return [] if value == schema["const"] else [f"{path}: not {schema['const']!r}"]
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    python = {"string": str, "integer": int, "boolean": bool, "null": type(None),
              "object": dict, "array": list}
    if not any(isinstance(value, python[k]) and not (k == "integer" and isinstance(value, bool))
               for k in kinds):
        return [f"{path}: not {kinds}"]
    errors = []
    if isinstance(value, str) and "pattern" in schema and not re.match(schema["pattern"], value):
        errors.append(f"{path}: does not match {schema['pattern']}")
    if isinstance(value, str) and schema.get("format") == "date":
        date.fromisoformat(value)
    if isinstance(value, str) and schema.get("format") == "date-time":
        assert datetime.fromisoformat(value).tzinfo is not None
    if isinstance(value, list):
        for i, item in enumerate(value):
            errors += _check(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        missing = set(schema["required"]) - set(value)
        extra = set(value) - set(schema["properties"])
        errors += [f"{path}: missing {sorted(missing)}"] * bool(missing)
        errors += [f"{path}: unexpected {sorted(extra)}"] * bool(extra and
                                                                not schema["additionalProperties"])
        for key in set(value) & set(schema["properties"]):
            errors += _check(value[key], schema["properties"][key], f"{path}.{key}")
    return errors


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: d.TYPE)
def test_the_json_schema_describes_the_webhook_body(factory, data):
    account = factory.account()
    event = record_event(data, account_id=account.id)
    db.session.flush()
    body = envelope(event)
    assert set(body) == {"id", "type", "version", "occurred_at", "account_number", "data"}
    assert _check(body, json_schema(data.TYPE)) == []
    # A body that strays from the schema is caught: the check is not vacuous.
    assert _check({**body, "data": {**body["data"], "extra": 1}}, json_schema(data.TYPE))
    assert _check({**body, "type": "invoice.voided"}, json_schema(data.TYPE))


def test_json_schemas_cover_every_type_with_its_fields_all_required():
    schemas = json_schemas()
    assert set(schemas) == PUBLISHED_TYPES
    for name, schema in schemas.items():
        fields = [f.name for f in dataclasses.fields(EVENT_SCHEMAS[name])]
        assert schema["properties"]["type"] == {"const": name}
        assert schema["properties"]["data"]["required"] == fields
        assert list(schema["properties"]["data"]["properties"]) == fields
    amount = schemas["credit.applied"]["properties"]["data"]["properties"]["amount"]
    assert amount == {"type": "string", "pattern": DECIMAL_PATTERN}
    assert to_payload(SAMPLES[3])["amount"] == "35.00"
    assert schemas["payment.failed"]["properties"]["data"]["properties"]["reason"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]}
