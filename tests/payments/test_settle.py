"""`flask payments settle` (SPEC §8) on both databases: ACH payments settle after 3 business
days on the sandbox clock (weekends skipped) or come back with the test account's R-code, the
invoices reopen, closing returns turn the bank account off, payments the gateway did not answer
for are reconciled without charging again, and unverified bank accounts expire."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.billing.statement import build_statement
from app.credit.services import credit_balance
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger.models import EntryKind, LedgerEntry
from app.payments.gateways.base import EventType
from app.payments.gateways.sandbox_models import SandboxCharge, SandboxEvent
from app.payments.models import MethodStatus, Payment, PaymentStatus
from app.payments.services import (
    PaymentStateError,
    confirm_unknown_payment,
    create_payment,
    fail_payment,
    processing_invoice_ids,
    resume_unknown_payment,
)
from app.payments.settlement import (
    EventResult,
    handle_gateway_event,
    process_gateway_events,
    reconcile_unknown_payment,
)
from app.reconcile import check_all
from tests.payments.gateway_factory import (
    R01,
    R02,
    R03,
    R29,
    SETTLES,
    Calendar,
    bank_account,
    card,
    pay,
    sandbox_on,
)

FRIDAY = date(2026, 11, 20)
TUESDAY, WEDNESDAY = date(2026, 11, 24), date(2026, 11, 25)


@pytest.fixture
def calendar() -> Calendar:
    return Calendar(FRIDAY)


@pytest.fixture
def gateway(app, monkeypatch, calendar):
    return sandbox_on(app, monkeypatch, calendar)


@pytest.fixture
def shop(billing, factory, gateway):
    """A US account with two open invoices (October 12.50, November 25.00) and its admin."""
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))  # 12.50 a month
    account.auto_apply_credit = False
    db.session.commit()
    run_billing(Period.parse("2026-10"))
    admin = factory.user(Role.ADMIN, account=account)
    october = db.session.scalar(select(Invoice).where(Invoice.account_id == account.id))

    class Shop:
        pass

    Shop.account, Shop.admin, Shop.invoice = account, admin, october
    return Shop


def settle(app, *args: str):
    return app.test_cli_runner().invoke(args=["payments", "settle", *args])


def events_of(kind: str) -> list[dict]:
    return [event.payload for event in db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == kind).order_by(OutboxEvent.id))]


def charges() -> int:
    return db.session.scalar(select(func.count()).select_from(SandboxCharge))


def test_ach_settles_after_three_business_days_not_before_weekend_skipped(app, shop):
    method = bank_account(shop.account, shop.admin)
    payment = pay(method, [(shop.invoice, Decimal("12.50"))])  # on Friday
    db.session.commit()
    assert payment.status == PaymentStatus.PROCESSING
    assert processing_invoice_ids(shop.account.id) == {shop.invoice.id}

    result = settle(app, "--days", "0")
    assert result.exit_code == 0, result.output
    assert "0 settled, 0 returned, 0 unknown resolved, 0 bank accounts expired" in result.output
    result = settle(app, "--days", "2")  # Saturday and Sunday do not count: Tuesday
    assert "The sandbox clock is at Nov 24, 2026." in result.output
    assert "0 settled" in result.output
    assert payment.status == PaymentStatus.PROCESSING

    result = settle(app, "--days", "1")  # Wednesday, the third business day
    assert result.exit_code == 0, result.output
    assert "The sandbox clock is at Nov 25, 2026." in result.output
    assert ("1 settled, 0 returned, 0 unknown resolved, 0 bank accounts expired"
            in result.output)
    assert (payment.status, payment.settled_on) == (PaymentStatus.SUCCEEDED, WEDNESDAY)
    assert shop.invoice.status == InvoiceStatus.PAID
    assert processing_invoice_ids(shop.account.id) == set()
    assert [e["reference"] for e in events_of("payment.succeeded")] == [payment.reference]
    settlement = db.session.scalar(select(LedgerEntry).where(
        LedgerEntry.kind == EntryKind.SETTLEMENT))
    assert (settlement.payment_id, settlement.effective_on) == (payment.id, WEDNESDAY)
    assert settle(app, "--days", "3").output.endswith(
        "0 settled, 0 returned, 0 unknown resolved, 0 bank accounts expired\n")
    assert check_all() == []


def test_the_default_is_three_business_days(app, shop):
    payment = pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("5.00"))])
    db.session.commit()
    result = settle(app)
    assert "The sandbox clock is at Nov 25, 2026." in result.output
    assert payment.status == PaymentStatus.SUCCEEDED


# Each test account of SPEC §8: what the payment, the invoice and the bank account become.
@pytest.mark.parametrize(("number", "status", "code", "words", "method_status", "summary"), [
    (SETTLES, PaymentStatus.SUCCEEDED, None, None, MethodStatus.VERIFIED,
     "1 settled, 0 returned, 0 unknown resolved, 0 bank accounts expired"),
    (R01, PaymentStatus.RETURNED, "R01", "did not have enough money", MethodStatus.VERIFIED,
     "0 settled, 1 returned (R01 Insufficient funds), 0 unknown resolved, "
     "0 bank accounts expired"),
    (R02, PaymentStatus.RETURNED, "R02", "the account is closed", MethodStatus.DISABLED,
     "0 settled, 1 returned (R02 Account closed), 0 unknown resolved, "
     "0 bank accounts expired, 1 bank account turned off"),
    (R03, PaymentStatus.RETURNED, "R03", "could not find an account", MethodStatus.DISABLED,
     "0 settled, 1 returned (R03 No account found), 0 unknown resolved, "
     "0 bank accounts expired, 1 bank account turned off"),
    (R29, PaymentStatus.RETURNED, "R29", "told it not to accept debits from us",
     MethodStatus.DISABLED,
     "0 settled, 1 returned (R29 Not authorised by your company), 0 unknown resolved, "
     "0 bank accounts expired, 1 bank account turned off"),
])
def test_each_sandbox_account_gives_its_outcome(app, shop, number, status, code, words,
                                                method_status, summary):
    method = bank_account(shop.account, shop.admin, number)
    payment = pay(method, [(shop.invoice, Decimal("12.50"))])
    db.session.commit()
    result = settle(app)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(summary + "\n")
    assert (payment.status, payment.return_code) == (status, code)
    assert method.status == method_status
    returned = events_of("payment.returned")
    disabled = events_of("payment_method.disabled")
    if code is None:
        assert shop.invoice.status == InvoiceStatus.PAID and returned == []
    else:
        # The invoice reopens; the reseller is told why in plain words.
        assert (shop.invoice.status, shop.invoice.amount_paid) == (InvoiceStatus.OPEN, 0)
        assert shop.invoice.balance_due == Decimal("12.50")
        assert words in payment.failure_reason
        assert payment.returned_on == WEDNESDAY
        assert [(e["reference"], e["return_code"], e["status"]) for e in returned] == [
            (payment.reference, code, "returned")]
        assert events_of("payment.succeeded") == []
    if method_status == MethodStatus.DISABLED:
        assert words in method.disabled_reason
        assert f"Payment {payment.reference}, return code {code}." in method.disabled_reason
        assert not method.is_default
        assert [(e["method_id"], e["status"]) for e in disabled] == [(method.id, "disabled")]
        assert disabled[0]["reason"] == method.disabled_reason
    else:
        assert disabled == [] and method.disabled_reason is None
    assert check_all() == []


def test_two_returns_of_one_closed_account_turn_it_off_once(app, shop):
    run_billing(Period.parse("2026-11"))
    november = db.session.scalar(select(Invoice).where(Invoice.id != shop.invoice.id))
    method = bank_account(shop.account, shop.admin, R02)
    first = pay(method, [(shop.invoice, Decimal("12.50"))])
    second = pay(method, [(november, Decimal("12.50"))])
    db.session.commit()
    result = settle(app)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "0 settled, 2 returned (R02 Account closed), 0 unknown resolved, "
        "0 bank accounts expired, 1 bank account turned off\n")
    assert {first.status, second.status} == {PaymentStatus.RETURNED}
    assert [e["method_id"] for e in events_of("payment_method.disabled")] == [method.id]
    assert f"Payment {first.reference}, return code R02." in method.disabled_reason
    assert check_all() == []


def test_a_return_reopens_every_invoice_and_takes_back_the_overpayment(app, shop, billing):
    run_billing(Period.parse("2026-11"))
    november = db.session.scalar(select(Invoice).where(Invoice.id != shop.invoice.id))
    method = bank_account(shop.account, shop.admin, R01)
    # 12.50 on October, 5.00 of November's 12.50, and 2.50 more that becomes credit.
    payment = pay(method, [(shop.invoice, Decimal("12.50")), (november, Decimal("5.00"))],
                  amount=Decimal("20.00"))
    db.session.commit()
    assert credit_balance(shop.account) == Decimal("2.50")
    assert november.status == InvoiceStatus.PARTIALLY_PAID

    assert settle(app).exit_code == 0
    assert payment.status == PaymentStatus.RETURNED
    assert [(i.status, i.amount_paid) for i in (shop.invoice, november)] == [
        (InvoiceStatus.OPEN, 0), (InvoiceStatus.OPEN, 0)]
    assert credit_balance(shop.account) == 0
    assert check_all() == []


def test_the_statement_shows_the_return_as_its_own_row(app, shop):
    payment = pay(bank_account(shop.account, shop.admin, R01), [(shop.invoice, Decimal("12.50"))])
    db.session.commit()
    settle(app)
    statement = build_statement(shop.account, date(2026, 10, 1), date(2026, 11, 30))
    assert [(r.label, r.reference, r.debit, r.credit, r.balance) for r in statement.rows][1:] == [
        ("Payment", payment.reference, 0, Decimal("12.50"), Decimal("0.00")),
        ("Payment returned (R01 Insufficient funds)", payment.reference, Decimal("12.50"), 0,
         Decimal("12.50")),
    ]


# --- Payments the gateway did not answer for -------------------------------------------------


def test_an_unknown_ach_payment_the_gateway_made_goes_on_processing_then_settles(app, shop):
    payment = pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))],
                  timeout=True)
    db.session.commit()
    assert (payment.status, payment.gateway_reference) == (PaymentStatus.UNKNOWN, None)
    assert processing_invoice_ids(shop.account.id) == {shop.invoice.id}

    result = settle(app, "--days", "0")
    assert result.output.endswith(
        "0 settled, 0 returned, 1 unknown resolved, 0 bank accounts expired\n")
    assert payment.status == PaymentStatus.PROCESSING
    charge = db.session.scalar(select(SandboxCharge))
    assert payment.gateway_reference == charge.reference
    assert settle(app).output.endswith(
        "1 settled, 0 returned, 0 unknown resolved, 0 bank accounts expired\n")
    assert payment.status == PaymentStatus.SUCCEEDED and charges() == 1
    assert check_all() == []


def test_an_unknown_payment_the_gateway_never_made_fails_and_is_not_charged(app, shop):
    payment = pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))],
                  timeout=False)
    db.session.commit()
    assert charges() == 0
    result = settle(app, "--days", "0")
    assert result.output.endswith(
        "0 settled, 0 returned, 1 unknown resolved, 0 bank accounts expired\n")
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == ("The payment gateway did not take the payment; you were "
                                      "not charged.")
    assert (shop.invoice.status, shop.invoice.amount_paid) == (InvoiceStatus.OPEN, 0)
    assert [e["reason"] for e in events_of("payment.failed")] == [payment.failure_reason]
    assert charges() == 0  # never charged, also not by the reconciliation
    assert check_all() == []


def test_an_unknown_card_payment_the_gateway_made_succeeded(app, shop):
    payment = pay(card(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))],
                  timeout=True)
    db.session.commit()
    assert settle(app, "--days", "0").output.endswith("1 unknown resolved, "
                                                      "0 bank accounts expired\n")
    assert payment.status == PaymentStatus.SUCCEEDED and payment.settled_on is None
    assert [e["reference"] for e in events_of("payment.succeeded")] == [payment.reference]
    assert shop.invoice.status == InvoiceStatus.PAID and charges() == 1
    assert check_all() == []


def test_an_unknown_declined_card_payment_fails_with_the_gateways_reason(app, shop):
    payment = pay(card(shop.account, shop.admin, "4000000000009995"),
                  [(shop.invoice, Decimal("12.50"))], timeout=True)
    db.session.commit()
    settle(app, "--days", "0")
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason.startswith("The card was declined for insufficient funds.")
    assert shop.invoice.status == InvoiceStatus.OPEN and charges() == 1
    assert check_all() == []


def test_an_unknown_payment_whose_debit_came_back_is_returned_by_its_event(app, shop):
    method = bank_account(shop.account, shop.admin, R02)
    payment = pay(method, [(shop.invoice, Decimal("12.50"))], timeout=True)
    db.session.commit()
    result = settle(app)  # the clock moves first: the event comes before the reconciliation
    assert result.output.endswith(
        "0 settled, 1 returned (R02 Account closed), 0 unknown resolved, "
        "0 bank accounts expired, 1 bank account turned off\n")
    assert (payment.status, payment.return_code) == (PaymentStatus.RETURNED, "R02")
    assert method.status == MethodStatus.DISABLED and charges() == 1
    assert check_all() == []


def test_reconciling_first_leaves_the_event_nothing_to_do(app, shop, gateway):
    method = bank_account(shop.account, shop.admin, R29)
    payment = pay(method, [(shop.invoice, Decimal("12.50"))], timeout=True)
    gateway.advance(3)
    outcome = reconcile_unknown_payment(payment)
    assert (outcome.status, outcome.return_code.code, outcome.method_disabled) == (
        PaymentStatus.RETURNED, "R29", True)
    assert payment.returned_on == WEDNESDAY
    db.session.commit()
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    (outcome,) = process_gateway_events()
    assert outcome.result == EventResult.UNCHANGED
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
    assert len(events_of("payment.returned")) == 1
    assert len(events_of("payment_method.disabled")) == 1
    assert charges() == 1


# --- Events: idempotent, each handled once ----------------------------------------------------


def test_a_redelivered_event_changes_nothing(app, shop, gateway):
    payment = pay(bank_account(shop.account, shop.admin, R01),
                  [(shop.invoice, Decimal("12.50"))])
    (event,) = gateway.advance(3)
    assert handle_gateway_event(event).result == EventResult.RETURNED
    db.session.commit()
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    outbox = db.session.scalar(select(func.count()).select_from(OutboxEvent))
    again = handle_gateway_event(event)
    assert (again.result, again.payment_reference) == (EventResult.UNCHANGED, payment.reference)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == outbox
    assert payment.status == PaymentStatus.RETURNED and check_all() == []


def test_a_settlement_of_a_payment_settled_already_changes_nothing(app, shop, gateway):
    payment = pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))])
    (event,) = gateway.advance(3)
    assert handle_gateway_event(event).result == EventResult.SETTLED
    assert handle_gateway_event(event).result == EventResult.UNCHANGED
    assert len(events_of("payment.succeeded")) == 1
    assert payment.status == PaymentStatus.SUCCEEDED


def test_an_event_without_a_payment_is_acknowledged_and_named(app, shop, gateway):
    method = bank_account(shop.account, shop.admin)
    charge = gateway.charge(method.gateway_reference, Decimal("9.00"), "USD", "lost-payment")
    db.session.commit()
    result = settle(app)
    assert result.exit_code == 1
    assert (f"No payment in the portal has the gateway's charge {charge.reference} "
            "(charge.settled, 9.00 USD); look it up at the gateway.") in result.stderr
    assert "0 settled, 0 returned" in result.stdout
    assert db.session.scalar(select(SandboxEvent.acknowledged_at)) is not None


def test_a_settlement_of_a_failed_payment_is_a_conflict_for_a_person(app, shop, gateway):
    payment = pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))])
    db.session.commit()
    fail_payment(payment, "Recorded as failed by mistake", on=FRIDAY)
    db.session.commit()
    result = settle(app)
    assert result.exit_code == 1
    assert (f"payment {payment.reference} is failed; check it at the gateway."
            in result.stderr)
    assert payment.status == PaymentStatus.FAILED and check_all() == []


@pytest.mark.postgresql
def test_two_consumers_at_once_never_handle_one_event_twice(app, billing, factory, gateway):
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))
    admin = factory.user(Role.ADMIN, account=account)
    method = bank_account(account, admin)
    for period in ("2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08"):
        run_billing(Period.parse(period))
    payments = [pay(method, [(invoice, Decimal("12.50"))]) for invoice in
                db.session.scalars(select(Invoice).order_by(Invoice.id))]
    gateway.advance(3)
    db.session.commit()
    handled: list[list[str]] = [[], []]
    barrier, errors = threading.Barrier(2), []

    def consume(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for outcome in process_gateway_events():
                    db.session.commit()
                    handled[n].append(outcome.event.reference)
            except Exception as error:  # reported by the assertion below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    everything = handled[0] + handled[1]
    assert len(everything) == len(set(everything)) == len(payments) == 6
    db.session.expire_all()
    assert {p.status for p in db.session.scalars(select(Payment))} == {PaymentStatus.SUCCEEDED}
    settlements = db.session.scalars(select(LedgerEntry.payment_id).where(
        LedgerEntry.kind == EntryKind.SETTLEMENT)).all()
    assert sorted(settlements) == sorted(p.id for p in payments)
    assert len(events_of("payment.succeeded")) == 6
    assert check_all() == []


# --- The rest of a settlement run -------------------------------------------------------------


def test_unverified_bank_accounts_expire(app, shop, calendar):
    pending = bank_account(shop.account, shop.admin, verify=False)
    verified = bank_account(shop.account, shop.admin, R01)
    db.session.commit()
    assert pending.verification_expires_on == date(2026, 11, 30)  # Friday + 10 days
    result = settle(app, "--days", "6")  # Monday, November 30: its last day
    assert result.output.endswith("0 unknown resolved, 0 bank accounts expired\n")
    assert pending.status == MethodStatus.PENDING_VERIFICATION
    result = settle(app, "--days", "1")  # December 1
    assert result.output.endswith("0 unknown resolved, 1 bank account expired\n")
    assert (pending.status, verified.status) == (MethodStatus.EXPIRED, MethodStatus.VERIFIED)
    assert [e["method_id"] for e in events_of("payment_method.expired")] == [pending.id]


@pytest.mark.parametrize(("days", "message"), [
    ("-1", "give a number of business days from 0 to 260, not -1."),
    ("261", "give a number of business days from 0 to 260, not 261."),
    ("three", "'three' is not a valid integer."),
    ("1.5", "'1.5' is not a valid integer."),
])
def test_days_out_of_range_are_refused_clearly(app, gateway, days, message):
    result = settle(app, "--days", days)
    assert result.exit_code == 2
    assert "Invalid value for '--days'" in result.output and message in result.output
    assert gateway.today() == FRIDAY  # the clock did not move


class RealTimeGateway:
    """A gateway without a clock to move: everything of the sandbox but `advance`."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.name = "realtime"

    def __getattr__(self, name: str):
        if name in ("advance", "set_clock"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_a_gateway_without_a_clock_only_delivers_its_events(app, shop, gateway, monkeypatch):
    payment = pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))])
    gateway.advance(3)  # time passed at the real gateway
    db.session.commit()
    monkeypatch.setitem(app.extensions, "payment_gateway", RealTimeGateway(gateway))
    result = settle(app, "--days", "5")
    assert result.exit_code == 0, result.output
    assert "The realtime gateway keeps real time: processing its events only." in result.output
    assert "1 settled" in result.output
    assert payment.status == PaymentStatus.SUCCEEDED
    assert gateway.today() == WEDNESDAY


# PostgreSQL: pysqlite opens no transaction before a SAVEPOINT, so on SQLite the savepoint that
# wraps each event is the transaction, and releasing it commits.
@pytest.mark.postgresql
def test_each_event_is_acknowledged_in_the_transaction_that_applies_it(app, shop, gateway):
    pay(bank_account(shop.account, shop.admin), [(shop.invoice, Decimal("12.50"))])
    gateway.advance(3)
    db.session.commit()
    (outcome,) = list(process_gateway_events())
    db.session.rollback()  # the unit of work is not committed: neither is the acknowledgement
    assert db.session.scalar(select(SandboxEvent.acknowledged_at)) is None
    assert db.session.scalar(select(Payment.status)) == PaymentStatus.PROCESSING
    assert [e.type for e in gateway.pending_events()] == [EventType.CHARGE_SETTLED]
    assert outcome.result == EventResult.SETTLED


@pytest.mark.parametrize("status", [PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED,
                                    PaymentStatus.FAILED])
@pytest.mark.parametrize("transition", [confirm_unknown_payment, resume_unknown_payment])
def test_only_an_unknown_payment_is_confirmed_or_resumed(shop, status, transition):
    payment = create_payment(account_id=shop.account.id, currency="USD", method_label="Card",
                             allocations=[(shop.invoice, Decimal("1.00"))], received_on=FRIDAY,
                             status=status, failure_reason="Declined")
    target = "succeeded" if transition is confirm_unknown_payment else "processing"
    with pytest.raises(PaymentStateError) as refused:
        transition(payment)
    assert refused.value.message == (
        f"Payment {payment.reference} is {status.value}; it cannot become {target}.")
