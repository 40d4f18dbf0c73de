"""What the credit page shows (SPEC §9): the credit ledger with its running balance, the open
invoices credit can go to, the invoices whose credit the reseller may take off again, and who
last changed the auto-apply setting. Reads only; changes go through app.credit.services."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel.numbers import get_currency_name
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from app.accounts.models import Account
from app.billing.models import Invoice, InvoiceStatus
from app.billing.transitions import PAYABLE
from app.credit.services import AUTO_APPLY_CHANGED
from app.events.models import OutboxEvent
from app.extensions import db
from app.formatting import LOCALE
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import ZERO

LEDGER_PAGE_SIZE = 25
# The apply form lists at most this many open invoices, the oldest first.
APPLY_FORM_INVOICES = 50

# Each kind of credit: its name in the ledger, and how a movement of it is described.
SOURCE_KINDS = {
    CreditSource.CREDIT_NOTE: "Credit note",
    CreditSource.OVERPAYMENT: "Overpayment",
    CreditSource.RETURNED_CREDIT: "Returned credit",
}
SOURCE_DESCRIPTIONS = {
    CreditSource.CREDIT_NOTE: "Credit note {reference}",
    CreditSource.OVERPAYMENT: "Overpayment of {reference}",
    CreditSource.RETURNED_CREDIT: "Returned credit {reference}",
}


@dataclass(frozen=True)
class LedgerRow:
    """One credit movement. `added` or `used` is set (the other is zero); `balance` is the
    credit available after it, in ledger order (date, then entry)."""

    day: date
    kind: str  # a SOURCE_KINDS name, "Applied", "Reversed" or "Taken back"
    description: str  # followed by the invoice's number, when there is one
    detail: str
    invoice_number: str | None
    added: Decimal
    used: Decimal
    balance: Decimal


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]  # newest first
    page: int
    pages: int
    count: int


@dataclass(frozen=True)
class AutoApplyChange:
    auto_apply: bool
    changed_by: str
    changed_at: datetime


def _source(source: CreditSource | None, reference: str | None) -> str:
    """"Credit note CN-2026-000001", "Overpayment of PAY-…": a credit entry as the reseller
    knows it."""
    return SOURCE_DESCRIPTIONS[source].format(reference=reference) if source else ""


def _row(entry: LedgerEntry, change: Decimal, balance: Decimal, lot_source: CreditSource | None,
         lot_reference: str | None) -> LedgerRow:
    added, used = (change, ZERO) if change > ZERO else (ZERO, -change)
    day = entry.effective_on
    if entry.kind == EntryKind.CREDIT:
        source = _source(entry.credit_source, entry.reference)
        if entry.is_reversal:
            return LedgerRow(day, "Taken back", f"{source} taken back", entry.memo, None,
                             added, used, balance)
        detail = "" if entry.memo == source else entry.memo
        return LedgerRow(day, SOURCE_KINDS[entry.credit_source], source, detail, None, added,
                         used, balance)
    lot = _source(lot_source, lot_reference)
    if entry.is_reversal:
        return LedgerRow(day, "Reversed", "Credit taken off", f"Back to {lot}",
                         entry.reference, added, used, balance)
    return LedgerRow(day, "Applied", "Applied to", f"From {lot}", entry.reference, added,
                     used, balance)


def credit_ledger(account: Account, page: int = 1,
                  per_page: int = LEDGER_PAGE_SIZE) -> LedgerPage:
    """Every credit movement of the account, newest first, `per_page` to a page (a page past
    the last shows the last), each with the balance after it."""
    credit_kinds = (EntryKind.CREDIT, EntryKind.CREDIT_APPLICATION)
    count = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.account_id == account.id, LedgerEntry.kind.in_(credit_kinds))) or 0
    pages = max(1, -(-count // per_page))
    page = min(max(page, 1), pages)
    change = case((LedgerEntry.kind == EntryKind.CREDIT, LedgerEntry.amount),
                  else_=-LedgerEntry.amount)
    running = (
        select(LedgerEntry.id, change.label("change"),
               func.sum(change).over(order_by=(LedgerEntry.effective_on, LedgerEntry.id))
               .label("balance"))
        .where(LedgerEntry.account_id == account.id, LedgerEntry.kind.in_(credit_kinds))
        .subquery()
    )
    lot = aliased(LedgerEntry)
    result = db.session.execute(
        select(LedgerEntry, running.c.change, running.c.balance, lot.credit_source,
               lot.reference)
        .join(running, running.c.id == LedgerEntry.id)
        .outerjoin(lot, lot.id == LedgerEntry.credit_entry_id)
        .order_by(LedgerEntry.effective_on.desc(), LedgerEntry.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    )
    rows = [_row(entry, Decimal(change).quantize(ZERO), Decimal(balance).quantize(ZERO),
                 source, reference)
            for entry, change, balance, source, reference in result]
    return LedgerPage(rows, page, pages, count)


def open_invoices(account: Account, limit: int = APPLY_FORM_INVOICES) -> list[Invoice]:
    """The account's open and partially paid invoices that can take credit, oldest first."""
    return list(db.session.scalars(
        select(Invoice)
        .where(Invoice.account_id == account.id, Invoice.status.in_(PAYABLE),
               Invoice.currency == account.currency)
        .order_by(Invoice.issue_date, Invoice.number)
        .limit(limit)
    ))


def reversible_invoices(account: Account) -> list[Invoice]:
    """Invoices with credit on them and no payment, newest first: the reseller may take
    their credit off again (app.credit.services.reverse_invoice_credit)."""
    return list(db.session.scalars(
        select(Invoice)
        .where(Invoice.account_id == account.id, Invoice.status != InvoiceStatus.VOID,
               Invoice.credit_applied > 0, Invoice.amount_paid == 0)
        .order_by(Invoice.issue_date.desc(), Invoice.number.desc())
    ))


def last_auto_apply_change(account: Account) -> AutoApplyChange | None:
    """Who last turned auto-apply off or on, and when (from the outbox event that
    `set_auto_apply` writes); None when it never changed."""
    event = db.session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.account_id == account.id, OutboxEvent.event_type == AUTO_APPLY_CHANGED)
        .order_by(OutboxEvent.id.desc()).limit(1)
    )
    if event is None:
        return None
    return AutoApplyChange(bool(event.payload.get("auto_apply")),
                           str(event.payload.get("changed_by", "")), event.created_at)


def currency_name(code: str) -> str:
    """"US dollars", "Canadian dollars": the currency's plural name, from Babel."""
    return get_currency_name(code, count=2, locale=LOCALE)
