"""Statement of account: every invoice, payment, return and credit of a date range with a
running balance, and the aging of what is unpaid at the range's end. Payments, returns and
credit come from the ledger (app.ledger).

Rows, each named in plain words: "Invoice"; "Payment"; "Payment returned (R01 Insufficient
funds)" (an ACH return) and "Payment failed" (a payment never collected), which undo a payment;
"Credit note" and "Credit" (credit granted) and their "… reversed". Credit applied to an
invoice, and an application taken off again, move nothing between the account and us (the
balance is the same before and after), so they are not rows; an overpayment is inside its
payment's row."""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.accounts.models import Account
from app.billing.models import Invoice, InvoiceStatus
from app.extensions import db
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import ZERO

AGING_BUCKETS = ["Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days"]


# Why a payment was undone, as the payment services write it in the memo of the reversing
# entries (payments.services): "Returned R01: Insufficient funds", "Failed: <reason>".
RETURNED_MEMO = re.compile(r"Returned (?P<code>\S+): (?P<title>.*)", re.S)
FAILED_MEMO = re.compile(r"Failed: (?P<reason>.*)", re.S)


@dataclass(frozen=True)
class StatementRow:
    day: date
    # "Invoice", "Payment", "Payment returned", "Payment failed", "Payment reversed",
    # "Credit note", "Credit", "Credit note reversed", "Credit reversed"
    kind: str
    reference: str
    description: str
    debit: Decimal
    credit: Decimal
    balance: Decimal
    detail: str = ""  # the return code and its title: "R01 Insufficient funds"

    @property
    def label(self) -> str:
        """The row's type in plain words: "Payment returned (R01 Insufficient funds)"."""
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


@dataclass(frozen=True)
class Statement:
    account: Account
    date_from: date
    date_to: date
    opening: Decimal
    rows: list[StatementRow]
    closing: Decimal
    aging: list[tuple[str, Decimal]]

    @property
    def currency(self) -> str:
        return self.account.currency


def default_range(today: date) -> tuple[date, date]:
    """The last twelve months up to today."""
    start = (today.replace(day=1) - timedelta(days=365)).replace(day=1)
    return start, today


def _sum(query) -> Decimal:
    return Decimal(str(db.session.scalar(query) or 0)).quantize(ZERO)


# Ledger entries that change what the account owes: money received (and its returns), and
# credit granted other than overpayments (an overpayment is already in its payment's amount).
# Credit applied to an invoice moves nothing between the account and us, so it is not a row.
def _owed_entries(account: Account, *where):
    return select(LedgerEntry).where(
        LedgerEntry.account_id == account.id,
        (LedgerEntry.kind == EntryKind.PAYMENT)
        | ((LedgerEntry.kind == EntryKind.CREDIT)
           & (LedgerEntry.credit_source != CreditSource.OVERPAYMENT)),
        *where,
    )


def _describe(entry: LedgerEntry, originals: dict[int, str]) -> tuple[str, str, str]:
    """(kind, detail, description) of a ledger row. `originals`: the memo of each reversed
    entry by id (what the payment row said: its method)."""
    if entry.kind == EntryKind.PAYMENT:
        if not entry.is_reversal:
            return "Payment", "", entry.memo
        method = originals.get(entry.reverses_id, "")
        if returned := RETURNED_MEMO.fullmatch(entry.memo):
            return "Payment returned", f"{returned['code']} {returned['title']}", method
        if failed := FAILED_MEMO.fullmatch(entry.memo):
            return "Payment failed", "", failed["reason"]
        return "Payment reversed", "", entry.memo
    label = "Credit note" if entry.credit_source == CreditSource.CREDIT_NOTE else "Credit"
    return (f"{label} reversed" if entry.is_reversal else label), "", entry.memo


def build_statement(account: Account, date_from: date, date_to: date) -> Statement:
    """The statement of `account` from `date_from` to `date_to`, both included."""
    issued = Invoice.status != InvoiceStatus.VOID
    before = _owed_entries(account, LedgerEntry.effective_on < date_from).subquery()
    opening = (
        _sum(select(func.sum(Invoice.total)).where(
            Invoice.account_id == account.id, issued, Invoice.issue_date < date_from))
        - _sum(select(func.sum(before.c.amount)))
    )
    entries: list[tuple[date, int, int, str, str, str, Decimal, Decimal, str]] = []
    for invoice in db.session.scalars(select(Invoice).where(
            Invoice.account_id == account.id, issued,
            Invoice.issue_date.between(date_from, date_to))):
        entries.append((invoice.issue_date, 0, invoice.id, "Invoice", invoice.number,
                        f"Billing period {invoice.period_start:%B %Y}", invoice.total, ZERO, ""))
    moved = list(db.session.scalars(_owed_entries(
        account, LedgerEntry.effective_on.between(date_from, date_to))))
    reversed_ids = [entry.reverses_id for entry in moved if entry.is_reversal]
    originals = dict(db.session.execute(
        select(LedgerEntry.id, LedgerEntry.memo).where(LedgerEntry.id.in_(reversed_ids))
    ).all()) if reversed_ids else {}
    for entry in moved:
        debit, credit = (-entry.amount, ZERO) if entry.is_reversal else (ZERO, entry.amount)
        kind, detail, description = _describe(entry, originals)
        entries.append((entry.effective_on, 1, entry.id, kind, entry.reference, description,
                        debit, credit, detail))
    rows, balance = [], opening
    for day, _, _, kind, reference, description, debit, credit, detail in sorted(entries):
        balance += debit - credit
        rows.append(StatementRow(day, kind, reference, description, debit, credit, balance,
                                 detail))
    return Statement(account, date_from, date_to, opening, rows, balance,
                     aging(account, date_to))


def aging(account: Account, as_of: date) -> list[tuple[str, Decimal]]:
    """What was unpaid on `as_of`, by days past the due date: each invoice's total less the
    payments and credit the ledger had applied to it by then."""
    settled_by = (
        select(LedgerEntry.invoice_id, func.sum(LedgerEntry.amount).label("settled"))
        .where(LedgerEntry.account_id == account.id,
               LedgerEntry.kind.in_([EntryKind.ALLOCATION, EntryKind.CREDIT_APPLICATION]),
               LedgerEntry.effective_on <= as_of)
        .group_by(LedgerEntry.invoice_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Invoice.due_date, Invoice.total - func.coalesce(settled_by.c.settled, 0))
        .outerjoin(settled_by, settled_by.c.invoice_id == Invoice.id)
        .where(Invoice.account_id == account.id, Invoice.status != InvoiceStatus.VOID,
               Invoice.issue_date <= as_of)
    )
    buckets = [ZERO] * len(AGING_BUCKETS)
    for due_date, outstanding in rows:
        outstanding = Decimal(str(outstanding)).quantize(ZERO)
        if outstanding <= 0:
            continue
        late = (as_of - due_date).days
        index = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        buckets[index] += outstanding
    return list(zip(AGING_BUCKETS, buckets, strict=True))
