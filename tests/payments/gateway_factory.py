"""Payment methods and payments made as the portal makes them: methods through the methods
services (bank accounts verified with the sandbox's micro-deposits), payments charged at the
gateway and recorded with `create_payment`, on a sandbox whose calendar the test moves."""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from app.accounts.models import Account
from app.billing.models import Invoice
from app.extensions import db
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.gateways.base import ChargeStatus
from app.payments.gateways.encryption import FieldEncryptor
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.models import Payment, PaymentMethod, PaymentStatus
from app.payments.services import create_payment

ROUTING = "110000000"
MICRO_DEPOSITS = (Decimal("0.32"), Decimal("0.45"))
# SPEC §8's test bank accounts.
SETTLES = "000123456789"
R01 = "000222222227"
R02 = "000111111113"
R03 = "000111111116"
R29 = "000333333335"
STATUS_OF_CHARGE = {
    ChargeStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChargeStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChargeStatus.FAILED: PaymentStatus.FAILED,
    ChargeStatus.UNKNOWN: PaymentStatus.UNKNOWN,
}


class Calendar:
    """The wall calendar the sandbox clock never runs behind; tests move it by hand."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


def sandbox_on(app, monkeypatch, calendar: Calendar) -> SandboxGateway:
    """The application's gateway replaced, for one test, by a sandbox on `calendar`."""
    gateway = SandboxGateway(FieldEncryptor.from_config(app.config), calendar_today=calendar)
    monkeypatch.setitem(app.extensions, "payment_gateway", gateway)
    return gateway


def bank_account(account, user, number: str = SETTLES, *, verify: bool = True
                 ) -> PaymentMethod:
    """A bank account added by `user` (an admin) and, unless told otherwise, verified."""
    today = get_gateway().today()
    method = methods.add_bank_account(
        account, holder_name="Test Reseller", routing_number=ROUTING, account_number=number,
        account_type="checking", payee="Distributor Inc",
        authorisation=methods.Authorisation(user, "203.0.113.9",
                                            datetime(2026, 11, 2, tzinfo=UTC)),
        today=today,
    )
    if verify:
        assert methods.verify_bank_account(method, MICRO_DEPOSITS, today=today)
    return method


def card(account, user, number: str = "4242424242424242") -> PaymentMethod:
    gateway = get_gateway()
    setup = gateway.begin_card_setup(customer=account.number, return_url="/back")
    gateway.tokenize_card(setup.reference, number=number, exp_month=12, exp_year=2040,
                          cvc="123")
    return methods.add_card(account, gateway.finish_card_setup(setup.reference), user=user)


def pay(method: PaymentMethod, allocations: Sequence[tuple[Invoice, Decimal]], *,
        amount: Decimal | None = None, timeout: bool | None = None) -> Payment:
    """Charge `method` at the gateway and record the payment as its answer says. `timeout`:
    the gateway does not answer (True: it made the charge; False: it did not)."""
    gateway = get_gateway()
    total = amount if amount is not None else sum(share for _, share in allocations)
    key = f"test-{uuid.uuid4().hex}"
    if timeout is not None:
        gateway.simulate_timeout(reached_gateway=timeout)
    result = gateway.charge(method.gateway_reference, total, method_currency(method), key)
    return create_payment(
        account_id=method.account_id, currency=method_currency(method),
        allocations=allocations, amount=total, method_label=method.label,
        received_on=gateway.today(), status=STATUS_OF_CHARGE[result.status],
        gateway_reference=result.reference, failure_reason=result.failure_reason,
        method_id=method.id, idempotency_key=key,
    )


def method_currency(method: PaymentMethod) -> str:
    return db.session.get(Account, method.account_id).currency
