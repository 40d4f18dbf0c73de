"""Posting to the ledger and reading balances from it. Services flush; the caller commits.
The caller also holds the locks that make a posting safe (the invoice, payment or account row)."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import ZERO


class LedgerError(Exception):
    """A posting that the ledger's rules refuse (a programming error, not a user's)."""


def post_entry(
    kind: EntryKind,
    *,
    account_id: int,
    currency: str,
    amount: Decimal,
    effective_on: date,
    reference: str,
    memo: str = "",
    payment_id: int | None = None,
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
    credit_source: CreditSource | None = None,
    credit_entry_id: int | None = None,
) -> LedgerEntry:
    """Append one movement. Raises LedgerError unless `amount` is more than zero."""
    if amount <= ZERO:
        raise LedgerError(f"A {kind.value} entry must be more than zero, not {amount}.")
    entry = LedgerEntry(
        kind=kind, account_id=account_id, currency=currency, amount=amount,
        effective_on=effective_on, reference=reference, memo=memo, payment_id=payment_id,
        invoice_id=invoice_id, credit_note_id=credit_note_id, credit_source=credit_source,
        credit_entry_id=credit_entry_id,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def reverse_entry(entry: LedgerEntry, *, effective_on: date, memo: str = "") -> LedgerEntry:
    """Append the entry that undoes `entry` in full. Raises LedgerError for a reversal, a
    settlement or an entry already reversed."""
    if entry.is_reversal or entry.kind == EntryKind.SETTLEMENT:
        raise LedgerError(f"Ledger entry {entry.id} cannot be reversed.")
    if is_reversed(entry):
        raise LedgerError(f"Ledger entry {entry.id} is already reversed.")
    reversal = LedgerEntry(
        kind=entry.kind, account_id=entry.account_id, currency=entry.currency,
        amount=-entry.amount, effective_on=effective_on, reference=entry.reference,
        memo=memo or entry.memo, payment_id=entry.payment_id, invoice_id=entry.invoice_id,
        credit_note_id=entry.credit_note_id, credit_source=entry.credit_source,
        credit_entry_id=entry.credit_entry_id, reverses_id=entry.id,
    )
    db.session.add(reversal)
    db.session.flush()
    return reversal


def is_reversed(entry: LedgerEntry) -> bool:
    return db.session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)
    ) is not None


def open_entries(*where) -> list[LedgerEntry]:
    """Entries matching `where` that are movements (not reversals) and not reversed, oldest
    first."""
    reversed_ids = select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
    return list(db.session.scalars(
        select(LedgerEntry)
        .where(*where, LedgerEntry.reverses_id.is_(None), LedgerEntry.id.not_in(reversed_ids))
        .order_by(LedgerEntry.effective_on, LedgerEntry.id)
    ))


def _total(*where) -> Decimal:
    return Decimal(db.session.scalar(select(func.sum(LedgerEntry.amount)).where(*where)) or 0
                   ).quantize(ZERO)


def invoice_amount_paid(invoice_id: int) -> Decimal:
    return _total(LedgerEntry.kind == EntryKind.ALLOCATION, LedgerEntry.invoice_id == invoice_id)


def invoice_credit_applied(invoice_id: int) -> Decimal:
    return _total(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                  LedgerEntry.invoice_id == invoice_id)


def payment_received(payment_id: int) -> Decimal:
    """What the ledger holds as received for a payment: its amount, or zero once reversed."""
    return _total(LedgerEntry.kind == EntryKind.PAYMENT, LedgerEntry.payment_id == payment_id)


def payment_allocated(payment_id: int) -> Decimal:
    return _total(LedgerEntry.kind == EntryKind.ALLOCATION, LedgerEntry.payment_id == payment_id)


def credit_balance(account_id: int) -> Decimal:
    """Credit the account can still spend: credit created minus credit applied, net of
    reversals."""
    return (_total(LedgerEntry.kind == EntryKind.CREDIT, LedgerEntry.account_id == account_id)
            - _total(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                     LedgerEntry.account_id == account_id))


def credit_lot_remaining(lot: LedgerEntry) -> Decimal:
    """What is left of one credit entry: its amount (zero once reversed) minus what has been
    applied from it."""
    created = _total(LedgerEntry.kind == EntryKind.CREDIT,
                     (LedgerEntry.id == lot.id) | (LedgerEntry.reverses_id == lot.id))
    applied = _total(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                     LedgerEntry.credit_entry_id == lot.id)
    return created - applied


def credit_lots(account_id: int) -> list[tuple[LedgerEntry, Decimal]]:
    """The account's credit entries with something left, oldest first, with what is left."""
    lots = open_entries(LedgerEntry.kind == EntryKind.CREDIT, LedgerEntry.account_id == account_id)
    with_remaining = ((lot, credit_lot_remaining(lot)) for lot in lots)
    return [(lot, left) for lot, left in with_remaining if left > ZERO]
