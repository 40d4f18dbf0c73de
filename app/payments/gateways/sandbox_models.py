"""The sandbox gateway's own tables: what a real gateway keeps on its side. They hold no full
card number (the number is checked, then dropped) and no bank account number in clear
(last 4, plus the number encrypted with PAYMENTS_ENCRYPTION_KEYS)."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import utcnow
from app.extensions import db, enum_column
from app.payments.gateways.base import (
    BankAccountStatus,
    BankAccountType,
    ChargeStatus,
    EventType,
    MethodKind,
)


class CardBehaviour(enum.StrEnum):
    """How the sandbox answers charges on a card, decided from its number at tokenisation."""

    SUCCEEDS = "succeeds"
    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"


class FaultKind(enum.StrEnum):
    """A simulated outage for the next charge: the gateway made the charge but its answer was
    lost, or the request never reached it. Either way the caller sees `unknown`."""

    TIMEOUT_AFTER_CHARGE = "timeout_charged"
    TIMEOUT_BEFORE_CHARGE = "timeout_no_charge"


class SandboxClock(db.Model):
    """One row: the sandbox's business date, moved forward by `advance`."""

    __tablename__ = "sandbox_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    today: Mapped[date]


class SandboxCardSetup(db.Model):
    __tablename__ = "sandbox_card_setups"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # "cs_…"
    customer: Mapped[str] = mapped_column(String(60))
    return_url: Mapped[str] = mapped_column(String(2000))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("sandbox_cards.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    card: Mapped["SandboxCard | None"] = relationship()


class SandboxCard(db.Model):
    __tablename__ = "sandbox_cards"
    __table_args__ = (
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_range"),
        CheckConstraint("length(last4) = 4", name="last4_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)  # "card_…"
    customer: Mapped[str] = mapped_column(String(60), index=True)
    brand: Mapped[str] = mapped_column(String(30))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    behaviour: Mapped[CardBehaviour] = mapped_column(enum_column(CardBehaviour))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]


class SandboxBankAccount(db.Model):
    __tablename__ = "sandbox_bank_accounts"
    __table_args__ = (
        CheckConstraint("length(last4) = 4", name="last4_length"),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # "ba_…"
    customer: Mapped[str] = mapped_column(String(60), index=True)
    holder_name: Mapped[str] = mapped_column(String(100))
    routing_number: Mapped[str] = mapped_column(String(9))
    last4: Mapped[str] = mapped_column(String(4))
    account_number_encrypted: Mapped[str] = mapped_column(Text)  # Fernet token
    account_type: Mapped[BankAccountType] = mapped_column(enum_column(BankAccountType))
    status: Mapped[BankAccountStatus] = mapped_column(enum_column(BankAccountStatus))
    micro_deposit_1: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    micro_deposit_2: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    micro_deposits_sent_on: Mapped[date | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]


class SandboxCharge(db.Model):
    __tablename__ = "sandbox_charges"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # "ch_…"
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    method_kind: Mapped[MethodKind] = mapped_column(enum_column(MethodKind))
    method_reference: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[ChargeStatus] = mapped_column(enum_column(ChargeStatus), index=True)
    decline_code: Mapped[str | None] = mapped_column(String(40))
    return_code: Mapped[str | None] = mapped_column(String(3))
    created_on: Mapped[date]  # the sandbox clock's date
    settles_on: Mapped[date | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxEvent(db.Model):
    __tablename__ = "sandbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # "evt_…"
    type: Mapped[EventType] = mapped_column(enum_column(EventType))
    charge_id: Mapped[int] = mapped_column(ForeignKey("sandbox_charges.id"), index=True)
    occurred_on: Mapped[date]
    return_code: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(index=True)

    charge: Mapped[SandboxCharge] = relationship()


class SandboxFault(db.Model):
    __tablename__ = "sandbox_faults"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[FaultKind] = mapped_column(enum_column(FaultKind))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
