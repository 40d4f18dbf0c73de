"""Statement of account: every invoice, payment and credit note of a date range with a running
balance, and the aging of what is unpaid at the range's end."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.accounts.models import Account
from app.billing.models import CreditNote, Invoice, InvoiceStatus
from app.extensions import db
from app.money import ZERO
from app.payments.models import Payment, PaymentAllocation, PaymentStatus

AGING_BUCKETS = ["Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days"]


@dataclass(frozen=True)
class StatementRow:
    day: date
    kind: str  # "Invoice", "Payment", "Credit note"
    reference: str
    description: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


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
    return Decimal(db.session.scalar(query) or 0)


def build_statement(account: Account, date_from: date, date_to: date) -> Statement:
    """The statement of `account` from `date_from` to `date_to`, both included."""
    issued = Invoice.status != InvoiceStatus.VOID
    settled = Payment.status == PaymentStatus.SUCCEEDED
    opening = (
        _sum(select(func.sum(Invoice.total)).where(
            Invoice.account_id == account.id, issued, Invoice.issue_date < date_from))
        - _sum(select(func.sum(Payment.amount)).where(
            Payment.account_id == account.id, settled, Payment.received_on < date_from))
        - _sum(select(func.sum(CreditNote.amount)).where(
            CreditNote.account_id == account.id, CreditNote.issue_date < date_from))
    )
    entries: list[tuple[date, int, str, str, str, Decimal, Decimal]] = []
    for invoice in db.session.scalars(select(Invoice).where(
            Invoice.account_id == account.id, issued,
            Invoice.issue_date.between(date_from, date_to))):
        entries.append((invoice.issue_date, 0, "Invoice", invoice.number,
                        f"Billing period {invoice.period_start:%B %Y}", invoice.total, ZERO))
    for payment in db.session.scalars(select(Payment).where(
            Payment.account_id == account.id, settled,
            Payment.received_on.between(date_from, date_to))):
        entries.append((payment.received_on, 1, "Payment", payment.reference,
                        payment.method_label, ZERO, payment.amount))
    for note in db.session.scalars(select(CreditNote).where(
            CreditNote.account_id == account.id,
            CreditNote.issue_date.between(date_from, date_to))):
        entries.append((note.issue_date, 2, "Credit note", note.number, note.reason, ZERO,
                        note.amount))
    rows, balance = [], opening
    for day, _, kind, reference, description, debit, credit in sorted(entries):
        balance += debit - credit
        rows.append(StatementRow(day, kind, reference, description, debit, credit, balance))
    return Statement(account, date_from, date_to, opening, rows, balance,
                     aging(account, date_to))


def aging(account: Account, as_of: date) -> list[tuple[str, Decimal]]:
    """What was unpaid on `as_of`, by days past the due date."""
    paid_by = (
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount).label("paid"))
        .join(Payment)
        .where(Payment.account_id == account.id, Payment.status == PaymentStatus.SUCCEEDED,
               Payment.received_on <= as_of)
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Invoice.due_date,
               Invoice.total - Invoice.credit_applied - func.coalesce(paid_by.c.paid, 0))
        .outerjoin(paid_by, paid_by.c.invoice_id == Invoice.id)
        .where(Invoice.account_id == account.id, Invoice.status != InvoiceStatus.VOID,
               Invoice.issue_date <= as_of)
    )
    buckets = [ZERO] * len(AGING_BUCKETS)
    for due_date, outstanding in rows:
        outstanding = Decimal(outstanding)
        if outstanding <= 0:
            continue
        late = (as_of - due_date).days
        index = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        buckets[index] += outstanding
    return list(zip(AGING_BUCKETS, buckets, strict=True))
