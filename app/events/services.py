"""Recording business events: the only way any domain writes to the outbox."""

import secrets

from app.accounts.models import Account
from app.events.models import OutboxEvent
from app.events.schemas import EventData, to_payload, validate
from app.extensions import db


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def record_event(data: EventData, *, account_id: int | None) -> OutboxEvent:
    """Write an event to the outbox in the caller's transaction: if the business change rolls
    back, so does its event. Raises EventSchemaError (app.events.schemas) when `data` is not an
    event schema or a field has the wrong type."""
    schema = validate(data)
    account = db.session.get(Account, account_id) if account_id is not None else None
    event = OutboxEvent(
        event_id=new_event_id(),
        event_type=schema.TYPE,
        schema_version=schema.VERSION,
        account_id=account_id,
        account_number=account.number if account is not None else None,
        payload=to_payload(data),
    )
    db.session.add(event)
    return event
