"""The invoice state machine. Each transition checks the state it starts from and raises
InvoiceStateError otherwise; the caller holds the invoice row locked (`lock_invoice`)."""

from decimal import Decimal

from sqlalchemy import select

from app.billing.models import Invoice, InvoiceStatus
from app.errors import DomainError
from app.extensions import db
from app.money import ZERO

PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


class InvoiceStateError(DomainError):
    status = 409


def lock_invoice(invoice_id: int) -> Invoice:
    """The invoice, locked for update until the transaction ends."""
    return db.session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())


def _status_for(invoice: Invoice) -> InvoiceStatus:
    if invoice.balance_due <= ZERO:
        return InvoiceStatus.PAID
    if invoice.amount_paid > ZERO or invoice.credit_applied > ZERO:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


def apply_payment(invoice: Invoice, amount: Decimal) -> None:
    """open/partially_paid → partially_paid/paid. Raises InvoiceStateError for a void or
    paid invoice, or an amount above the balance due."""
    if invoice.status not in PAYABLE:
        raise InvoiceStateError(f"Invoice {invoice.number} is {invoice.status.value}; "
                                "it cannot take a payment.")
    if amount <= ZERO or amount > invoice.balance_due:
        raise InvoiceStateError(
            f"A payment to {invoice.number} must be between 0.01 and its balance due."
        )
    invoice.amount_paid += amount
    invoice.status = _status_for(invoice)


def void_invoice(invoice: Invoice) -> None:
    """open → void, only while nothing has been paid or credited against it."""
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid or invoice.credit_applied:
        raise InvoiceStateError(f"Invoice {invoice.number} cannot be voided; issue a credit "
                                "note instead.")
    invoice.status = InvoiceStatus.VOID
