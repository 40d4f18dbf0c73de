"""The invoice state machine. Each transition checks the state it starts from and raises
InvoiceStateError otherwise; the caller holds the invoice row locked (`lock_invoice`) and posts
the matching ledger entry in the same transaction. `amount_paid` and `credit_applied` are the
ledger's sums kept on the invoice (`flask billing check` compares them)."""

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
    """The invoice, locked for update until the transaction ends and read afresh (another
    transaction may have paid it while we waited for the lock)."""
    return db.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update()
        .execution_options(populate_existing=True)
    )


def status_for(invoice: Invoice) -> InvoiceStatus:
    """The status an issued, not void, invoice has for what is settled of it."""
    if invoice.balance_due <= ZERO:
        return InvoiceStatus.PAID
    if invoice.amount_paid > ZERO or invoice.credit_applied > ZERO:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


def _check_payable(invoice: Invoice, amount: Decimal, what: str) -> None:
    if invoice.status not in PAYABLE:
        raise InvoiceStateError(f"Invoice {invoice.number} is {invoice.status.value}; "
                                f"it cannot take {what}.")
    if amount <= ZERO or amount > invoice.balance_due:
        raise InvoiceStateError(
            f"{what.capitalize()} to {invoice.number} must be between 0.01 and its balance due."
        )


def apply_payment(invoice: Invoice, amount: Decimal) -> None:
    """open/partially_paid → partially_paid/paid. Raises InvoiceStateError for a void or
    paid invoice, or an amount above the balance due."""
    _check_payable(invoice, amount, "a payment")
    invoice.amount_paid += amount
    invoice.status = status_for(invoice)


def apply_credit(invoice: Invoice, amount: Decimal) -> None:
    """open/partially_paid → partially_paid/paid, by credit. Raises InvoiceStateError as
    `apply_payment` does."""
    _check_payable(invoice, amount, "credit")
    invoice.credit_applied += amount
    invoice.status = status_for(invoice)


def reverse_payment(invoice: Invoice, amount: Decimal) -> None:
    """paid/partially_paid → partially_paid/open: a payment came back. Raises
    InvoiceStateError when less than `amount` was paid."""
    if invoice.status == InvoiceStatus.VOID or not ZERO < amount <= invoice.amount_paid:
        raise InvoiceStateError(f"{amount} was not paid on invoice {invoice.number}.")
    invoice.amount_paid -= amount
    invoice.status = status_for(invoice)


def reverse_credit(invoice: Invoice, amount: Decimal) -> None:
    """paid/partially_paid → partially_paid/open: credit taken off the invoice. Raises
    InvoiceStateError when less than `amount` of credit was applied."""
    if invoice.status == InvoiceStatus.VOID or not ZERO < amount <= invoice.credit_applied:
        raise InvoiceStateError(f"{amount} of credit was not applied on invoice "
                                f"{invoice.number}.")
    invoice.credit_applied -= amount
    invoice.status = status_for(invoice)


def void_invoice(invoice: Invoice) -> None:
    """open → void, only while nothing has been paid or credited against it."""
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid or invoice.credit_applied:
        raise InvoiceStateError(f"Invoice {invoice.number} cannot be voided; issue a credit "
                                "note instead.")
    invoice.status = InvoiceStatus.VOID
