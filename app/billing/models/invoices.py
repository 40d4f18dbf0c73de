"""Invoices (immutable once issued, with a bill-to snapshot), their lines, and credit notes."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Account, utcnow
from app.extensions import db, enum_column

MONEY = Numeric(14, 2)


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


class ChargeType(enum.StrEnum):
    RECURRING = "recurring"
    USAGE = "usage"
    ONE_TIME = "one_time"
    PRORATION = "proration"
    # A correction of days an earlier invoice billed from data that arrived late.
    ADJUSTMENT = "adjustment"

    @property
    def label(self) -> str:
        return CHARGE_TYPE_LABELS[self]


CHARGE_TYPE_LABELS = {
    ChargeType.RECURRING: "Recurring",
    ChargeType.USAGE: "Usage",
    ChargeType.ONE_TIME: "One-time",
    ChargeType.PRORATION: "Proration",
    ChargeType.ADJUSTMENT: "Adjustment",
}


class DocumentSequence(db.Model):
    """The last number given to a kind of document in a year: gapless, because the row is
    updated in the transaction that issues the document."""

    __tablename__ = "document_sequences"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "INV", "CN"
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        # round(…, 2): SQLite stores NUMERIC as binary floating point.
        CheckConstraint("round(total - subtotal - tax_total, 2) = 0",
                        name="total_is_lines_plus_tax"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # "<account id>:<YYYY-MM>" for invoices of the billing run: one per account and period.
    billing_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    issue_date: Mapped[date] = mapped_column(index=True)
    due_date: Mapped[date]
    po_number: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    # The bill-to as it was at issue: later account changes do not alter issued invoices.
    bill_to_name: Mapped[str] = mapped_column(String(200))
    bill_to_address: Mapped[str] = mapped_column(Text)
    bill_to_tax_id: Mapped[str | None] = mapped_column(String(40))
    tax_exempt: Mapped[bool] = mapped_column(default=False)
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    tax_total: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    credit_applied: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    amount_paid: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus), index=True)
    line_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship()
    lines: Mapped[list["InvoiceLine"]] = relationship(
        order_by="InvoiceLine.position", back_populates="invoice", lazy="raise"
    )

    @property
    def balance_due(self) -> Decimal:
        """What is still owed: nothing on a void invoice."""
        if self.status == InvoiceStatus.VOID:
            return Decimal("0.00")
        return self.total - self.credit_applied - self.amount_paid

    def is_overdue(self, today: date) -> bool:
        return (
            self.status in (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
            and self.due_date < today
        )

    @property
    def bill_to_lines(self) -> list[str]:
        return self.bill_to_address.splitlines()


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int]
    # Names are copied so the invoice reads the same after a rename.
    end_customer_id: Mapped[int | None] = mapped_column(ForeignKey("end_customers.id"))
    end_customer_name: Mapped[str] = mapped_column(String(200))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    subscription_name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(40))
    charge_type: Mapped[ChargeType] = mapped_column(enum_column(ChargeType))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 5))
    tax: Mapped[Decimal] = mapped_column(MONEY)
    service_start: Mapped[date]
    service_end: Mapped[date]
    # A daily-rated seat line: its amount is quantity × unit price × service days ÷ span_days
    # (the days of the month, or of the annual term). None: quantity × unit price (usage,
    # one-time fees).
    span_days: Mapped[int | None]
    # The end customer's own PO number in effect on the issue date (the account's default is
    # the invoice's `po_number`); None when the end customer has none.
    po_number: Mapped[str | None] = mapped_column(String(40))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class CreditNote(db.Model):
    """A correction of an issued invoice, or credit granted to the account."""

    __tablename__ = "credit_notes"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    issue_date: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditNoteLine(db.Model):
    """What a credit note issued by the billing run corrects, line by line, in the form of an
    invoice line (amounts negative: what it takes off). The billing run reads these beside the
    invoice lines to know what was billed for a subscription."""

    __tablename__ = "credit_note_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    service_start: Mapped[date]
    service_end: Mapped[date]
    span_days: Mapped[int | None]


class ImmutableDocumentError(Exception):
    """An issued invoice, or a line of one, was about to be changed: issue a credit note."""


# What may still change on an issued invoice: how much of it is settled, and its status.
SETTLEMENT_COLUMNS = {"status", "amount_paid", "credit_applied"}


@event.listens_for(Invoice, "before_update")
def _keep_issued_invoices(mapper, connection, invoice: Invoice) -> None:
    state = inspect(invoice)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    frozen = changed - SETTLEMENT_COLUMNS - {"lines", "account"}
    if frozen:
        raise ImmutableDocumentError(
            f"Invoice {invoice.number} is issued; {', '.join(sorted(frozen))} cannot change."
        )


@event.listens_for(InvoiceLine, "before_update")
@event.listens_for(InvoiceLine, "before_delete")
def _keep_issued_lines(mapper, connection, line: InvoiceLine) -> None:
    raise ImmutableDocumentError("The lines of an issued invoice cannot change.")
