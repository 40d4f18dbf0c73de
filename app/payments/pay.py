"""The pay flow (SPEC §8): choose invoices and amounts, optionally apply credit, choose a
method, review, confirm.

A draft (`PaymentDraft`) is issued with the pay form under a key the server chooses, and the
form carries it through Review and Confirm. Confirming locks the draft row, so whatever comes
second — a double click, a resubmit, a second tab, the back button — finds the payment the
first confirmation made instead of making another. A confirmation checks the reviewed plan
again under the locks of the account and its invoices, charges the gateway first, under the
key "<draft key>-<attempts>" (a retry of the same attempt is answered by the same charge), and
then records what the gateway answered:

    succeeded  → the credit shares applied, a `succeeded` payment for the rest
    processing → (a bank account) the same, with the payment `processing` until it settles
    failed     → a `failed` payment and no credit applied; the draft stays open, so that the
                 reseller can choose another method (the next try charges under a new key)
    unknown    → (no answer) an `unknown` payment holding its invoices, and the credit shares
                 applied; `flask payments settle` later asks the gateway what became of it

Credit that covers the whole plan is applied without a charge. Services flush; the request
commits once.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import abort
from sqlalchemy import select, update

from app.accounts.models import Account, Role, utcnow
from app.billing.models import Invoice
from app.billing.transitions import PAYABLE, lock_invoice
from app.credit.services import apply_credit, credit_balance, lock_account
from app.errors import DomainError
from app.extensions import db
from app.formatting import money
from app.money import CENT, ZERO
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.gateways.base import ChargeStatus, GatewayError
from app.payments.gateways.declines import describe_decline
from app.payments.models import Payment, PaymentDraft, PaymentMethod, PaymentStatus
from app.payments.services import create_payment

# Who may pay (and so see the pay page and the Pay action of an invoice).
PAY_ROLES = (Role.ADMIN, Role.BILLING)
PAY_REFUSAL = ("Viewers can see invoices, payments and receipts but cannot pay; an admin or "
               "billing user of your account can.")
REVIEW_AGAIN = ("Your invoices or your credit changed since you reviewed this payment, so "
                "nothing was charged. Check the amounts and review the payment again.")
NOT_REVIEWED = "Review the payment before you confirm it."
# Where a plan's errors go: the amount of an invoice (its id), or one of these.
INVOICES = "invoices"
METHOD = "method"

_CHARGE_OUTCOMES = {
    ChargeStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChargeStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChargeStatus.UNKNOWN: PaymentStatus.UNKNOWN,
}


class PayNotAllowed(DomainError):
    status = 403


class PlanInvalid(DomainError):
    """A plan that cannot be paid as it stands; `errors` maps an invoice id (its amount) or
    INVOICES or METHOD to what is wrong, in words for the reseller."""

    status = 422

    def __init__(self, errors: dict[int | str, str],
                 message: str = "Correct the marked fields and review the payment again."
                 ) -> None:
        super().__init__(message)
        self.errors = errors


class PlanChanged(PlanInvalid):
    """At confirmation, the reviewed plan no longer holds (a balance or the credit changed)."""


def check_can_pay(role: Role) -> None:
    """Raises PayNotAllowed (403) for a role that cannot pay."""
    if role not in PAY_ROLES:
        raise PayNotAllowed(PAY_REFUSAL)


# --- Plans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanLine:
    invoice: Invoice
    amount: Decimal  # paid on the invoice in all
    credit: Decimal = ZERO  # of it, from credit

    @property
    def charge(self) -> Decimal:
        return self.amount - self.credit


@dataclass(frozen=True)
class Plan:
    """What a payment will do: the invoices (oldest first) and what each gets from credit and
    from the method, and the method to charge (None when credit covers everything)."""

    currency: str
    lines: tuple[PlanLine, ...]
    method: PaymentMethod | None
    apply_credit: bool
    credit_available: Decimal

    @property
    def invoices_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def credit_applied(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def to_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), ZERO)


def share_credit(amounts: Sequence[Decimal], credit: Decimal) -> list[Decimal]:
    """`credit` spread over `amounts` in their order (oldest invoice first), each share at
    most its amount; the shares add up to min(credit, total)."""
    shares, left = [], max(credit, ZERO)
    for amount in amounts:
        share = min(amount, left)
        shares.append(share)
        left -= share
    return shares


def amount_error(amount: Decimal, balance_due: Decimal, currency: str) -> str | None:
    """What is wrong with paying `amount` on an invoice that owes `balance_due`, or None."""
    if not amount.is_finite() or amount <= ZERO:
        return "Enter an amount more than zero."
    if amount > balance_due:  # first: a huge number has no cents to count
        return f"Enter at most the balance due, {money(balance_due, currency)}."
    if amount != amount.quantize(CENT):
        return "Enter the amount in dollars and cents: at most two decimal places."
    return None


def payable_invoices(account_id: int) -> list[Invoice]:
    """The account's invoices that can take a payment (open or partially paid), oldest first."""
    return list(db.session.scalars(
        select(Invoice).where(Invoice.account_id == account_id, Invoice.status.in_(PAYABLE))
        .order_by(Invoice.issue_date, Invoice.id)
    ))


def _load_invoices(account_id: int, ids: list[int], lock: bool) -> dict[int, Invoice]:
    if lock:
        # In id order, as every service that locks several invoices does (no deadlock ring).
        found = [lock_invoice(invoice_id) for invoice_id in sorted(ids)]
    else:
        found = db.session.scalars(select(Invoice).where(Invoice.id.in_(ids))).all()
    return {invoice.id: invoice for invoice in found
            if invoice is not None and invoice.account_id == account_id}


def _method(account_id: int, method_id: int | None, today: date) -> PaymentMethod | None:
    if method_id is None:
        return None
    method = db.session.get(PaymentMethod, method_id)
    if method is None or method.account_id != account_id or not methods.is_usable(method, today):
        return None
    return method


def plan_payment(
    account: Account,
    selections: Sequence[tuple[int, Decimal]],
    *,
    apply_credit: bool,
    method_id: int | None,
    today: date,
    lock: bool = False,
) -> Plan:
    """The plan for paying `selections` ((invoice id, amount) pairs) of `account`'s invoices:
    each amount more than zero, in cents and at most the invoice's balance due; the credit
    (when asked for) shared over them oldest invoice first; a usable method of the account for
    the rest. With `lock`, the invoices are locked (the caller holds the account lock).

    Raises PlanInvalid naming every problem: no invoice, an invoice twice, an invoice that is
    not the account's or has nothing left to pay, a wrong amount, no usable method."""
    errors: dict[int | str, str] = {}
    ids = [invoice_id for invoice_id, _ in selections]
    if not ids:
        errors[INVOICES] = "Choose at least one invoice to pay."
    elif len(set(ids)) != len(ids):
        errors[INVOICES] = "Each invoice can be paid once in a payment."
    invoices = _load_invoices(account.id, list(set(ids)), lock)
    lines = []
    for invoice_id, amount in selections:
        invoice = invoices.get(invoice_id)
        if invoice is None:
            errors[INVOICES] = "One of the chosen invoices is not one of your account's."
            continue
        if invoice.status not in PAYABLE:
            errors[invoice_id] = f"{invoice.number} has nothing left to pay."
            continue
        problem = amount_error(amount, invoice.balance_due, invoice.currency)
        if problem:
            errors[invoice_id] = problem
            continue
        lines.append(PlanLine(invoice, amount))
    if errors:
        raise PlanInvalid(errors)
    lines.sort(key=lambda line: (line.invoice.issue_date, line.invoice.id))
    available = credit_balance(account) if apply_credit else ZERO
    shares = share_credit([line.amount for line in lines], available)
    lines = [PlanLine(line.invoice, line.amount, share)
             for line, share in zip(lines, shares, strict=True)]
    method = None
    if sum((line.charge for line in lines), ZERO) > ZERO:
        method = _method(account.id, method_id, today)
        if method is None:
            errors[METHOD] = ("Choose how to pay the rest." if method_id is None else
                              "That payment method cannot be used now; choose another.")
            raise PlanInvalid(errors)
    return Plan(account.currency, tuple(lines), method, apply_credit, available)


# --- Drafts -----------------------------------------------------------------------------------


def open_draft(account_id: int, user_id: int) -> PaymentDraft:
    """A new draft under a fresh, unguessable key, for the pay form being shown."""
    draft = PaymentDraft(key=secrets.token_urlsafe(32), account_id=account_id, user_id=user_id,
                         lines=[], attempts=0, apply_credit=False)
    db.session.add(draft)
    db.session.flush()
    return draft


def get_draft_or_404(account_id: int, key: str) -> PaymentDraft:
    """The account's draft with this key. Raises 404 otherwise — also for another account's
    key, so that keys cannot be probed."""
    draft = db.session.scalar(select(PaymentDraft).where(PaymentDraft.account_id == account_id,
                                                         PaymentDraft.key == key))
    if draft is None:
        abort(404)
    return draft


def lock_draft(account_id: int, key: str) -> PaymentDraft:
    """The account's draft, locked until the transaction ends and read afresh. Raises 404."""
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write takes the database's write lock, which holds the
        # next confirmation back until this one commits, so that it then reads the payment.
        db.session.execute(
            update(PaymentDraft)
            .where(PaymentDraft.account_id == account_id, PaymentDraft.key == key)
            .values(attempts=PaymentDraft.attempts)
            .execution_options(synchronize_session=False)
        )
    draft = db.session.scalar(
        select(PaymentDraft)
        .where(PaymentDraft.account_id == account_id, PaymentDraft.key == key)
        .with_for_update().execution_options(populate_existing=True)
    )
    if draft is None:
        abort(404)
    return draft


def draft_selections(draft: PaymentDraft) -> list[tuple[int, Decimal]]:
    """The (invoice id, amount) pairs last reviewed on the draft."""
    return [(int(line["invoice_id"]), Decimal(line["amount"])) for line in draft.lines]


def _plan_lines(plan: Plan) -> list[dict]:
    return [{"invoice_id": line.invoice.id, "amount": str(line.amount),
             "credit": str(line.credit)} for line in plan.lines]


def _same_plan(lines: list[dict], plan: Plan) -> bool:
    """Whether `plan` pays and credits each invoice exactly as the reviewed `lines`."""
    def key(items: list[dict]) -> list[tuple[int, Decimal, Decimal]]:
        return [(int(item["invoice_id"]), Decimal(item["amount"]),
                 Decimal(item.get("credit", "0"))) for item in items]

    return key(lines) == key(_plan_lines(plan))


def review_draft(draft: PaymentDraft, plan: Plan) -> PaymentDraft:
    """Keep the reviewed plan on the draft. Raises PlanInvalid when the draft was confirmed
    already (its payment is made)."""
    if draft.confirmed_at is not None:
        raise PlanInvalid({}, "This payment was confirmed already.")
    draft.lines = _plan_lines(plan)
    draft.apply_credit = plan.apply_credit
    draft.method_id = plan.method.id if plan.method else None
    db.session.flush()
    return draft


def draft_credit_shares(draft: PaymentDraft) -> dict[int, Decimal]:
    """Credit the draft's reviewed plan applies, per invoice id (receipts show it beside the
    payment)."""
    return {int(line["invoice_id"]): Decimal(line.get("credit", "0")) for line in draft.lines
            if Decimal(line.get("credit", "0")) > ZERO}


# --- Confirming -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation did. `payment` is None when credit covered everything. `replayed`:
    the draft had been confirmed before, and nothing new happened."""

    draft: PaymentDraft
    payment: Payment | None
    replayed: bool = False

    @property
    def outcome(self) -> str:
        """"credit" (credit only), or the payment's status: succeeded, processing, unknown,
        failed."""
        return "credit" if self.payment is None else self.payment.status.value


def _apply_credit_shares(plan: Plan, today: date) -> None:
    for line in plan.lines:
        if line.credit > ZERO:
            apply_credit(line.invoice, line.credit, on=today)


def _charge_description(account: Account, plan: Plan) -> str:
    return f"{account.number}: " + ", ".join(line.invoice.number for line in plan.lines)


def confirm_draft(account_id: int, key: str, *, today: date) -> Confirmation:
    """Make the payment a reviewed draft describes, once (see the module's docstring).

    Raises 404 for another account's key; PlanInvalid when the draft was not reviewed or the
    gateway refuses the method; PlanChanged when the reviewed plan no longer holds (nothing
    is charged then)."""
    draft = lock_draft(account_id, key)
    if draft.confirmed_at is not None:
        payment = db.session.get(Payment, draft.payment_id) if draft.payment_id else None
        return Confirmation(draft, payment, replayed=True)
    if not draft.lines:
        raise PlanInvalid({}, NOT_REVIEWED)
    account = lock_account(account_id)
    reviewed = list(draft.lines)
    try:
        plan = plan_payment(account, draft_selections(draft), apply_credit=draft.apply_credit,
                            method_id=draft.method_id, today=today, lock=True)
    except PlanInvalid as invalid:
        raise PlanChanged(invalid.errors, REVIEW_AGAIN) from invalid
    if not _same_plan(reviewed, plan):
        raise PlanChanged({}, REVIEW_AGAIN)

    if plan.to_charge == ZERO:
        _apply_credit_shares(plan, today)
        return _finish(draft, None)

    method = plan.method
    attempt_key = f"{draft.key}-{draft.attempts}"
    try:
        result = get_gateway().charge(method.gateway_reference, plan.to_charge, plan.currency,
                                      attempt_key, description=_charge_description(account, plan))
    except GatewayError as refused:
        raise PlanInvalid({METHOD: refused.message}, refused.message) from refused
    draft.attempts += 1
    allocations = [(line.invoice, line.charge) for line in plan.lines if line.charge > ZERO]
    common = dict(account_id=account.id, currency=plan.currency, allocations=allocations,
                  method_label=method.label, received_on=today, amount=plan.to_charge,
                  gateway_reference=result.reference, method_id=method.id,
                  idempotency_key=attempt_key)
    if result.status == ChargeStatus.FAILED:
        reason = result.failure_reason or describe_decline(result.decline_code or "")
        payment = create_payment(status=PaymentStatus.FAILED, failure_reason=reason, **common)
        db.session.flush()
        return Confirmation(draft, payment)
    if result.status not in _CHARGE_OUTCOMES:
        raise PlanInvalid({METHOD: "The payment processor gave an answer we do not know."})
    _apply_credit_shares(plan, today)
    payment = create_payment(status=_CHARGE_OUTCOMES[result.status], **common)
    return _finish(draft, payment)


def _finish(draft: PaymentDraft, payment: Payment | None) -> Confirmation:
    draft.payment_id = payment.id if payment else None
    draft.confirmed_at = utcnow()
    db.session.flush()
    return Confirmation(draft, payment)


def pay_invoices(
    account: Account,
    user_id: int,
    selections: Sequence[tuple[int, Decimal]],
    *,
    method_id: int | None,
    apply_credit: bool = False,
    today: date,
) -> Confirmation:
    """Open, review and confirm a draft in one go (the pay flow without its pages: the demo
    data and tests pay through it). Raises what `plan_payment` and `confirm_draft` raise."""
    draft = open_draft(account.id, user_id)
    plan = plan_payment(account, selections, apply_credit=apply_credit, method_id=method_id,
                        today=today)
    review_draft(draft, plan)
    return confirm_draft(account.id, draft.key, today=today)
