"""The outbox table: one row per business event, with the state of its delivery."""

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db, enum_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or its first)
    DELIVERED = "delivered"  # the ERP answered 2xx: never sent again
    DEAD = "dead"  # the last attempt failed; `flask erp replay` puts it back


class OutboxEvent(db.Model):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # "evt_…", for the receiver
    event_type: Mapped[str] = mapped_column(String(60), index=True)  # "invoice.issued"
    schema_version: Mapped[int] = mapped_column(default=1)
    account_id: Mapped[int | None] = mapped_column(index=True)
    account_number: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    state: Mapped[DeliveryState] = mapped_column(enum_column(DeliveryState),
                                                 default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A deliverer's claim: nobody else sends the event before `leased_until`; a deliverer that
    # crashed leaves a lease that simply runs out.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    leased_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
    # The event's place in the pull feed (GET /api/erp/v1/events), given after it committed:
    # see app.events.feed.
    feed_position: Mapped[int | None] = mapped_column(unique=True)

    __table_args__ = (
        db.Index("ix_outbox_events_due", "state", "next_attempt_at"),
    )
