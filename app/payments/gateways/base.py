"""The payment gateway interface: what the portal asks of a gateway, and what it gets back.

The portal never sees a card number (cards are entered on the gateway's hosted page) and keeps
only references, brand/bank labels, last 4 and expiry. Every call that moves money carries an
idempotency key chosen by the portal, so a retry can never charge twice. How each method maps
onto Stripe is in this package's README.md.

Nothing here knows about invoices, accounts or Flask requests: the billing side passes in plain
values (amounts, currencies, an opaque customer reference) and gets plain values back.
"""

import abc
import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from app.errors import DomainError

# --- Data types ------------------------------------------------------------------------------


class MethodKind(enum.StrEnum):
    CARD = "card"
    ACH = "ach"


class BankAccountType(enum.StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"


class BankAccountStatus(enum.StrEnum):
    """A bank account's verification state at the gateway."""

    NEW = "new"  # created; micro-deposits not sent yet
    PENDING_VERIFICATION = "pending_verification"  # micro-deposits sent, amounts not confirmed
    VERIFIED = "verified"  # may be charged
    VERIFICATION_FAILED = "verification_failed"  # too many wrong amounts; add the account again


class ChargeStatus(enum.StrEnum):
    """`charge()` answers with one of the first four. `unknown` means the gateway did not answer
    (a timeout): the charge may or may not exist; find it with `find_charge(idempotency_key)`
    before doing anything else. A `processing` (ACH) charge later becomes `succeeded` when it
    settles or `returned` when the bank sends it back (see `GatewayEvent`)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PROCESSING = "processing"
    UNKNOWN = "unknown"
    RETURNED = "returned"


class EventType(enum.StrEnum):
    CHARGE_SETTLED = "charge.settled"
    CHARGE_RETURNED = "charge.returned"


@dataclass(frozen=True)
class CardSetup:
    """A card-entry session on the gateway's hosted page. Send the user to `redirect_url`; the
    gateway sends them back to the `return_url` given to `begin_card_setup`, then call
    `finish_card_setup(reference)`."""

    reference: str
    redirect_url: str
    expires_at: datetime


@dataclass(frozen=True)
class CardToken:
    """A tokenised card: all the portal ever keeps of it."""

    token: str
    brand: str  # "Visa", "Mastercard", "American Express", "Discover", "Card"
    last4: str
    exp_month: int
    exp_year: int

    @property
    def label(self) -> str:
        return f"{self.brand} •••• {self.last4}"

    def is_expired_on(self, day: date) -> bool:
        """Whether the card no longer works on `day` (a card is valid to its expiry month's end)."""
        return (self.exp_year, self.exp_month) < (day.year, day.month)


@dataclass(frozen=True)
class BankAccount:
    """A US bank account at the gateway (never the full account number)."""

    reference: str
    holder_name: str
    routing_number: str
    last4: str
    account_type: BankAccountType
    status: BankAccountStatus
    verification_attempts_left: int
    micro_deposits_sent_on: date | None

    @property
    def label(self) -> str:
        return f"ACH •••• {self.last4}"


@dataclass(frozen=True)
class MicroDepositCheck:
    """The answer to entered micro-deposit amounts. When they do not match, the account's
    `verification_attempts_left` went down by one (and the status is `verification_failed` when
    none is left). Wrong amounts are an answer, not an error, so that the caller's commit keeps
    the count."""

    matched: bool
    account: BankAccount


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway says about one charge. `reference` is None only when the status is
    `unknown` (the gateway did not answer). `decline_code` and `failure_reason` (plain words for
    the reseller) are set when it failed or was returned; `return_code` (an ACH R-code, see
    `ach_returns`) when it was returned. `settles_on` is the expected settlement day of a
    `processing` charge, and the day it settled or was returned afterwards."""

    status: ChargeStatus
    idempotency_key: str
    method_reference: str
    amount: Decimal
    currency: str
    reference: str | None = None
    decline_code: str | None = None
    failure_reason: str | None = None
    return_code: str | None = None
    created_on: date | None = None
    settles_on: date | None = None


@dataclass(frozen=True)
class GatewayEvent:
    """Something that happened to a charge after `charge()` answered: an ACH charge settled or
    was returned. Events are delivered until acknowledged, oldest first; `reference` is unique,
    so a consumer that records it can ignore a redelivery."""

    reference: str
    type: EventType
    charge_reference: str
    idempotency_key: str
    method_reference: str
    amount: Decimal
    currency: str
    occurred_on: date
    return_code: str | None = None


# --- Errors ----------------------------------------------------------------------------------


class GatewayError(DomainError):
    """Base of every error a gateway raises (a broken rule, not an outage: see `ChargeStatus`)."""


class InvalidPaymentDetails(GatewayError):
    """Entered card or bank details are not valid; `field` names the form field to mark:
    `number`, `expiry`, `cvc`, `holder_name`, `routing_number`, `account_number`,
    `account_type`."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidChargeRequest(GatewayError):
    """An amount or currency the gateway cannot charge (not positive, not in cents, ACH in
    another currency than USD)."""

    status = 422


class CardSetupError(GatewayError):
    """The card-entry session is unknown, expired, already used, or not finished yet."""

    status = 409


class MethodNotFound(GatewayError):
    status = 404


class MethodNotUsable(GatewayError):
    """The method exists but cannot be charged: a bank account not verified yet, an expired
    card, a removed method."""

    status = 409


class VerificationError(GatewayError):
    """Micro-deposits cannot be sent or checked: not sent yet, verified already, or the account
    is locked after too many wrong amounts."""

    status = 409


class ChargeNotFound(GatewayError):
    status = 404


class EventNotFound(GatewayError):
    status = 404


class IdempotencyConflict(GatewayError):
    """The idempotency key was already used for a charge with other parameters."""

    status = 409


# --- The interface ---------------------------------------------------------------------------


class PaymentGateway(abc.ABC):
    """A payment gateway. Methods that change state flush the portal's database session when
    the gateway keeps state there (the sandbox) and never commit: the caller commits once, so a
    gateway's record and the portal's own record of a payment are written together.

    Every method raises `GatewayError` subclasses only for broken rules; declines are not
    exceptions (a `ChargeResult` with status `failed`), and an outage during `charge` is not an
    exception either (status `unknown`)."""

    name: str

    # Cards ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def begin_card_setup(self, *, customer: str, return_url: str) -> CardSetup:
        """Open a card-entry session on the gateway's hosted page for `customer` (an opaque,
        stable reference of the portal's account, e.g. its number)."""

    @abc.abstractmethod
    def finish_card_setup(self, reference: str) -> CardToken:
        """The card entered in a finished session. Raises CardSetupError when the session is
        unknown, expired, or the user has not entered a card yet."""

    @abc.abstractmethod
    def get_card(self, token: str) -> CardToken:
        """Raises MethodNotFound."""

    # Bank accounts (ACH) -------------------------------------------------------------------

    @abc.abstractmethod
    def create_bank_account(
        self,
        *,
        customer: str,
        holder_name: str,
        routing_number: str,
        account_number: str,
        account_type: BankAccountType | str,
    ) -> BankAccount:
        """Register a US bank account (status `new`). Raises InvalidPaymentDetails naming the
        field: holder name empty, routing number not 9 digits with a valid ABA checksum,
        account number not 4–17 digits."""

    @abc.abstractmethod
    def start_micro_deposits(self, reference: str) -> BankAccount:
        """Send the two micro-deposits (status `pending_verification`). Calling it again while
        pending changes nothing. Raises MethodNotFound, or VerificationError when the account
        is verified or locked already."""

    @abc.abstractmethod
    def verify_micro_deposits(
        self, reference: str, amounts: tuple[Decimal, Decimal]
    ) -> MicroDepositCheck:
        """Check the two amounts the user read on their statement (in either order); when they
        match, the account becomes `verified`. Raises VerificationError when the deposits were
        not sent or too many wrong tries locked the account, MethodNotFound. An account that is
        verified already answers `matched` unchanged."""

    @abc.abstractmethod
    def get_bank_account(self, reference: str) -> BankAccount:
        """Raises MethodNotFound."""

    # Both kinds ----------------------------------------------------------------------------

    @abc.abstractmethod
    def remove_method(self, reference: str) -> None:
        """Detach a card or bank account; it can no longer be charged. Raises MethodNotFound."""

    # Charges -------------------------------------------------------------------------------

    @abc.abstractmethod
    def charge(
        self,
        method_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        *,
        description: str = "",
    ) -> ChargeResult:
        """Charge a card (succeeds or fails at once) or debit a verified bank account (status
        `processing` until it settles or is returned, see `pending_events`). The same
        `idempotency_key` with the same parameters answers the first charge again and never
        charges twice; with other parameters it raises IdempotencyConflict. Raises
        InvalidChargeRequest, MethodNotFound, MethodNotUsable. A gateway that does not answer
        gives status `unknown`: call `find_charge` with the same key before anything else."""

    @abc.abstractmethod
    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        """The charge made with this idempotency key as it stands now, or None when the gateway
        never made one (then charging again with the same key is safe)."""

    @abc.abstractmethod
    def get_charge(self, reference: str) -> ChargeResult:
        """Raises ChargeNotFound."""

    # Settlement ----------------------------------------------------------------------------

    @abc.abstractmethod
    def today(self) -> date:
        """The gateway's business date (settlement days are counted from it)."""

    @abc.abstractmethod
    def pending_events(self, limit: int = 100) -> list[GatewayEvent]:
        """Settlement and return events not acknowledged yet, oldest first. On PostgreSQL the
        rows are locked (skipping those another consumer holds), so two consumers never
        handle one event at once."""

    # Secrets -------------------------------------------------------------------------------

    def rotate_encryption(self) -> int:
        """Re-encrypt what the gateway keeps in the portal's database with the newest key of
        PAYMENTS_ENCRYPTION_KEYS; the number of values. A gateway that keeps nothing there
        (its data is at the provider) has nothing to do."""
        return 0

    @abc.abstractmethod
    def acknowledge_event(self, reference: str) -> None:
        """Mark an event handled, in the caller's transaction, so that it is not delivered
        again. Acknowledging twice is harmless."""
