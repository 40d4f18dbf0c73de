"""Payments and their states, each transition a service that locks the payment row, checks the
state it starts from and raises PaymentStateError (409) otherwise:

    processing → succeeded (ACH settled) | failed (never collected) | returned (came back
                 before it settled: the sandbox decides settle-or-return on the settlement day)
    succeeded  → returned (an ACH return after settlement)
    unknown    → failed (the gateway never made the charge, or declined it) | succeeded
                 (`confirm_unknown_payment`: it took the charge) | processing
                 (`resume_unknown_payment`: it took an ACH debit that has not settled yet);
                 `flask payments settle` asks the gateway by the payment's idempotency key

A payment's money is in the ledger: a `payment` entry for what was received, an `allocation`
per invoice it pays and an overpayment `credit` for the rest — posted when the payment is
created, so a processing ACH payment already holds its invoices and two payments can never pay
one balance twice. A failure or return reverses every one of those entries. Services flush;
the request or command commits once.
"""

import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.billing.models import Invoice
from app.billing.transitions import apply_payment, lock_invoice, reverse_payment
from app.credit.services import create_credit, lock_account, take_back_credit
from app.errors import DomainError
from app.events.schemas import (
    EventData,
    PaymentCreated,
    PaymentFailed,
    PaymentReturned,
    PaymentSucceeded,
)
from app.events.services import record_event
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import ZERO
from app.payments.gateways.ach_returns import describe_return
from app.payments.models import Payment, PaymentStatus


class PaymentStateError(DomainError):
    status = 409


STARTING_STATES = (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
                   PaymentStatus.UNKNOWN)
# A payment in these states holds its invoices ("payment processing"): the money is on its way
# or the gateway has not told us yet.
IN_FLIGHT = (PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)


def new_payment_reference() -> str:
    return f"PAY-{secrets.token_hex(5).upper()}"


def lock_payment(payment_id: int) -> Payment:
    """The payment, locked for update until the transaction ends and read afresh."""
    return db.session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
        .execution_options(populate_existing=True)
    )


def _event(schema: type[EventData], payment: Payment, **extra) -> None:
    record_event(schema(reference=payment.reference, amount=payment.amount,
                        currency=payment.currency, status=payment.status.value, **extra),
                 account_id=payment.account_id)


def create_payment(
    *,
    account_id: int,
    currency: str,
    allocations: Sequence[tuple[Invoice, Decimal]],
    method_label: str,
    received_on: date,
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    amount: Decimal | None = None,
    gateway_reference: str | None = None,
    failure_reason: str | None = None,
    method_id: int | None = None,
    idempotency_key: str | None = None,
    retry_of_id: int | None = None,
) -> Payment:
    """A payment as the gateway answered it (`succeeded`, `processing`, `failed`, or `unknown`
    when it did not answer), paying
    `allocations`; `amount` (default: their sum) may be more, and the rest becomes credit.

    Raises DomainError for an amount of zero or less, an invoice of another account or
    currency, or the same invoice twice; InvoiceStateError (see `apply_payment`) when an
    invoice cannot take its share; PaymentStateError for another starting status.
    """
    if status not in STARTING_STATES:
        raise PaymentStateError(f"A payment cannot start {status.value}.")
    allocated = sum((share for _, share in allocations), ZERO)
    amount = allocated if amount is None else amount
    if amount <= ZERO or any(share <= ZERO for _, share in allocations):
        raise DomainError("A payment and each of its amounts must be more than zero.")
    if amount < allocated:
        raise DomainError("A payment cannot pay more than its amount.")
    invoice_ids = [invoice.id for invoice, _ in allocations]
    if len(set(invoice_ids)) != len(invoice_ids):
        raise DomainError("Each invoice can appear once in a payment.")
    for invoice, _ in allocations:
        if invoice.account_id != account_id or invoice.currency != currency:
            raise DomainError("A payment can only pay invoices of its own account and currency.")
    account = lock_account(account_id)
    if account.currency != currency:
        raise DomainError("A payment is in its account's currency.")
    payment = Payment(
        reference=new_payment_reference(), account_id=account_id, amount=amount,
        currency=currency, method_label=method_label, status=status, received_on=received_on,
        gateway_reference=gateway_reference, failure_reason=failure_reason,
        method_id=method_id, idempotency_key=idempotency_key, retry_of_id=retry_of_id,
    )
    db.session.add(payment)
    db.session.flush()
    if status == PaymentStatus.FAILED:
        _event(PaymentCreated, payment, invoices=[invoice.number for invoice, _ in allocations])
        _event(PaymentFailed, payment, reason=failure_reason)
        return payment
    ledger.post_entry(EntryKind.PAYMENT, account_id=account_id, currency=currency,
                      amount=amount, effective_on=received_on, reference=payment.reference,
                      memo=method_label, payment_id=payment.id)
    # Lock in id order: two payments over the same invoices never wait for each other in a ring.
    for invoice, share in sorted(allocations, key=lambda pair: pair[0].id):
        invoice = lock_invoice(invoice.id)
        apply_payment(invoice, share)
        ledger.post_entry(EntryKind.ALLOCATION, account_id=account_id, currency=currency,
                          amount=share, effective_on=received_on, reference=payment.reference,
                          memo=f"Paid on {invoice.number}", payment_id=payment.id,
                          invoice_id=invoice.id)
    if amount > allocated:
        create_credit(account, amount - allocated, CreditSource.OVERPAYMENT,
                      effective_on=received_on, reference=payment.reference,
                      memo=f"Overpayment of {payment.reference}", payment_id=payment.id)
    _event(PaymentCreated, payment,
           invoices=[invoice.number for invoice, _ in allocations])
    if status == PaymentStatus.SUCCEEDED:
        _event(PaymentSucceeded, payment)
    return payment


def _transition(payment: Payment, sources: tuple[PaymentStatus, ...], target: PaymentStatus
                ) -> Payment:
    locked = lock_payment(payment.id)
    if locked.status not in sources:
        raise PaymentStateError(
            f"Payment {locked.reference} is {locked.status.value}; it cannot become "
            f"{target.value}."
        )
    return locked


def settle_payment(payment: Payment, *, on: date) -> Payment:
    """processing → succeeded: an ACH payment settled. Raises PaymentStateError otherwise."""
    payment = _transition(payment, (PaymentStatus.PROCESSING,), PaymentStatus.SUCCEEDED)
    payment.status = PaymentStatus.SUCCEEDED
    payment.settled_on = on
    ledger.post_entry(EntryKind.SETTLEMENT, account_id=payment.account_id,
                      currency=payment.currency, amount=payment.amount, effective_on=on,
                      reference=payment.reference, memo="Settled", payment_id=payment.id)
    db.session.flush()
    _event(PaymentSucceeded, payment)
    return payment


def confirm_unknown_payment(payment: Payment, *, gateway_reference: str | None = None
                            ) -> Payment:
    """unknown → succeeded: the gateway did take a charge it had not answered for (a card).
    Its ledger entries were posted when the payment was made, so only the state changes.
    Raises PaymentStateError otherwise."""
    payment = _transition(payment, (PaymentStatus.UNKNOWN,), PaymentStatus.SUCCEEDED)
    payment.status = PaymentStatus.SUCCEEDED
    payment.gateway_reference = gateway_reference or payment.gateway_reference
    db.session.flush()
    _event(PaymentSucceeded, payment)
    return payment


def resume_unknown_payment(payment: Payment, *, gateway_reference: str | None = None
                           ) -> Payment:
    """unknown → processing: the gateway did take an ACH debit it had not answered for; it
    settles or comes back like any other (`settle_payment`, `return_payment`). Raises
    PaymentStateError otherwise."""
    payment = _transition(payment, (PaymentStatus.UNKNOWN,), PaymentStatus.PROCESSING)
    payment.status = PaymentStatus.PROCESSING
    payment.gateway_reference = gateway_reference or payment.gateway_reference
    db.session.flush()
    return payment


def _unwind(payment: Payment, on: date, memo: str) -> None:
    """Reverse everything the payment moved: its overpayment credit (and what was applied
    from it), each allocation (the invoices reopen), and the payment itself."""
    lock_account(payment.account_id)
    for lot in ledger.open_entries(LedgerEntry.kind == EntryKind.CREDIT,
                                   LedgerEntry.payment_id == payment.id):
        take_back_credit(lot, on=on, memo=memo)
    allocations = ledger.open_entries(LedgerEntry.kind == EntryKind.ALLOCATION,
                                      LedgerEntry.payment_id == payment.id)
    for allocation in sorted(allocations, key=lambda entry: entry.invoice_id):
        reverse_payment(lock_invoice(allocation.invoice_id), allocation.amount)
        ledger.reverse_entry(allocation, effective_on=on, memo=memo)
    for received in ledger.open_entries(LedgerEntry.kind == EntryKind.PAYMENT,
                                        LedgerEntry.payment_id == payment.id):
        ledger.reverse_entry(received, effective_on=on, memo=memo)


def fail_payment(payment: Payment, reason: str, *, on: date) -> Payment:
    """processing/unknown → failed: the money was never collected; the invoices reopen. Raises
    PaymentStateError otherwise."""
    payment = _transition(payment, IN_FLIGHT, PaymentStatus.FAILED)
    _unwind(payment, on, f"Failed: {reason}")
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason
    db.session.flush()
    _event(PaymentFailed, payment, reason=reason)
    return payment


def return_payment(payment: Payment, r_code: str, *, on: date) -> Payment:
    """processing/succeeded → returned: the bank sent an ACH payment back (R-code). Every
    allocation is reversed and its invoice reopens; credit the payment created is taken back
    (with any application of it). Raises PaymentStateError otherwise."""
    payment = _transition(payment, (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED),
                          PaymentStatus.RETURNED)
    reason = describe_return(r_code)
    _unwind(payment, on, f"Returned {reason.code}: {reason.title}")
    payment.status = PaymentStatus.RETURNED
    payment.return_code = reason.code
    payment.failure_reason = reason.explanation
    payment.returned_on = on
    db.session.flush()
    _event(PaymentReturned, payment, return_code=reason.code)
    return payment


def invoice_allocations(payment: Payment) -> list[LedgerEntry]:
    """The allocations of a payment still standing, for receipts."""
    return ledger.open_entries(LedgerEntry.kind == EntryKind.ALLOCATION,
                               LedgerEntry.payment_id == payment.id)


def processing_invoice_ids(account_id: int) -> set[int]:
    """Invoices held by a payment still in flight: an ACH payment that has not settled yet, or
    one the gateway has not answered for ("payment processing")."""
    return set(db.session.scalars(
        select(LedgerEntry.invoice_id)
        .join(Payment, Payment.id == LedgerEntry.payment_id)
        .where(LedgerEntry.kind == EntryKind.ALLOCATION, Payment.account_id == account_id,
               Payment.status.in_(IN_FLIGHT))
    ))
