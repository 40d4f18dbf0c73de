"""The built-in `sandbox` gateway: behaves like a real one (tokenised cards with test numbers
that decline, ACH with micro-deposits, settlement after business days, returns with R-codes,
idempotent charges, simulated timeouts), keeping its state in the portal's database and
counting days on its own clock, which `advance` moves forward."""

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.accounts.models import utcnow
from app.extensions import db
from app.payments.gateways.ach_returns import describe_return
from app.payments.gateways.base import (
    BankAccount,
    BankAccountStatus,
    BankAccountType,
    CardSetup,
    CardSetupError,
    CardToken,
    ChargeNotFound,
    ChargeResult,
    ChargeStatus,
    EventNotFound,
    EventType,
    GatewayEvent,
    IdempotencyConflict,
    InvalidChargeRequest,
    MethodKind,
    MethodNotFound,
    MethodNotUsable,
    MicroDepositCheck,
    PaymentGateway,
    VerificationError,
)
from app.payments.gateways.business_days import add_business_days
from app.payments.gateways.declines import describe_decline
from app.payments.gateways.encryption import FieldEncryptor
from app.payments.gateways.sandbox_models import (
    CardBehaviour,
    FaultKind,
    SandboxBankAccount,
    SandboxCard,
    SandboxCardSetup,
    SandboxCharge,
    SandboxClock,
    SandboxEvent,
    SandboxFault,
)
from app.payments.gateways.validation import (
    card_brand,
    check_account_number,
    check_account_type,
    check_card_number,
    check_charge,
    check_cvc,
    check_expiry,
    check_holder_name,
    check_routing_number,
)

# Test cards (Stripe's test numbers). Any other number that passes the Luhn check succeeds.
TEST_CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour.SUCCEEDS,
    "4000000000000002": CardBehaviour.DECLINED,
    "4000000000009995": CardBehaviour.INSUFFICIENT_FUNDS,
}
DECLINE_CODES = {
    CardBehaviour.DECLINED: "generic_decline",
    CardBehaviour.INSUFFICIENT_FUNDS: "insufficient_funds",
}

# Test bank accounts at the test routing number (as in Stripe's test mode): the R-code each
# debit is returned with; None settles. Any other account at a valid routing number settles.
TEST_ROUTING_NUMBER = "110000000"
TEST_BANK_ACCOUNTS: dict[str, str | None] = {
    "000123456789": None,
    "000222222227": "R01",
    "000111111113": "R02",
    "000111111116": "R03",
    "000333333335": "R29",
}
MICRO_DEPOSIT_AMOUNTS = (Decimal("0.32"), Decimal("0.45"))
# Wrong micro-deposit amounts allowed before the gateway locks the account (Stripe's limit;
# the portal's own, lower limit applies first).
MICRO_DEPOSIT_MAX_ATTEMPTS = 10
ACH_SETTLEMENT_BUSINESS_DAYS = 3
ACH_CURRENCY = "USD"

CARD_SETUP_LIFETIME = timedelta(hours=1)
# Where the sandbox serves its card-entry page (SPEC §8: under /sandbox/gateway/…).
CARD_SETUP_PAGE = "/sandbox/gateway/cards/{reference}"


def utc_today() -> date:
    return datetime.now(UTC).date()


def _new_reference(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class SandboxGateway(PaymentGateway):
    name = "sandbox"

    def __init__(
        self, encryptor: FieldEncryptor, calendar_today: Callable[[], date] = utc_today
    ) -> None:
        self._encryptor = encryptor
        self._calendar_today = calendar_today

    # Clock -----------------------------------------------------------------------------------

    def _clock(self, *, lock: bool = False) -> SandboxClock:
        query = select(SandboxClock).where(SandboxClock.id == 1)
        if lock:
            query = query.with_for_update()
        clock = db.session.scalars(query).first()
        if clock is not None:
            return clock
        try:
            with db.session.begin_nested():
                db.session.add(SandboxClock(id=1, today=self._calendar_today()))
        except IntegrityError:
            pass  # another transaction made it first
        return db.session.scalars(query).one()

    def today(self) -> date:
        """The sandbox clock's date; it never runs behind the calendar."""
        return max(self._clock().today, self._calendar_today())

    def advance(self, business_days: int) -> list[GatewayEvent]:
        """Move the clock forward by business days (0: stay, and settle what is due by now)
        and settle or return every ACH charge due by the new date. The events made are
        returned, and also wait in `pending_events` until acknowledged. Raises ValueError for
        a negative count."""
        clock = self._clock(lock=True)
        start = max(clock.today, self._calendar_today())
        return self._move_clock(clock, add_business_days(start, business_days))

    def set_clock(self, day: date) -> list[GatewayEvent]:
        """Move the clock to `day` (forward only, as time goes), settling what falls due."""
        clock = self._clock(lock=True)
        if day < max(clock.today, self._calendar_today()):
            raise ValueError("the sandbox clock only moves forward")
        return self._move_clock(clock, day)

    def _move_clock(self, clock: SandboxClock, day: date) -> list[GatewayEvent]:
        clock.today = day
        due = db.session.scalars(
            select(SandboxCharge)
            .where(SandboxCharge.status == ChargeStatus.PROCESSING, SandboxCharge.settles_on <= day)
            .order_by(SandboxCharge.settles_on, SandboxCharge.id)
            .with_for_update()
        ).all()
        events = [self._settle(charge) for charge in due]
        db.session.flush()
        return [self._event_result(event) for event in events]

    def _settle(self, charge: SandboxCharge) -> SandboxEvent:
        """The receiving bank's answer to a debit: it settles, or the test account's R-code."""
        account = self._bank_account_row(charge.method_reference)
        return_code = None
        if account.routing_number == TEST_ROUTING_NUMBER:
            number = self._encryptor.decrypt(account.account_number_encrypted)
            return_code = TEST_BANK_ACCOUNTS.get(number)
        if return_code is None:
            charge.status = ChargeStatus.SUCCEEDED
            event_type = EventType.CHARGE_SETTLED
        else:
            charge.status = ChargeStatus.RETURNED
            charge.return_code = return_code
            event_type = EventType.CHARGE_RETURNED
        event = SandboxEvent(
            reference=_new_reference("evt"),
            type=event_type,
            charge=charge,
            occurred_on=charge.settles_on,
            return_code=return_code,
        )
        db.session.add(event)
        return event

    # Cards -----------------------------------------------------------------------------------

    def begin_card_setup(self, *, customer: str, return_url: str) -> CardSetup:
        setup = SandboxCardSetup(
            reference=_new_reference("cs"),
            customer=customer,
            return_url=return_url,
            expires_at=utcnow() + CARD_SETUP_LIFETIME,
        )
        db.session.add(setup)
        db.session.flush()
        return CardSetup(
            reference=setup.reference,
            redirect_url=CARD_SETUP_PAGE.format(reference=setup.reference),
            expires_at=setup.expires_at,
        )

    def _open_card_setup(self, reference: str) -> SandboxCardSetup:
        setup = db.session.scalars(
            select(SandboxCardSetup).where(SandboxCardSetup.reference == reference)
        ).first()
        if setup is None:
            raise CardSetupError("This card form is not known. Start adding the card again.")
        if setup.card is not None:
            raise CardSetupError("A card was entered in this form already.")
        if setup.expires_at <= utcnow():
            raise CardSetupError("This card form has expired. Start adding the card again.")
        return setup

    def card_setup_return_url(self, reference: str) -> str:
        """Where the hosted page sends the user back to. Raises CardSetupError when the session
        is unknown, expired or used."""
        return self._open_card_setup(reference).return_url

    def tokenize_card(
        self, setup_reference: str, *, number: str, exp_month: int, exp_year: int, cvc: str
    ) -> CardToken:
        """What the hosted card page calls: check the card and keep a token for it (brand,
        last 4, expiry; never the number or the CVC). Raises CardSetupError, or
        InvalidPaymentDetails naming `number`, `expiry` or `cvc`."""
        setup = self._open_card_setup(setup_reference)
        digits = check_card_number(number)
        exp_month, exp_year = check_expiry(exp_month, exp_year, self.today())
        brand = card_brand(digits)
        check_cvc(cvc, brand)
        card = SandboxCard(
            token=_new_reference("card"),
            customer=setup.customer,
            brand=brand,
            last4=digits[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
            behaviour=TEST_CARDS.get(digits, CardBehaviour.SUCCEEDS),
        )
        setup.card = card
        db.session.add(card)
        db.session.flush()
        return self._card_token(card)

    def finish_card_setup(self, reference: str) -> CardToken:
        setup = db.session.scalars(
            select(SandboxCardSetup).where(SandboxCardSetup.reference == reference)
        ).first()
        if setup is None:
            raise CardSetupError("This card form is not known. Start adding the card again.")
        if setup.card is None:
            if setup.expires_at <= utcnow():
                raise CardSetupError("This card form has expired. Start adding the card again.")
            raise CardSetupError("No card was entered in this form yet.")
        return self._card_token(setup.card)

    def get_card(self, token: str) -> CardToken:
        return self._card_token(self._card_row(token))

    def _card_row(self, token: str) -> SandboxCard:
        card = db.session.scalars(select(SandboxCard).where(SandboxCard.token == token)).first()
        if card is None:
            raise MethodNotFound("This card is not known to the payment gateway.")
        return card

    @staticmethod
    def _card_token(card: SandboxCard) -> CardToken:
        return CardToken(
            token=card.token,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )

    # Bank accounts ---------------------------------------------------------------------------

    def create_bank_account(
        self,
        *,
        customer: str,
        holder_name: str,
        routing_number: str,
        account_number: str,
        account_type: BankAccountType | str,
    ) -> BankAccount:
        holder_name = check_holder_name(holder_name)
        routing_number = check_routing_number(routing_number)
        account_number = check_account_number(account_number)
        account_type = check_account_type(account_type)
        account = SandboxBankAccount(
            reference=_new_reference("ba"),
            customer=customer,
            holder_name=holder_name,
            routing_number=routing_number,
            last4=account_number[-4:],
            account_number_encrypted=self._encryptor.encrypt(account_number),
            account_type=account_type,
            status=BankAccountStatus.NEW,
            failed_attempts=0,
        )
        db.session.add(account)
        db.session.flush()
        return self._bank_account(account)

    def start_micro_deposits(self, reference: str) -> BankAccount:
        account = self._bank_account_row(reference, lock=True)
        if account.status == BankAccountStatus.VERIFIED:
            raise VerificationError("This bank account is verified already.")
        if account.status == BankAccountStatus.VERIFICATION_FAILED:
            raise VerificationError(
                "This bank account is locked after too many wrong amounts. Add it again."
            )
        if account.status == BankAccountStatus.NEW:
            account.micro_deposit_1, account.micro_deposit_2 = MICRO_DEPOSIT_AMOUNTS
            account.micro_deposits_sent_on = self.today()
            account.status = BankAccountStatus.PENDING_VERIFICATION
            db.session.flush()
        return self._bank_account(account)

    def verify_micro_deposits(
        self, reference: str, amounts: tuple[Decimal, Decimal]
    ) -> MicroDepositCheck:
        account = self._bank_account_row(reference, lock=True)
        if account.status == BankAccountStatus.VERIFIED:
            return MicroDepositCheck(matched=True, account=self._bank_account(account))
        if account.status == BankAccountStatus.NEW:
            raise VerificationError("The micro-deposits have not been sent to this account yet.")
        if account.status == BankAccountStatus.VERIFICATION_FAILED:
            raise VerificationError(
                "This bank account is locked after too many wrong amounts. Add it again."
            )
        expected = sorted([account.micro_deposit_1, account.micro_deposit_2])
        matched = sorted(Decimal(amount) for amount in amounts) == expected
        if matched:
            account.status = BankAccountStatus.VERIFIED
            account.verified_at = utcnow()
        else:
            account.failed_attempts += 1
            if account.failed_attempts >= MICRO_DEPOSIT_MAX_ATTEMPTS:
                account.status = BankAccountStatus.VERIFICATION_FAILED
        db.session.flush()
        return MicroDepositCheck(matched=matched, account=self._bank_account(account))

    def get_bank_account(self, reference: str) -> BankAccount:
        return self._bank_account(self._bank_account_row(reference))

    def _bank_account_row(self, reference: str, *, lock: bool = False) -> SandboxBankAccount:
        query = select(SandboxBankAccount).where(SandboxBankAccount.reference == reference)
        if lock:
            query = query.with_for_update()
        account = db.session.scalars(query).first()
        if account is None:
            raise MethodNotFound("This bank account is not known to the payment gateway.")
        return account

    @staticmethod
    def _bank_account(account: SandboxBankAccount) -> BankAccount:
        return BankAccount(
            reference=account.reference,
            holder_name=account.holder_name,
            routing_number=account.routing_number,
            last4=account.last4,
            account_type=account.account_type,
            status=account.status,
            verification_attempts_left=max(MICRO_DEPOSIT_MAX_ATTEMPTS - account.failed_attempts, 0),
            micro_deposits_sent_on=account.micro_deposits_sent_on,
        )

    def rotate_encryption(self) -> int:
        """Re-encrypt every stored account number with the newest key (after a new key was put
        in front of PAYMENTS_ENCRYPTION_KEYS); the number of accounts. Raises DecryptionError
        when a value cannot be read with any configured key."""
        accounts = db.session.scalars(select(SandboxBankAccount).with_for_update()).all()
        for account in accounts:
            account.account_number_encrypted = self._encryptor.rotate(
                account.account_number_encrypted
            )
        db.session.flush()
        return len(accounts)

    # Both kinds ------------------------------------------------------------------------------

    def _method_row(self, reference: str) -> SandboxCard | SandboxBankAccount:
        if reference.startswith("card_"):
            return self._card_row(reference)
        if reference.startswith("ba_"):
            return self._bank_account_row(reference)
        raise MethodNotFound("This payment method is not known to the payment gateway.")

    def remove_method(self, reference: str) -> None:
        method = self._method_row(reference)
        if method.removed_at is None:
            method.removed_at = utcnow()
            db.session.flush()

    # Charges ---------------------------------------------------------------------------------

    def simulate_timeout(self, *, reached_gateway: bool = True) -> None:
        """Make the next charge answer `unknown`, as when the connection times out. With
        `reached_gateway` the charge is made (only the answer is lost); without, it is not."""
        kind = (
            FaultKind.TIMEOUT_AFTER_CHARGE if reached_gateway else FaultKind.TIMEOUT_BEFORE_CHARGE
        )
        db.session.add(SandboxFault(kind=kind))
        db.session.flush()

    def _take_fault(self) -> FaultKind | None:
        fault = db.session.scalars(
            select(SandboxFault)
            .order_by(SandboxFault.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if fault is None:
            return None
        db.session.delete(fault)
        db.session.flush()
        return fault.kind

    def charge(
        self,
        method_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        *,
        description: str = "",
    ) -> ChargeResult:
        amount = check_charge(amount, currency, idempotency_key)
        request = (method_reference, amount, currency)

        existing = self._charge_by_key(idempotency_key)
        if existing is not None:
            return self._replay(existing, request)

        fault = self._take_fault()
        if fault == FaultKind.TIMEOUT_BEFORE_CHARGE:
            return self._unknown(request, idempotency_key)

        charge = self._new_charge(method_reference, amount, currency, description)
        charge.idempotency_key = idempotency_key
        try:
            with db.session.begin_nested():
                db.session.add(charge)
        except IntegrityError:
            # The same key charged at the same moment by another request: answer that charge.
            existing = self._charge_by_key(idempotency_key)
            if existing is None:
                raise
            return self._replay(existing, request)

        if fault == FaultKind.TIMEOUT_AFTER_CHARGE:
            return self._unknown(request, idempotency_key)
        return self._charge_result(charge)

    def _new_charge(
        self, method_reference: str, amount: Decimal, currency: str, description: str
    ) -> SandboxCharge:
        """A charge as the method's bank answers it (not added to the session yet). Raises
        MethodNotFound, MethodNotUsable, InvalidChargeRequest."""
        method = self._method_row(method_reference)
        if method.removed_at is not None:
            raise MethodNotUsable("This payment method was removed.")
        today = self.today()
        charge = SandboxCharge(
            reference=_new_reference("ch"),
            method_reference=method_reference,
            amount=amount,
            currency=currency,
            description=description[:200],
            created_on=today,
        )
        if isinstance(method, SandboxCard):
            charge.method_kind = MethodKind.CARD
            if self._card_token(method).is_expired_on(today):
                charge.status = ChargeStatus.FAILED
                charge.decline_code = "expired_card"
            elif method.behaviour in DECLINE_CODES:
                charge.status = ChargeStatus.FAILED
                charge.decline_code = DECLINE_CODES[method.behaviour]
            else:
                charge.status = ChargeStatus.SUCCEEDED
            return charge
        if method.status != BankAccountStatus.VERIFIED:
            raise MethodNotUsable("Verify this bank account before paying with it.")
        if currency != ACH_CURRENCY:
            raise InvalidChargeRequest("Bank account (ACH) payments are in US dollars only.")
        charge.method_kind = MethodKind.ACH
        charge.status = ChargeStatus.PROCESSING
        charge.settles_on = add_business_days(today, ACH_SETTLEMENT_BUSINESS_DAYS)
        return charge

    def _charge_by_key(self, idempotency_key: str) -> SandboxCharge | None:
        return db.session.scalars(
            select(SandboxCharge).where(SandboxCharge.idempotency_key == idempotency_key)
        ).first()

    def _replay(self, charge: SandboxCharge, request: tuple[str, Decimal, str]) -> ChargeResult:
        if (charge.method_reference, charge.amount, charge.currency) != request:
            raise IdempotencyConflict(
                "This payment was already made with other details. Start the payment again."
            )
        return self._charge_result(charge)

    @staticmethod
    def _unknown(request: tuple[str, Decimal, str], idempotency_key: str) -> ChargeResult:
        method_reference, amount, currency = request
        return ChargeResult(
            status=ChargeStatus.UNKNOWN,
            idempotency_key=idempotency_key,
            method_reference=method_reference,
            amount=amount,
            currency=currency,
        )

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        charge = self._charge_by_key(idempotency_key)
        return None if charge is None else self._charge_result(charge)

    def get_charge(self, reference: str) -> ChargeResult:
        charge = db.session.scalars(
            select(SandboxCharge).where(SandboxCharge.reference == reference)
        ).first()
        if charge is None:
            raise ChargeNotFound("This charge is not known to the payment gateway.")
        return self._charge_result(charge)

    @staticmethod
    def _charge_result(charge: SandboxCharge) -> ChargeResult:
        failure_reason = None
        if charge.decline_code is not None:
            failure_reason = describe_decline(charge.decline_code)
        elif charge.return_code is not None:
            failure_reason = describe_return(charge.return_code).explanation
        return ChargeResult(
            status=charge.status,
            idempotency_key=charge.idempotency_key,
            method_reference=charge.method_reference,
            amount=charge.amount,
            currency=charge.currency,
            reference=charge.reference,
            decline_code=charge.decline_code,
            failure_reason=failure_reason,
            return_code=charge.return_code,
            created_on=charge.created_on,
            settles_on=charge.settles_on,
        )

    # Events ----------------------------------------------------------------------------------

    def pending_events(self, limit: int = 100) -> list[GatewayEvent]:
        events = db.session.scalars(
            select(SandboxEvent)
            .where(SandboxEvent.acknowledged_at.is_(None))
            .order_by(SandboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .options(selectinload(SandboxEvent.charge))
        ).all()
        return [self._event_result(event) for event in events]

    def acknowledge_event(self, reference: str) -> None:
        event = db.session.scalars(
            select(SandboxEvent).where(SandboxEvent.reference == reference)
        ).first()
        if event is None:
            raise EventNotFound("This event is not known to the payment gateway.")
        if event.acknowledged_at is None:
            event.acknowledged_at = utcnow()
            db.session.flush()

    @staticmethod
    def _event_result(event: SandboxEvent) -> GatewayEvent:
        charge = event.charge
        return GatewayEvent(
            reference=event.reference,
            type=event.type,
            charge_reference=charge.reference,
            idempotency_key=charge.idempotency_key,
            method_reference=charge.method_reference,
            amount=charge.amount,
            currency=charge.currency,
            occurred_on=event.occurred_on,
            return_code=event.return_code,
        )
