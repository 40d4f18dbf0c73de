"""ACH settlement and returns, payments the gateway did not answer for, and R01 retries
(SPEC §8).

- `process_gateway_events()`: each settlement or return event of the gateway applied to its
  payment (`settle_payment`, `return_payment`) and acknowledged in one unit of work; a return
  whose code closes the bank account turns the method off (`disable_method`).
- `reconcile_unknown_payments()`: each `unknown` payment, asked about at the gateway by its
  idempotency key and moved to what the gateway says. It never charges again.
- `retry_payment()`: a payment returned with R01 (insufficient funds) presented again, at most
  R01_MAX_RETRIES times and until R01_RETRY_WINDOW_DAYS have passed since the first return;
  `retry_status()` says in plain words whether a payment may be retried, or why not.

The two loops are generators that flush and yield after each unit (an event, a payment): the
caller commits there, so that each unit is its own transaction (`flask payments settle`).
Nothing here commits.
"""

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select

from app.accounts.models import User
from app.billing.models import Invoice
from app.billing.transitions import PAYABLE
from app.errors import DomainError
from app.extensions import db
from app.formatting import medium_date, money
from app.ledger.models import EntryKind, LedgerEntry
from app.money import ZERO
from app.payments.gateways import get_gateway
from app.payments.gateways.ach_returns import (
    R01_MAX_RETRIES,
    R01_RETRY_WINDOW_DAYS,
    ReturnCode,
    describe_return,
)
from app.payments.gateways.base import ChargeStatus, EventType, GatewayEvent
from app.payments.methods import disable_method, is_usable, lock_method
from app.payments.models import MethodStatus, Payment, PaymentStatus
from app.payments.services import (
    confirm_unknown_payment,
    create_payment,
    fail_payment,
    lock_payment,
    resume_unknown_payment,
    return_payment,
    settle_payment,
)

# What an `unknown` payment says when the gateway never made the charge, or declined it
# without saying why.
NOT_CHARGED_REASON = "The payment gateway did not take the payment; you were not charged."
DECLINED_REASON = "The payment gateway declined the payment; you were not charged."

# How a gateway's answer to a charge starts the payment that records it.
PAYMENT_STATUS_OF_CHARGE = {
    ChargeStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChargeStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChargeStatus.FAILED: PaymentStatus.FAILED,
    ChargeStatus.UNKNOWN: PaymentStatus.UNKNOWN,
}


# --- Gateway events --------------------------------------------------------------------------


class EventResult(enum.StrEnum):
    SETTLED = "settled"
    RETURNED = "returned"
    # Redelivered, or the payment is already where the event puts it: nothing changes.
    UNCHANGED = "unchanged"
    # No payment of the portal has the charge: acknowledged, and named for an operator.
    UNMATCHED = "unmatched"
    # The event contradicts the payment (a settlement of a payment recorded as failed or
    # returned), or applying it was refused: named for an operator, nothing changes.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class EventOutcome:
    event: GatewayEvent
    result: EventResult
    payment_reference: str | None = None
    return_code: ReturnCode | None = None
    method_disabled: bool = False
    problem: str | None = None


def find_payment_for_charge(idempotency_key: str | None, charge_reference: str
                            ) -> Payment | None:
    """The portal's payment of a gateway charge: by the idempotency key it was charged with
    (a payment the gateway did not answer for has no charge reference yet), else by the
    charge reference."""
    if idempotency_key:
        payment = db.session.scalar(
            select(Payment).where(Payment.idempotency_key == idempotency_key))
        if payment is not None:
            return payment
    return db.session.scalar(
        select(Payment).where(Payment.gateway_reference == charge_reference)
        .order_by(Payment.id).limit(1))


def handle_gateway_event(event: GatewayEvent) -> EventOutcome:
    """Apply one event to its payment under the payment's lock and acknowledge it, in the
    caller's transaction. Idempotent: an event whose payment is already settled (or returned)
    changes nothing. Raises DomainError when a transition refuses (nothing is acknowledged)."""
    found = find_payment_for_charge(event.idempotency_key, event.charge_reference)
    if found is None:
        outcome = EventOutcome(event, EventResult.UNMATCHED, problem=(
            f"No payment in the portal has the gateway's charge {event.charge_reference} "
            f"({event.type.value}, {event.amount} {event.currency}); look it up at the gateway."
        ))
    else:
        payment = lock_payment(found.id)
        if event.type == EventType.CHARGE_SETTLED:
            outcome = _apply_settlement(payment, event)
        else:
            outcome = _apply_return(payment, event)
    get_gateway().acknowledge_event(event.reference)
    return outcome


def _apply_settlement(payment: Payment, event: GatewayEvent) -> EventOutcome:
    if payment.status == PaymentStatus.SUCCEEDED:
        return EventOutcome(event, EventResult.UNCHANGED, payment.reference)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.RETURNED):
        return EventOutcome(event, EventResult.CONFLICT, payment.reference, problem=(
            f"The gateway says charge {event.charge_reference} settled, but payment "
            f"{payment.reference} is {payment.status.value}; check it at the gateway."
        ))
    settle_ach_payment(payment, on=event.occurred_on, gateway_reference=event.charge_reference)
    return EventOutcome(event, EventResult.SETTLED, payment.reference)


def _apply_return(payment: Payment, event: GatewayEvent) -> EventOutcome:
    # A failed payment holds no money, so its return has nothing left to undo.
    if payment.status in (PaymentStatus.RETURNED, PaymentStatus.FAILED):
        return EventOutcome(event, EventResult.UNCHANGED, payment.reference)
    code, disabled = return_ach_payment(payment, event.return_code or "", on=event.occurred_on,
                                        gateway_reference=event.charge_reference)
    return EventOutcome(event, EventResult.RETURNED, payment.reference, code, disabled)


def settle_ach_payment(payment: Payment, *, on: date, gateway_reference: str | None = None
                       ) -> Payment:
    """An ACH debit settled (the gateway's event, or the ERP's report): a payment the gateway
    had not answered for resumes first. Raises PaymentStateError for a payment that is not
    processing or unknown."""
    if payment.status == PaymentStatus.UNKNOWN:
        resume_unknown_payment(payment, gateway_reference=gateway_reference)
    return settle_payment(payment, on=on)


def return_ach_payment(payment: Payment, return_code: str, *, on: date,
                       gateway_reference: str | None = None) -> tuple[ReturnCode, bool]:
    """An ACH debit came back with `return_code` (the gateway's event, or the ERP's report):
    the payment is reversed and its invoices reopen (`return_payment`), and the bank account is
    turned off when the code says so. Returns the code's entry and whether the method was
    turned off now. Raises PaymentStateError for a payment that cannot be returned."""
    if payment.status == PaymentStatus.UNKNOWN:
        resume_unknown_payment(payment, gateway_reference=gateway_reference)
    code = describe_return(return_code)
    return_payment(payment, code.code, on=on)
    return code, disable_method_after_return(payment, code)


def disabled_method_reason(payment: Payment, code: ReturnCode) -> str:
    """Why a bank account was turned off, in plain words, for the payment methods page."""
    return f"{code.explanation} (Payment {payment.reference}, return code {code.code}.)"


def disable_method_after_return(payment: Payment, code: ReturnCode) -> bool:
    """Turn the payment's bank account off when the return code says it cannot be debited
    again and it is still verified; whether it was turned off now."""
    if not code.disables_method or payment.method_id is None:
        return False
    method = lock_method(payment.method_id)
    if method.removed_at is not None or method.status != MethodStatus.VERIFIED:
        return False
    disable_method(method, disabled_method_reason(payment, code))
    return True


def process_gateway_events() -> Iterator[EventOutcome]:
    """Each pending gateway event, oldest first: applied, acknowledged and flushed, then
    yielded; commit at each yield to make each event its own transaction. The gateway locks
    the event it hands out (SKIP LOCKED on PostgreSQL), so consumers running at once never
    handle one event twice. An event a transition refuses is rolled back to its savepoint,
    left unacknowledged and yielded as a conflict; the loop goes on with the next."""
    gateway = get_gateway()
    refused: set[str] = set()
    while True:
        events = gateway.pending_events(limit=len(refused) + 1)
        event = next((e for e in events if e.reference not in refused), None)
        if event is None:
            return
        try:
            with db.session.begin_nested():
                outcome = handle_gateway_event(event)
        except DomainError as error:
            refused.add(event.reference)
            outcome = EventOutcome(event, EventResult.CONFLICT, problem=(
                f"Event {event.reference} of charge {event.charge_reference} was not applied: "
                f"{error.message}"))
        yield outcome


# --- Payments the gateway did not answer for -------------------------------------------------


@dataclass(frozen=True)
class ReconcileOutcome:
    payment_reference: str
    # The state the payment moved to; None when it was no longer unknown (another process
    # resolved it) or could not be asked about.
    status: PaymentStatus | None
    return_code: ReturnCode | None = None
    method_disabled: bool = False
    problem: str | None = None


def reconcile_unknown_payment(payment: Payment) -> ReconcileOutcome:
    """Ask the gateway about an `unknown` payment by its idempotency key and record what it
    says: no charge or a declined one → failed (the invoices reopen); a charge → succeeded,
    processing, or returned as the charge stands. Never charges. Raises PaymentStateError
    (through the transitions) when the payment changed in between."""
    payment = lock_payment(payment.id)
    if payment.status != PaymentStatus.UNKNOWN:
        return ReconcileOutcome(payment.reference, None)
    if not payment.idempotency_key:
        return ReconcileOutcome(payment.reference, None, problem=(
            f"Payment {payment.reference} has no idempotency key to ask the gateway with; "
            "check it at the gateway."))
    gateway = get_gateway()
    charge = gateway.find_charge(payment.idempotency_key)
    if charge is None:
        fail_payment(payment, NOT_CHARGED_REASON, on=gateway.today())
    elif charge.status == ChargeStatus.FAILED:
        fail_payment(payment, charge.failure_reason or DECLINED_REASON, on=gateway.today())
    elif charge.settles_on is None:  # a card: it succeeded at once
        confirm_unknown_payment(payment, gateway_reference=charge.reference)
    else:  # an ACH debit: processing, or settled or returned since
        resume_unknown_payment(payment, gateway_reference=charge.reference)
        if charge.status == ChargeStatus.SUCCEEDED:
            settle_payment(payment, on=charge.settles_on)
        elif charge.status == ChargeStatus.RETURNED:
            code = describe_return(charge.return_code or "")
            return_payment(payment, code.code, on=charge.settles_on)
            disabled = disable_method_after_return(payment, code)
            return ReconcileOutcome(payment.reference, payment.status, code, disabled)
    return ReconcileOutcome(payment.reference, payment.status)


def unknown_payment_ids() -> list[int]:
    return list(db.session.scalars(
        select(Payment.id).where(Payment.status == PaymentStatus.UNKNOWN).order_by(Payment.id)))


def reconcile_unknown_payments() -> Iterator[ReconcileOutcome]:
    """Each `unknown` payment reconciled (`reconcile_unknown_payment`) and flushed, then
    yielded; commit at each yield to make each its own transaction. A payment a transition
    refuses is rolled back to its savepoint and yielded with the problem."""
    for payment_id in unknown_payment_ids():
        payment = db.session.get(Payment, payment_id)
        try:
            with db.session.begin_nested():
                outcome = reconcile_unknown_payment(payment)
        except DomainError as error:
            outcome = ReconcileOutcome(payment.reference, None, problem=(
                f"Payment {payment.reference} was not reconciled: {error.message}"))
        yield outcome


# --- R01 retries -----------------------------------------------------------------------------


class RetryRefused(DomainError):
    status = 409


class RetryStatus(NamedTuple):
    """Whether a payment may be presented again, and in plain words what that does or why
    not (empty for a payment that was not returned: there is nothing to say)."""

    allowed: bool
    reason: str


@dataclass(frozen=True)
class _Plan:
    first: Payment
    attempt: int  # the retry this would be: 1 … R01_MAX_RETRIES
    last_day: date
    shares: list[tuple[Invoice, Decimal]]


def first_of_chain(payment: Payment) -> Payment:
    """The payment a retry presents again (a retry names it in `retry_of_id`)."""
    seen = {payment.id}
    while payment.retry_of_id is not None and payment.retry_of_id not in seen:
        payment = db.session.get(Payment, payment.retry_of_id)
        seen.add(payment.id)
    return payment


def retries_of(first: Payment) -> list[Payment]:
    """Every retry of a payment, oldest first, including those the gateway never took."""
    return list(db.session.scalars(
        select(Payment).where(Payment.retry_of_id == first.id).order_by(Payment.id)))


def _presented(retries: list[Payment]) -> list[Payment]:
    """Retries that reached the bank: a failed one (not charged) does not count."""
    return [retry for retry in retries if retry.status != PaymentStatus.FAILED]


def later_attempt(payment: Payment) -> Payment | None:
    """The newest retry that presented this payment again after it, if any."""
    first = first_of_chain(payment)
    later = [retry for retry in _presented(retries_of(first)) if retry.id > payment.id]
    return later[-1] if later else None


def _original_shares(payment: Payment) -> list[tuple[Invoice, Decimal]]:
    """What the payment paid on each invoice when it was made (before its return)."""
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == EntryKind.ALLOCATION,
                                  LedgerEntry.payment_id == payment.id,
                                  LedgerEntry.reverses_id.is_(None))
        .order_by(LedgerEntry.invoice_id))
    return [(db.session.get(Invoice, entry.invoice_id), entry.amount) for entry in entries]


def _method_state(payment: Payment) -> str:
    method = payment.method
    if method.removed_at is not None:
        return "it was removed"
    if method.status != MethodStatus.VERIFIED:
        return f"it is {method.status.value.replace('_', ' ')}"
    return "its card has expired"


def _plan(payment: Payment, today: date) -> tuple[str | None, _Plan | None]:
    """Why the payment cannot be presented again (None when it can), and what a retry would
    charge."""
    if payment.status != PaymentStatus.RETURNED or payment.return_code is None:
        return "", None
    code = describe_return(payment.return_code)
    if not code.retryable:
        return (f"Your bank returned this payment with {code.code} ({code.title}), so it "
                "cannot be presented again. Pay the invoices with another method."), None
    if (later := later_attempt(payment)) is not None:
        return f"This payment was presented again as {later.reference}.", None
    first = first_of_chain(payment)
    retries = retries_of(first)
    if len(_presented(retries)) >= R01_MAX_RETRIES:
        return (f"This payment was presented again {R01_MAX_RETRIES} times already, the most "
                "the banking rules allow. Pay the invoices with another method."), None
    last_day = (first.returned_on or payment.returned_on) + timedelta(
        days=R01_RETRY_WINDOW_DAYS - 1)
    if today > last_day:
        return (f"The last day to present this payment again was {medium_date(last_day)}: "
                f"a payment can be presented again only until {R01_RETRY_WINDOW_DAYS} days "
                "have passed since your bank first returned it. Pay the invoices with another "
                "method."), None
    if payment.method is None or not is_usable(payment.method, today):
        label = payment.method.label if payment.method else payment.method_label
        state = _method_state(payment) if payment.method else "it is no longer on file"
        return (f"{label} cannot be charged any more: {state}. Pay the invoices with another "
                "method."), None
    shares = [(invoice, min(share, invoice.balance_due))
              for invoice, share in _original_shares(payment)
              if invoice.status in PAYABLE and invoice.balance_due > ZERO]
    if not shares:
        return ("The invoices of this payment have been paid since, so there is nothing "
                "left to collect."), None
    return None, _Plan(first, len(_presented(retries)) + 1, last_day, shares)


def retry_status(payment: Payment, today: date) -> RetryStatus:
    """Whether `payment` may be presented again today, with what it would do or why not, in
    plain words (for the receipt page)."""
    reason, plan = _plan(payment, today)
    if plan is None:
        return RetryStatus(False, reason or "")
    total = sum((share for _, share in plan.shares), ZERO)
    numbers = ", ".join(invoice.number for invoice, _ in plan.shares)
    return RetryStatus(True, (
        f"Your bank returned this payment for insufficient funds. Once the money is in the "
        f"account, present it again: {payment.method.label} is debited "
        f"{money(total, payment.currency)} for {numbers}. This would be retry {plan.attempt} "
        f"of {R01_MAX_RETRIES}; the last day to retry is {medium_date(plan.last_day)}."
    ))


def retry_payment(payment: Payment, *, user: User, today: date) -> Payment:
    """Present a payment returned with R01 again: the same bank account is charged, under a
    new idempotency key, the smaller of what the payment paid on each invoice and what the
    invoice still owes. The new payment names the first of the chain in `retry_of_id`.
    Raises DomainError (404) for another account's payment, RetryRefused (409) with the
    reason in plain words when the rules do not allow it (see `retry_status`), and the
    gateway's errors (MethodNotUsable, …)."""
    if user.account_id != payment.account_id:
        raise DomainError("We could not find that payment.", status=404)
    # The first payment's lock serialises retries of one chain: a double click retries once.
    first = lock_payment(first_of_chain(payment).id)
    payment = lock_payment(payment.id)
    reason, plan = _plan(payment, today)
    if plan is None:
        raise RetryRefused(reason or "Only a payment your bank returned can be presented "
                                     "again.")
    method = payment.method
    total = sum((share for _, share in plan.shares), ZERO)
    # One key per retry of the chain: resubmitting after a lost answer never charges twice.
    key = f"{first.reference}-retry-{len(retries_of(first)) + 1}"
    charge = get_gateway().charge(method.gateway_reference, total, payment.currency, key,
                                  description=f"{first.reference} presented again")
    return create_payment(
        account_id=payment.account_id, currency=payment.currency, allocations=plan.shares,
        method_label=method.label, received_on=today,
        status=PAYMENT_STATUS_OF_CHARGE[charge.status], gateway_reference=charge.reference,
        failure_reason=charge.failure_reason if charge.status == ChargeStatus.FAILED else None,
        method_id=method.id, idempotency_key=key, retry_of_id=first.id,
    )
