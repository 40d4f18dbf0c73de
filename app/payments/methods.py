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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from app.accounts.models import Account, User, utcnow
from app.erp.services import record_event
from app.errors import DomainError
from app.extensions import db
from app.payments.gateways import get_gateway
from app.payments.gateways.base import CardToken, MethodKind
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

# The CCD debit authorisation the admin accepts when adding a bank account. The words shown
# are the words stored, with who accepted them, when, and from which address.
CCD_AUTHORISATION = (
    "{company} ({account_number}) authorises {payee} to debit its {account_type} account "
    "ending in {last4} at the bank with routing number {routing_number} by ACH (CCD entries) "
    "for the invoice payments that an authorised user confirms in the Partner Portal, in the "
    "amount and on the date confirmed, and to credit the account to correct an error. This "
    "authorisation stays in effect until {company} removes the bank account in the Partner "
    "Portal, giving {payee} reasonable time to act on it. A debit the bank returns for "
    "insufficient funds may be presented again as the NACHA Operating Rules allow."
)


class MethodStateError(DomainError):
    status = 409


@dataclass(frozen=True)
class Authorisation:
    """Who accepts the CCD debit authorisation, and from where."""

    user: User
    ip_address: str | None
    at: datetime


def authorisation_text(account: Account, *, payee: str, account_type: str, last4: str,
                       routing_number: str) -> str:
    """The exact words of the debit authorisation for this bank account."""
    return CCD_AUTHORISATION.format(
        company=account.legal_name, account_number=account.number, payee=payee,
        account_type=account_type, last4=last4, routing_number=routing_number,
    )


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


def _event(kind: str, method: PaymentMethod, **extra) -> None:
    record_event(f"payment_method.{kind}", account_id=method.account_id, payload={
        "method_id": method.id, "kind": method.kind.value, "label": method.label,
        "status": method.status.value, **extra,
    })


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
    _event("added", method)
    _event("verified", method)
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
        authorisation_text=authorisation_text(
            account, payee=payee, account_type=bank.account_type.value, last4=bank.last4,
            routing_number=bank.routing_number,
        ),
        authorised_at=authorisation.at, authorised_by_id=authorisation.user.id,
        authorised_ip=authorisation.ip_address, created_by_id=authorisation.user.id,
    )
    db.session.add(method)
    db.session.flush()
    _event("added", method)
    return method


def tries_left(method: PaymentMethod) -> int:
    return max(VERIFICATION_TRIES - method.failed_verifications, 0)


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
        _event("verified", method)
        return True
    method.failed_verifications += 1
    if method.failed_verifications >= VERIFICATION_TRIES:
        method.status = MethodStatus.LOCKED
        _event("locked", method)
    db.session.flush()
    return False


def _expire(method: PaymentMethod) -> None:
    method.status = MethodStatus.EXPIRED
    db.session.flush()
    _event("expired", method)


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
    _event("disabled", method, reason=reason)
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
    _event("removed", method)
    return method
