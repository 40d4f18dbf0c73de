import secrets
from typing import Any

from app.erp.models import OutboxEvent
from app.extensions import db


def record_event(
    event_type: str, *, account_id: int | None, payload: dict[str, Any]
) -> OutboxEvent:
    """Write an event to the outbox, in the caller's transaction."""
    event = OutboxEvent(
        event_id=f"evt_{secrets.token_hex(12)}",
        event_type=event_type,
        account_id=account_id,
        payload=payload,
    )
    db.session.add(event)
    return event
