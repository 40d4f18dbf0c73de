"""Payments: one row per payment attempt with its state. The money it moved — what was
received, what paid which invoice, what became credit, what came back — is in the ledger
(app.ledger), one row per movement."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import utcnow
from app.extensions import db, enum_column
from app.payments.gateways.base import BankAccountType, MethodKind


class PaymentStatus(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETURNED = "returned"
    # The gateway did not answer: the charge may or may not exist. The payment holds its
    # invoices like a processing one until `flask payments settle` asks the gateway.
    UNKNOWN = "unknown"


class MethodStatus(enum.StrEnum):
    """pending_verification → verified | locked | expired (bank accounts); verified → disabled
    (a bank account after a return that closes it). A card is verified when it is added."""

    PENDING_VERIFICATION = "pending_verification"
    VERIFIED = "verified"
    LOCKED = "locked"
    EXPIRED = "expired"
    DISABLED = "disabled"


class PaymentMethod(db.Model):
    """A card or US bank account the account pays with: the gateway's reference and what may
    be shown (brand or bank, last 4, expiry), never a full card or account number."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        CheckConstraint("length(last4) = 4", name="last4_length"),
        CheckConstraint("failed_verifications >= 0", name="failed_verifications_positive"),
        CheckConstraint("kind <> 'ach' OR authorisation_text IS NOT NULL",
                        name="ach_has_authorisation"),
        # At most one default method per account.
        Index("uq_payment_methods_default", "account_id", unique=True,
              sqlite_where=text("is_default"), postgresql_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[MethodKind] = mapped_column(enum_column(MethodKind))
    status: Mapped[MethodStatus] = mapped_column(enum_column(MethodStatus))
    gateway_reference: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(80))  # "Visa •••• 4242", "ACH •••• 6789"
    last4: Mapped[str] = mapped_column(String(4))
    is_default: Mapped[bool] = mapped_column(default=False)
    # Cards
    brand: Mapped[str | None] = mapped_column(String(30))
    exp_month: Mapped[int | None]
    exp_year: Mapped[int | None]
    # Bank accounts (the account number stays at the gateway, encrypted)
    holder_name: Mapped[str | None] = mapped_column(String(100))
    routing_number: Mapped[str | None] = mapped_column(String(9))
    account_type: Mapped[BankAccountType | None] = mapped_column(enum_column(BankAccountType))
    failed_verifications: Mapped[int] = mapped_column(default=0)
    verification_expires_on: Mapped[date | None]
    verified_at: Mapped[datetime | None]
    # The CCD debit authorisation accepted when the bank account was added: its exact words,
    # who accepted it, when, and from which address.
    authorisation_text: Mapped[str | None] = mapped_column(Text)
    authorised_at: Mapped[datetime | None]
    authorised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    authorised_ip: Mapped[str | None] = mapped_column(String(45))
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # A removed method stays for the payments that name it, and is no longer listed.
    removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


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
    # The method charged (none for payments recorded without one, e.g. before the portal).
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"), index=True)
    # The key the gateway charge was made with: the same key never charges twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # An R01 (insufficient funds) return presented again: the payment it retries.
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)

    method: Mapped[PaymentMethod | None] = relationship()


class PaymentDraft(db.Model):
    """A payment being prepared in the pay flow, under the key the server issued with the
    form. Confirming it claims it once: a double click, a resubmit, a second tab or the back
    button find the payment already made (`payment_id`) instead of making another."""

    __tablename__ = "payment_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    apply_credit: Mapped[bool] = mapped_column(default=False)
    # [{"invoice_id": 1, "amount": "12.50"}, …] as reviewed.
    lines: Mapped[list] = mapped_column(JSON, default=list)
    # Each confirmation that reached the gateway (a declined card may be tried again with
    # another method: each try charges under its own key, "<key>-<attempts>").
    attempts: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[datetime | None]
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
