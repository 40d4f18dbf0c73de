"""Recording payments received and allocating them to invoices."""

import secrets
from datetime import date
from decimal import Decimal

from app.billing.models import Invoice
from app.billing.transitions import apply_payment
from app.erp.services import record_event
from app.errors import DomainError
from app.extensions import db
from app.money import ZERO
from app.payments.models import Payment, PaymentAllocation, PaymentStatus


def new_payment_reference() -> str:
    return f"PAY-{secrets.token_hex(5).upper()}"


def record_payment(
    *,
    account_id: int,
    currency: str,
    allocations: list[tuple[Invoice, Decimal]],
    method_label: str,
    received_on: date,
) -> Payment:
    """A succeeded payment allocated to invoices of the same account. Raises DomainError when
    an invoice belongs to another account or currency, or InvoiceStateError (see
    `apply_payment`)."""
    total = sum((amount for _, amount in allocations), ZERO)
    if total <= ZERO:
        raise DomainError("A payment must be more than zero.")
    payment = Payment(
        reference=new_payment_reference(),
        account_id=account_id,
        amount=total,
        currency=currency,
        method_label=method_label,
        status=PaymentStatus.SUCCEEDED,
        received_on=received_on,
    )
    db.session.add(payment)
    for invoice, amount in allocations:
        if invoice.account_id != account_id or invoice.currency != currency:
            raise DomainError("A payment can only pay invoices of its own account and currency.")
        apply_payment(invoice, amount)
        payment.allocations.append(PaymentAllocation(invoice_id=invoice.id, amount=amount))
    db.session.flush()
    record_event(
        "payment.succeeded",
        account_id=account_id,
        payload={
            "reference": payment.reference,
            "amount": str(total),
            "currency": currency,
            "invoices": [invoice.number for invoice, _ in allocations],
        },
    )
    return payment
