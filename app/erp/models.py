"""The outbox: business events written in the same transaction as the change they describe,
delivered to the ERP later (nothing is lost when the ERP is away)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.extensions import db


class OutboxEvent(db.Model):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # "evt_…", for the receiver
    event_type: Mapped[str] = mapped_column(String(60), index=True)  # "invoice.issued"
    account_id: Mapped[int | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
