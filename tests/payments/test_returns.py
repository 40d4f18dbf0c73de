"""R01 retries (SPEC §8): a payment returned for insufficient funds may be presented again at
most R01_MAX_RETRIES times, until R01_RETRY_WINDOW_DAYS have passed since its first return,
with a bank account that can still be charged, for what its invoices still owe. The rules as a
table, the service, the receipt's fragment, and the route for every role and a second tenant."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import render_template
from sqlalchemy import func, select

from app import create_app
from app.accounts.models import Role, User
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.errors import DomainError
from app.events.models import OutboxEvent
from app.extensions import db
from app.payments import methods
from app.payments.gateways.sandbox_models import SandboxCharge
from app.payments.models import Payment, PaymentStatus
from app.payments.settlement import (
    RetryRefused,
    process_gateway_events,
    reconcile_unknown_payments,
    retry_payment,
    retry_status,
)
from app.reconcile import check_all
from tests.conftest import IsolatedClient, make_config, sign_in
from tests.payments.gateway_factory import (
    R01,
    R02,
    SETTLES,
    Calendar,
    bank_account,
    card,
    pay,
    sandbox_on,
)

FRIDAY = date(2026, 11, 20)
RETURNED_ON = date(2026, 11, 25)  # the Wednesday its debit was due to settle
LAST_DAY = date(2027, 5, 23)  # RETURNED_ON + 179 days: the 180th day from the return


@pytest.fixture
def gateway(app, monkeypatch):
    return sandbox_on(app, monkeypatch, Calendar(FRIDAY))


class Shop:
    """An account with October's invoice (12.50), its users and an R01 bank account."""

    def __init__(self, billing, factory, gateway, number=R01) -> None:
        self.gateway = gateway
        self.account = billing.account(subscriptions=1, start=date(2026, 1, 1))
        self.account.auto_apply_credit = False
        db.session.commit()
        run_billing(Period.parse("2026-10"))
        self.invoice = db.session.scalar(select(Invoice).where(
            Invoice.account_id == self.account.id))
        self.users = {role: factory.user(role, account=self.account)
                      for role in (Role.ADMIN, Role.BILLING, Role.VIEWER)}
        self.method = bank_account(self.account, self.users[Role.ADMIN], number)
        db.session.commit()

    def settle(self, days: int = 3) -> None:
        self.gateway.advance(days)
        for _ in process_gateway_events():
            db.session.commit()

    def returned(self, share: str = "12.50") -> Payment:
        """A payment of the invoice, returned R01 on RETURNED_ON."""
        payment = pay(self.method, [(self.invoice, Decimal(share))])
        self.settle()
        assert (payment.status, payment.return_code) == (PaymentStatus.RETURNED, "R01")
        return payment

    def retry(self, payment: Payment, today: date | None = None) -> Payment:
        retry = retry_payment(payment, user=self.users[Role.BILLING],
                              today=today or self.gateway.today())
        db.session.commit()
        return retry


@pytest.fixture
def shop(billing, factory, gateway) -> Shop:
    return Shop(billing, factory, gateway)


def charges() -> int:
    return db.session.scalar(select(func.count()).select_from(SandboxCharge))


def presented_again_twice(shop: Shop) -> Payment:
    """The first payment and two retries, each returned R01: the second retry's payment."""
    first = shop.returned()
    second = shop.retry(first)
    shop.settle()
    third = shop.retry(second)
    shop.settle()
    assert [p.status for p in (first, second, third)] == [PaymentStatus.RETURNED] * 3
    return third


ALLOWED_FIRST = (
    "Your bank returned this payment for insufficient funds. Once the money is in the account, "
    "present it again: ACH •••• 2227 is debited $12.50 for {invoice}. This would be retry 1 of "
    "2; the last day to retry is May 23, 2027."
)
ANOTHER_METHOD = " Pay the invoices with another method."


# --- The rules, as a table ------------------------------------------------------------------

def test_a_fresh_r01_return_may_be_retried(shop):
    payment = shop.returned()
    assert retry_status(payment, RETURNED_ON) == (
        True, ALLOWED_FIRST.format(invoice=shop.invoice.number))


@pytest.mark.parametrize(("days", "allowed"), [
    (0, True), (179, True),  # the day of the return is the first of the 180
    (180, False), (181, False), (400, False),
])
def test_the_window_is_180_days_from_the_first_return(shop, days, allowed):
    payment = shop.returned()
    today = RETURNED_ON + timedelta(days=days)
    status = retry_status(payment, today)
    assert status.allowed is allowed
    if not allowed:
        assert status.reason == (
            "The last day to present this payment again was May 23, 2027: a payment can be "
            "presented again only until 180 days have passed since your bank first returned "
            "it." + ANOTHER_METHOD)
        with pytest.raises(RetryRefused, match="The last day to present this payment again"):
            shop.retry(payment, today)


def test_the_window_counts_from_the_first_return_not_the_retrys(shop):
    first = shop.returned()
    retry = shop.retry(first)
    shop.settle()
    assert retry.returned_on == date(2026, 11, 30)  # Wednesday + 3 business days
    assert retry_status(retry, LAST_DAY).allowed
    assert not retry_status(retry, LAST_DAY + timedelta(days=1)).allowed


def test_a_third_retry_is_refused(shop):
    third = presented_again_twice(shop)
    assert retry_status(third, shop.gateway.today()) == (False, (
        "This payment was presented again 2 times already, the most the banking rules allow."
        + ANOTHER_METHOD))
    with pytest.raises(RetryRefused, match="presented again 2 times already"):
        shop.retry(third)
    assert charges() == 3


@pytest.mark.parametrize(("change", "reason"), [
    ("disabled", "ACH •••• 2227 cannot be charged any more: it is disabled." + ANOTHER_METHOD),
    ("removed", "ACH •••• 2227 cannot be charged any more: it was removed." + ANOTHER_METHOD),
])
def test_a_method_that_can_no_longer_be_charged_is_refused(shop, change, reason):
    payment = shop.returned()
    if change == "disabled":
        methods.disable_method(shop.method, "The bank closed the account.")
    else:
        methods.remove_method(shop.method)
    assert retry_status(payment, RETURNED_ON) == (False, reason)
    with pytest.raises(RetryRefused, match="cannot be charged any more"):
        shop.retry(payment)


def test_an_invoice_paid_since_is_refused(shop):
    payment = shop.returned()
    pay(card(shop.account, shop.users[Role.ADMIN]), [(shop.invoice, Decimal("12.50"))])
    assert retry_status(payment, RETURNED_ON) == (False, (
        "The invoices of this payment have been paid since, so there is nothing left to "
        "collect."))
    with pytest.raises(RetryRefused, match="nothing left to collect"):
        shop.retry(payment)


def test_a_code_that_is_not_r01_is_refused(billing, factory, gateway):
    shop = Shop(billing, factory, gateway, number=R02)
    payment = pay(shop.method, [(shop.invoice, Decimal("12.50"))])
    shop.settle()
    assert retry_status(payment, RETURNED_ON) == (False, (
        "Your bank returned this payment with R02 (Account closed), so it cannot be presented "
        "again." + ANOTHER_METHOD))


@pytest.mark.parametrize("number", [SETTLES, R01])
def test_a_payment_that_was_not_returned_has_nothing_to_say(billing, factory, gateway, number):
    shop = Shop(billing, factory, gateway, number=number)
    payment = pay(shop.method, [(shop.invoice, Decimal("12.50"))])
    assert retry_status(payment, FRIDAY) == (False, "")  # processing
    shop.settle()
    if number == SETTLES:
        assert retry_status(payment, RETURNED_ON) == (False, "")  # succeeded
        with pytest.raises(RetryRefused, match="Only a payment your bank returned"):
            shop.retry(payment)


def test_a_payment_presented_again_points_to_its_retry(shop):
    first = shop.returned()
    retry = shop.retry(first)
    assert retry_status(first, RETURNED_ON) == (
        False, f"This payment was presented again as {retry.reference}.")
    assert retry_status(retry, RETURNED_ON) == (False, "")  # processing
    with pytest.raises(RetryRefused, match=f"presented again as {retry.reference}"):
        shop.retry(first)
    assert charges() == 2


# --- What a retry charges ---------------------------------------------------------------------

def test_a_retry_charges_the_same_account_again_under_a_new_key(shop):
    first = shop.returned()
    retry = shop.retry(first)
    assert (retry.status, retry.amount, retry.method_id, retry.retry_of_id) == (
        PaymentStatus.PROCESSING, Decimal("12.50"), shop.method.id, first.id)
    assert retry.idempotency_key == f"{first.reference}-retry-1" != first.idempotency_key
    assert (retry.received_on, retry.method_label) == (RETURNED_ON, "ACH •••• 2227")
    charge = db.session.scalar(select(SandboxCharge).where(
        SandboxCharge.idempotency_key == retry.idempotency_key))
    assert (charge.reference, charge.method_reference, charge.amount) == (
        retry.gateway_reference, shop.method.gateway_reference, Decimal("12.50"))
    assert shop.invoice.status == InvoiceStatus.PAID  # held by the retry while it processes
    created = db.session.scalars(select(OutboxEvent.payload).where(
        OutboxEvent.event_type == "payment.created").order_by(OutboxEvent.id)).all()
    assert [(e["reference"], e["invoices"]) for e in created] == [
        (first.reference, [shop.invoice.number]), (retry.reference, [shop.invoice.number])]
    assert check_all() == []


def test_a_retry_of_a_retry_names_the_first_payment(shop):
    first = shop.returned()
    second = shop.retry(first)
    shop.settle()
    third = shop.retry(second)
    assert (third.retry_of_id, third.idempotency_key) == (first.id, f"{first.reference}-retry-2")
    assert retry_status(second, RETURNED_ON).reason == (
        f"This payment was presented again as {third.reference}.")


def test_a_retry_takes_only_what_the_invoice_still_owes(shop):
    payment = shop.returned()
    pay(card(shop.account, shop.users[Role.ADMIN]), [(shop.invoice, Decimal("5.00"))])
    status = retry_status(payment, RETURNED_ON)
    assert status.allowed and "is debited $7.50 for" in status.reason
    retry = shop.retry(payment)
    assert retry.amount == Decimal("7.50")
    assert shop.invoice.status == InvoiceStatus.PAID and check_all() == []


def test_a_partial_payment_is_retried_for_its_own_share(shop):
    payment = shop.returned(share="4.00")
    retry = shop.retry(payment)
    assert retry.amount == Decimal("4.00")
    assert shop.invoice.balance_due == Decimal("8.50")


def test_a_retry_the_gateway_never_took_does_not_count(shop):
    first = shop.returned()
    shop.gateway.simulate_timeout(reached_gateway=False)
    lost = shop.retry(first)
    assert lost.status == PaymentStatus.UNKNOWN
    for _ in reconcile_unknown_payments():
        db.session.commit()
    assert lost.status == PaymentStatus.FAILED and charges() == 1
    assert retry_status(first, RETURNED_ON).allowed
    again = shop.retry(first)
    assert (again.status, again.idempotency_key) == (
        PaymentStatus.PROCESSING, f"{first.reference}-retry-2")
    shop.settle()
    assert "This would be retry 2 of 2;" in retry_status(again, shop.gateway.today()).reason
    assert check_all() == []


def test_only_a_user_of_the_account_may_retry(shop, factory):
    payment = shop.returned()
    stranger = factory.user(Role.ADMIN)
    with pytest.raises(DomainError) as refused:
        retry_payment(payment, user=stranger, today=RETURNED_ON)
    assert refused.value.status == 404 and charges() == 1


# --- The receipt's fragment -------------------------------------------------------------------

def fragment(app, payment: Payment, today: date) -> str:
    with app.test_request_context():
        return render_template("payments/_retry.html", payment=payment,
                               retry=retry_status(payment, today), can_retry=True).strip()


def test_the_fragment_offers_the_button_with_what_it_does(app, shop):
    payment = shop.returned()
    html = fragment(app, payment, RETURNED_ON)
    assert f'action="/billing/payments/{payment.id}/retry"' in html
    assert 'method="post"' in html and 'name="csrf_token"' in html
    assert ">Retry payment</button>" in html
    assert ALLOWED_FIRST.format(invoice=shop.invoice.number) in html


def test_the_fragment_says_why_not_in_plain_words(app, shop):
    payment = shop.returned()
    html = fragment(app, payment, RETURNED_ON + timedelta(days=180))
    assert "Retry payment</button>" not in html and "<form" not in html
    assert "only until 180 days have passed since your bank first returned it." in html


def test_the_fragment_is_empty_for_a_payment_that_was_not_returned(app, billing, factory,
                                                                   gateway):
    shop = Shop(billing, factory, gateway, number=SETTLES)
    assert fragment(app, pay(shop.method, [(shop.invoice, Decimal("12.50"))]), FRIDAY) == ""


# --- The route --------------------------------------------------------------------------------

def client_as(app, user):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    if user is not None:
        assert sign_in(client, user).status_code == 303
    return client


def retries() -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.retry_of_id.is_not(None))))


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING])
@pytest.mark.parametrize("htmx", [False, True])
def test_admin_and_billing_retry_and_see_the_new_receipt(app, shop, role, htmx):
    payment = shop.returned()
    client = client_as(app, shop.users[role])
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(f"/billing/payments/{payment.id}/retry", headers=headers)
    db.session.expire_all()
    (retry,) = retries()
    if htmx:
        assert (response.status_code, response.headers["HX-Redirect"]) == (
            204, f"/billing/payments/{retry.id}")
    else:
        assert (response.status_code, response.headers["Location"]) == (
            303, f"/billing/payments/{retry.id}")
    assert (retry.retry_of_id, retry.status) == (payment.id, PaymentStatus.PROCESSING)
    assert charges() == 2


def test_a_second_click_shows_the_same_retry(app, shop):
    payment = shop.returned()
    client = client_as(app, shop.users[Role.ADMIN])
    first = client.post(f"/billing/payments/{payment.id}/retry")
    second = client.post(f"/billing/payments/{payment.id}/retry")
    db.session.expire_all()
    (retry,) = retries()
    assert first.headers["Location"] == second.headers["Location"] == (
        f"/billing/payments/{retry.id}")
    assert charges() == 2


@pytest.mark.parametrize("who", ["viewer", "staff", "second tenant", "anonymous"])
def test_no_one_else_can_retry(app, shop, factory, who):
    payment = shop.returned()
    users = {"viewer": shop.users[Role.VIEWER], "staff": factory.user(Role.STAFF),
             "second tenant": factory.user(Role.ADMIN), "anonymous": None}
    client = client_as(app, users[who])
    response = client.post(f"/billing/payments/{payment.id}/retry")
    expected = {"viewer": 403, "staff": 403, "second tenant": 404, "anonymous": 302}[who]
    assert response.status_code == expected
    if who == "anonymous":
        assert response.headers["Location"].startswith("/login")
    db.session.expire_all()
    assert retries() == [] and charges() == 1


def test_a_refused_retry_says_why(app, shop):
    payment = shop.returned()
    methods.disable_method(shop.method, "The bank closed the account.")
    db.session.commit()
    client = client_as(app, shop.users[Role.ADMIN])
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(f"/billing/payments/{payment.id}/retry", headers=headers)
        assert response.status_code == 409
        assert ("ACH •••• 2227 cannot be charged any more: it is disabled."
                in response.get_data(as_text=True))
    assert retries() == [] and charges() == 1


def test_an_unknown_payment_and_get_are_refused(app, shop):
    payment = shop.returned()
    client = client_as(app, shop.users[Role.ADMIN])
    assert client.post("/billing/payments/999999/retry").status_code == 404
    assert client.get(f"/billing/payments/{payment.id}/retry").status_code == 405


def test_the_route_needs_the_csrf_token(app, search_index_dir):
    csrf_app = create_app(make_config(app.config["SQLALCHEMY_DATABASE_URI"], search_index_dir,
                                      WTF_CSRF_ENABLED=True))
    response = csrf_app.test_client().post("/billing/payments/1/retry")
    assert response.status_code == 400
    with csrf_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgresql
def test_two_retries_at_once_charge_once(app, shop):
    payment_id = shop.returned().id
    user_id = shop.users[Role.BILLING].id
    db.session.commit()
    barrier, outcomes = threading.Barrier(2), []

    def click() -> None:
        with app.app_context():
            try:
                barrier.wait()
                retry_payment(db.session.get(Payment, payment_id),
                              user=db.session.get(User, user_id), today=RETURNED_ON)
                db.session.commit()
                outcomes.append("retried")
            except RetryRefused as refused:
                db.session.rollback()
                outcomes.append(refused.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.session.expire_all()
    (retry,) = retries()
    assert sorted(outcomes) == sorted(
        ["retried", f"This payment was presented again as {retry.reference}."])
    assert charges() == 2 and check_all() == []


@pytest.mark.parametrize(("role", "button"), [(Role.ADMIN, True), (Role.BILLING, True),
                                              (Role.VIEWER, False)])
def test_the_receipt_of_a_returned_payment_offers_the_retry_to_payers(app, shop, role, button):
    payment = shop.returned()
    page = client_as(app, shop.users[role]).get(f"/billing/payments/{payment.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Retry this payment" in html
    assert (f'action="/billing/payments/{payment.id}/retry"' in html) is button
    assert ("An admin or billing user of your account can retry it." in html) is not button
