"""Ledger entries: append-only, one row per money movement.

Sign convention: an entry that records a movement has a positive `amount`; the entry that undoes
it (an ACH return, a failed charge, a reversed credit application, credit taken back) names it
in `reverses_id` and carries the same amount negated. Sums of one `kind` are therefore net, and
a row is never updated or deleted.

What each kind means (`amount` > 0 unless it is a reversal):
- `payment`: money received (or in flight, for ACH) from the account; `payment_id`.
- `settlement`: an ACH payment settled. A record of the event; it moves no balance.
- `allocation`: part of a payment paying an invoice; `payment_id`, `invoice_id`.
- `credit`: credit the account may spend (`credit_source`: credit note, overpayment, returned
  credit); a "lot", drawn down oldest first.
- `credit_application`: credit applied to an invoice; `invoice_id`, and the lot it is drawn
  from in `credit_entry_id`.

Derived figures: an invoice's amount paid is the sum of its `allocation` entries, its credit
applied the sum of its `credit_application` entries; the account's credit balance is the sum
of its `credit` entries minus the sum of its `credit_application` entries.
"""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from app.accounts.models import utcnow
from app.extensions import db, enum_column


class EntryKind(enum.StrEnum):
    PAYMENT = "payment"
    SETTLEMENT = "settlement"
    ALLOCATION = "allocation"
    CREDIT = "credit"
    CREDIT_APPLICATION = "credit_application"


class CreditSource(enum.StrEnum):
    CREDIT_NOTE = "credit_note"
    OVERPAYMENT = "overpayment"
    RETURNED_CREDIT = "returned_credit"


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "(reverses_id IS NULL AND amount > 0) OR (reverses_id IS NOT NULL AND amount < 0)",
            name="sign_matches_reversal",
        ),
        CheckConstraint(
            "kind NOT IN ('payment', 'settlement', 'allocation') OR payment_id IS NOT NULL",
            name="payment_kinds_name_payment",
        ),
        CheckConstraint(
            "kind NOT IN ('allocation', 'credit_application') OR invoice_id IS NOT NULL",
            name="invoice_kinds_name_invoice",
        ),
        CheckConstraint(
            "kind <> 'credit_application' OR credit_entry_id IS NOT NULL",
            name="application_names_credit",
        ),
        CheckConstraint("kind <> 'credit' OR credit_source IS NOT NULL", name="credit_has_source"),
        CheckConstraint("kind <> 'settlement' OR reverses_id IS NULL",
                        name="settlement_not_reversed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # The business date of the movement (payment received, return reported, credit issued).
    effective_on: Mapped[date] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"))
    credit_source: Mapped[CreditSource | None] = mapped_column(enum_column(CreditSource))
    credit_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"),
                                                        index=True)
    # A row is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    # What the statement and the credit page show: "PAY-…", "CN-…", and a line of text.
    reference: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(300), default="")

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None


class LedgerImmutableError(Exception):
    """A ledger row was about to be changed or deleted: post a reversing entry instead."""


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
def _append_only(mapper, connection, entry: LedgerEntry) -> None:
    raise LedgerImmutableError(
        f"Ledger entry {entry.id} cannot change; post an entry that reverses it."
    )


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_changes(state: ORMExecuteState) -> None:
    """`session.execute(update(LedgerEntry)…)` skips the mapper events above; refuse it too.
    (On PostgreSQL a trigger also refuses UPDATE and DELETE from plain SQL.)"""
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is LedgerEntry for mapper in state.all_mappers
    ):
        raise LedgerImmutableError("Ledger entries cannot change; post reversing entries.")
