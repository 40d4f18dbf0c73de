"""Payment methods and their states, each transition a service that locks the method row,
checks the state it starts from and raises MethodStateError (409) otherwise:

    pending_verification → verified (micro-deposits matched) | locked (VERIFICATION_TRIES wrong
                           tries) | expired (not verified within VERIFICATION_DAYS)
    verified             → disabled (an ACH return that closes the account, e.g. R02)

A card is `verified` when it is added (the gateway checked it). Any method may be removed: it
stays for the payments that name it and is no longer listed or charged. The gateway keeps the
card and the bank account number; the portal keeps its reference, brand or bank label, last 4
and expiry. Services flush; the request or command commits once.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import abort
from sqlalchemy import select, update

from app.accounts.models import Account, User, utcnow
from app.audit.services import PAYMENT_GATEWAY, audit
from app.errors import DomainError
from app.events.schemas import (
    EventData,
    PaymentMethodAdded,
    PaymentMethodDisabled,
    PaymentMethodExpired,
    PaymentMethodLocked,
    PaymentMethodRemoved,
    PaymentMethodVerified,
)
from app.events.services import record_event
from app.extensions import db
from app.payments.gateways import get_gateway
from app.payments.gateways.base import BankAccountType, CardToken, MethodKind
from app.payments.models import MethodStatus, PaymentMethod

# Wrong micro-deposit tries before a bank account is locked (the gateway allows more; the
# portal stops first), and the days an unverified bank account has to be verified.
VERIFICATION_TRIES = 3
VERIFICATION_DAYS = 10
# ACH debits US bank accounts in US dollars only.
ACH_CURRENCIES = ("USD",)
ACH_CURRENCY_REFUSAL = (
    "Bank accounts (ACH) can pay only accounts billed in US dollars; your account is billed in "
    "{currency}, so please add a card instead."
)

# The CCD debit authorisation the admin accepts when adding a bank account, shown in full under
# the bank details on the form. The words shown are the words stored, with who accepted them,
# when and from which address; the bank details it refers to ("the bank account entered
# above": holder, routing number, last 4, type) are stored beside them on the method.
CCD_AUTHORISATION = (
    "{company} ({account_number}) authorises {payee} to debit the business bank account "
    "entered above by ACH (CCD entries) for the invoice payments that an authorised user "
    "confirms in the Partner Portal, in the amount and on the date confirmed, and to credit "
    "that account to correct an error. This authorisation stays in effect until {company} "
    "removes the bank account in the Partner Portal, giving {payee} reasonable time to act on "
    "it. A debit the bank returns for insufficient funds may be presented again as the NACHA "
    "Operating Rules allow."
)
# Each micro-deposit is less than this; an amount entered at or above it is a typing mistake,
# not a try.
MICRO_DEPOSIT_LIMIT = Decimal("1.00")


class MethodStateError(DomainError):
    status = 409


@dataclass(frozen=True)
class Authorisation:
    """Who accepts the CCD debit authorisation, and from where."""

    user: User
    ip_address: str | None
    at: datetime


def authorisation_text(account: Account, *, payee: str) -> str:
    """The exact words of the debit authorisation the account's admin is shown and accepts."""
    return CCD_AUTHORISATION.format(
        company=account.legal_name, account_number=account.number, payee=payee,
    )


def authorisation_digest(text: str) -> str:
    """A fingerprint of the words shown, sent back with the form: when it no longer matches the
    words that would be stored (the payee or the company's name changed meanwhile), the admin
    reads and accepts the new words first."""
    return hashlib.sha256(text.encode()).hexdigest()


def get_method_or_404(account_id: int, method_id: int) -> PaymentMethod:
    """The account's method with this id that was not removed. Aborts with 404 otherwise (an
    id of another account is not found, never forbidden)."""
    method = db.session.scalar(select(PaymentMethod).where(
        PaymentMethod.id == method_id, PaymentMethod.account_id == account_id,
        PaymentMethod.removed_at.is_(None),
    ))
    if method is None:
        abort(404)
    return method


def lock_method(method_id: int) -> PaymentMethod:
    """The method, locked for update until the transaction ends and read afresh."""
    return db.session.scalar(
        select(PaymentMethod).where(PaymentMethod.id == method_id).with_for_update()
        .execution_options(populate_existing=True)
    )


def _transition(method: PaymentMethod, sources: Sequence[MethodStatus],
                target: MethodStatus) -> PaymentMethod:
    locked = lock_method(method.id)
    if locked.removed_at is not None or locked.status not in sources:
        state = "removed" if locked.removed_at is not None else locked.status.value
        raise MethodStateError(f"{locked.label} is {state.replace('_', ' ')}; it cannot become "
                               f"{target.value.replace('_', ' ')}.")
    return locked


def _event(schema: type[EventData], method: PaymentMethod, **extra) -> None:
    record_event(schema(method_id=method.id, kind=method.kind.value, label=method.label,
                        status=method.status.value, **extra), account_id=method.account_id)


def _audit(change: str, method: PaymentMethod, actor: User | None = None, **extra) -> None:
    audit(f"payment_method.{change}", account_id=method.account_id, actor=actor, details={
        "method_id": method.id, "kind": method.kind.value, "label": method.label, **extra})


def list_methods(account_id: int) -> list[PaymentMethod]:
    """The account's methods that were not removed: the default first, then newest first."""
    return list(db.session.scalars(
        select(PaymentMethod)
        .where(PaymentMethod.account_id == account_id, PaymentMethod.removed_at.is_(None))
        .order_by(PaymentMethod.is_default.desc(), PaymentMethod.created_at.desc(),
                  PaymentMethod.id.desc())
    ))


def is_usable(method: PaymentMethod, today: date) -> bool:
    """Whether the method may be charged today: verified, not removed, a card not expired."""
    if method.removed_at is not None or method.status != MethodStatus.VERIFIED:
        return False
    if method.kind == MethodKind.CARD:
        return (method.exp_year, method.exp_month) >= (today.year, today.month)
    return True


def usable_methods(account_id: int, today: date) -> list[PaymentMethod]:
    return [method for method in list_methods(account_id) if is_usable(method, today)]


def add_card(account: Account, card: CardToken, *, user: User) -> PaymentMethod:
    """Keep a card the gateway tokenised (verified at once). The first usable method becomes
    the default. Raises MethodStateError when the card is on file already."""
    if db.session.scalar(select(PaymentMethod.id)
                         .where(PaymentMethod.gateway_reference == card.token)) is not None:
        raise MethodStateError(f"{card.label} is on file already.")
    method = PaymentMethod(
        account_id=account.id, kind=MethodKind.CARD, status=MethodStatus.VERIFIED,
        gateway_reference=card.token, label=card.label, last4=card.last4, brand=card.brand,
        exp_month=card.exp_month, exp_year=card.exp_year, created_by_id=user.id,
        verified_at=utcnow(),
    )
    db.session.add(method)
    db.session.flush()
    _default_if_first(method)
    _event(PaymentMethodAdded, method)
    _event(PaymentMethodVerified, method)
    _audit("added", method, user)
    return method


def add_bank_account(
    account: Account,
    *,
    holder_name: str,
    routing_number: str,
    account_number: str,
    account_type: str,
    payee: str,
    authorisation: Authorisation,
    today: date,
) -> PaymentMethod:
    """Register a US bank account at the gateway, record the accepted CCD authorisation and
    send the micro-deposits (status `pending_verification`, to verify within
    VERIFICATION_DAYS). Raises MethodStateError for an account not billed in USD, and the
    gateway's InvalidPaymentDetails (naming the field) for invalid details."""
    if account.currency not in ACH_CURRENCIES:
        raise MethodStateError(ACH_CURRENCY_REFUSAL.format(currency=account.currency))
    gateway = get_gateway()
    bank = gateway.create_bank_account(
        customer=account.number, holder_name=holder_name, routing_number=routing_number,
        account_number=account_number, account_type=account_type,
    )
    bank = gateway.start_micro_deposits(bank.reference)
    method = PaymentMethod(
        account_id=account.id, kind=MethodKind.ACH, status=MethodStatus.PENDING_VERIFICATION,
        gateway_reference=bank.reference, label=bank.label, last4=bank.last4,
        holder_name=bank.holder_name, routing_number=bank.routing_number,
        account_type=bank.account_type,
        verification_expires_on=today + timedelta(days=VERIFICATION_DAYS),
        authorisation_text=authorisation_text(account, payee=payee),
        authorised_at=authorisation.at, authorised_by_id=authorisation.user.id,
        authorised_ip=authorisation.ip_address, created_by_id=authorisation.user.id,
    )
    db.session.add(method)
    db.session.flush()
    _event(PaymentMethodAdded, method)
    _audit("added", method, authorisation.user)
    return method


def tries_left(method: PaymentMethod) -> int:
    return max(VERIFICATION_TRIES - method.failed_verifications, 0)


LOCKED_REASON = (f"Wrong deposit amounts were entered {VERIFICATION_TRIES} times. Add the bank "
                 "account again to get new deposits.")
EXPIRED_REASON = (f"It was not verified within {VERIFICATION_DAYS} days. Add the bank account "
                  "again to get new deposits.")
DISABLED_REASON = "The bank said this account cannot be debited any more."


KIND_LABELS = {MethodKind.CARD: "Card", MethodKind.ACH: "Bank account (ACH)"}
ACCOUNT_TYPE_LABELS = {BankAccountType.CHECKING: "Checking", BankAccountType.SAVINGS: "Savings"}


@dataclass(frozen=True)
class MethodState:
    """What the payment methods page says about a method today, decided here once: its badge
    (`tone`: success, warning or danger), whether it can pay, can be verified or must be added
    again, and why not, in plain words; with the method's kind, a card's expiry (MM/YYYY, as
    printed on cards) and a bank account's holder, routing number and type."""

    badge: str
    tone: str
    kind_label: str = ""
    expires: str | None = None
    details: str | None = None
    usable: bool = False
    can_verify: bool = False
    add_again: bool = False
    tries_left: int | None = None
    verify_by: date | None = None
    reason: str | None = None


def method_state(method: PaymentMethod, today: date) -> MethodState:
    """The method's state as the reseller reads it on `today`: a bank account past its last
    day to verify reads Expired even before `expire_unverified_methods` has run, and a
    verified card past its expiry month reads Expired too."""
    state = _state(method, today)
    if method.kind == MethodKind.CARD:
        return replace(state, kind_label=KIND_LABELS[method.kind],
                       expires=f"{method.exp_month:02d}/{method.exp_year}")
    account_type = ACCOUNT_TYPE_LABELS.get(method.account_type, "")
    details = " · ".join(part for part in (
        method.holder_name, f"routing {method.routing_number}", account_type) if part)
    return replace(state, kind_label=KIND_LABELS[method.kind], details=details)


def _state(method: PaymentMethod, today: date) -> MethodState:
    status = method.status
    if status == MethodStatus.VERIFIED:
        if is_usable(method, today):
            return MethodState("Verified", "success", usable=True)
        return MethodState("Expired", "danger",
                           reason="This card has expired. Add the card that replaced it.")
    if status == MethodStatus.PENDING_VERIFICATION:
        last_day = method.verification_expires_on
        if last_day is not None and today > last_day:
            return MethodState("Expired", "danger", add_again=True, reason=EXPIRED_REASON)
        return MethodState("Waiting for verification", "warning", can_verify=True,
                           tries_left=tries_left(method), verify_by=last_day)
    if status == MethodStatus.LOCKED:
        return MethodState("Locked", "danger", add_again=True, reason=LOCKED_REASON)
    if status == MethodStatus.EXPIRED:
        return MethodState("Expired", "danger", add_again=True, reason=EXPIRED_REASON)
    return MethodState("Disabled", "danger", reason=method.disabled_reason or DISABLED_REASON)


def verify_bank_account(method: PaymentMethod, amounts: tuple[Decimal, Decimal], *,
                        today: date) -> bool:
    """Check the two micro-deposit amounts (either order). Matched: `verified` (and the
    default, when the account has none). Wrong: one try fewer, `locked` after
    VERIFICATION_TRIES. Past its expiry day the method becomes `expired` instead. Returns
    whether they matched. Raises MethodStateError when the method is not waiting for
    verification (the caller commits either way, so a wrong try counts)."""
    method = _transition(method, (MethodStatus.PENDING_VERIFICATION,), MethodStatus.VERIFIED)
    if method.verification_expires_on is not None and today > method.verification_expires_on:
        _expire(method)
        return False
    check = get_gateway().verify_micro_deposits(method.gateway_reference, amounts)
    if check.matched:
        method.status = MethodStatus.VERIFIED
        method.verified_at = utcnow()
        db.session.flush()
        _default_if_first(method)
        _event(PaymentMethodVerified, method)
        _audit("verified", method)
        return True
    method.failed_verifications += 1
    if method.failed_verifications >= VERIFICATION_TRIES:
        method.status = MethodStatus.LOCKED
        _event(PaymentMethodLocked, method)
    db.session.flush()
    return False


def _expire(method: PaymentMethod) -> None:
    method.status = MethodStatus.EXPIRED
    db.session.flush()
    _event(PaymentMethodExpired, method)


def expire_unverified_methods(today: date) -> int:
    """pending_verification → expired for every bank account past its expiry day; how many."""
    overdue = db.session.scalars(
        select(PaymentMethod.id).where(
            PaymentMethod.status == MethodStatus.PENDING_VERIFICATION,
            PaymentMethod.removed_at.is_(None),
            PaymentMethod.verification_expires_on < today,
        ).order_by(PaymentMethod.id)
    ).all()
    for method_id in overdue:
        method = lock_method(method_id)
        if method.status == MethodStatus.PENDING_VERIFICATION:
            _expire(method)
    return len(overdue)


def disable_method(method: PaymentMethod, reason: str) -> PaymentMethod:
    """verified → disabled: the bank said the account cannot be debited again (reason in
    plain words). It stops being the default. Raises MethodStateError otherwise."""
    method = _transition(method, (MethodStatus.VERIFIED,), MethodStatus.DISABLED)
    method.status = MethodStatus.DISABLED
    method.disabled_at = utcnow()
    method.disabled_reason = reason
    method.is_default = False
    db.session.flush()
    _event(PaymentMethodDisabled, method, reason=reason)
    # Only the bank's answer turns a method off (an ACH return), whoever passed it on.
    _audit("disabled", method, PAYMENT_GATEWAY, reason=reason)
    return method


def set_default(method: PaymentMethod, today: date) -> PaymentMethod:
    """Make a usable method the account's default. Raises MethodStateError otherwise."""
    method = lock_method(method.id)
    if not is_usable(method, today):
        raise MethodStateError(f"{method.label} cannot be charged, so it cannot be the default.")
    db.session.execute(
        update(PaymentMethod).where(PaymentMethod.account_id == method.account_id,
                                    PaymentMethod.is_default.is_(True))
        .values(is_default=False).execution_options(synchronize_session="fetch")
    )
    db.session.flush()
    method.is_default = True
    db.session.flush()
    _audit("default_changed", method)
    return method


def _default_if_first(method: PaymentMethod) -> None:
    has_default = db.session.scalar(select(PaymentMethod.id).where(
        PaymentMethod.account_id == method.account_id, PaymentMethod.is_default.is_(True),
        PaymentMethod.removed_at.is_(None),
    ))
    if has_default is None:
        method.is_default = True
        db.session.flush()


def remove_method(method: PaymentMethod) -> PaymentMethod:
    """Remove a method: the gateway forgets it, it is no longer listed or charged, and the
    payments that used it still name it. Raises MethodStateError when removed already."""
    method = lock_method(method.id)
    if method.removed_at is not None:
        raise MethodStateError(f"{method.label} was removed already.")
    get_gateway().remove_method(method.gateway_reference)
    method.removed_at = utcnow()
    method.is_default = False
    db.session.flush()
    _event(PaymentMethodRemoved, method)
    _audit("removed", method)
    return method
