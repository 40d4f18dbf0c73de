"""Payments: one row per payment attempt with its state. The money it moved — what was
received, what paid which invoice, what became credit, what came back — is in the ledger
(app.ledger), one row per movement."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.extensions import db, enum_column


class PaymentStatus(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETURNED = "returned"


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)  # "PAY-…"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    method_label: Mapped[str] = mapped_column(String(80))  # "Visa •••• 4242", "ACH •••• 6789"
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus))
    received_on: Mapped[date] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The gateway's charge reference, and why a charge failed or came back.
    gateway_reference: Mapped[str | None] = mapped_column(String(60))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    return_code: Mapped[str | None] = mapped_column(String(4))  # "R01"
    settled_on: Mapped[date | None]
    returned_on: Mapped[date | None]
