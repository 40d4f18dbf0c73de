"""The payment journeys end to end in a browser, across every page they touch: an admin adds a
bank account (after confirming the password) and verifies it with the micro-deposits, pays two
invoices partly with credit and the rest from that account, sees them processing, and after
`flask payments settle` sees the receipt settled; a bank account whose payment comes back (R01)
is explained on the receipt, offers Retry payment, and shows on the statement. axe-core on every
page the journeys reach.

These tests pay, so they run on a portal of their own seeded with the demo data."""

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.accounts.models import Account
from app.credit.services import credit_balance
from app.demo.services import DEMO_PASSWORD
from app.extensions import db
from app.formatting import money
from app.payments.gateways.ach_returns import describe_return
from app.payments.models import Payment, PaymentStatus
from app.payments.pay import payable_invoices
from tests.browser.conftest import build_portal, serve, sign_in_as
from tests.browser.helpers import DESKTOP

NORTHWIND = "R-100001"
ADMIN = "admin@northwind.example"
SETTLES = "000987651234"  # any account but the test ones settles
RETURNS_R01 = "000222222227"


@pytest.fixture(scope="module")
def journey_portal(tmp_path_factory) -> Flask:
    return build_portal(tmp_path_factory.mktemp("journey-portal"))


@pytest.fixture(scope="module")
def journey_server(journey_portal: Flask) -> Iterator[str]:
    with serve(journey_portal) as base_url:
        yield base_url


@pytest.fixture
def admin_page(browser: Browser, journey_server: str, browser_errors) -> Iterator[Page]:
    context = browser_errors.watch(browser.new_context(base_url=journey_server, viewport=DESKTOP))
    page = context.new_page()
    sign_in_as(page, ADMIN)
    yield page
    context.close()


def northwind() -> Account:
    return db.session.scalar(select(Account).where(Account.number == NORTHWIND))


def open_invoices(portal: Flask):
    with portal.app_context():
        invoices = payable_invoices(northwind().id)
        for invoice in invoices:
            db.session.expunge(invoice)
        return invoices


def settle(portal: Flask) -> str:
    result = portal.test_cli_runner().invoke(args=["payments", "settle"])
    assert result.exit_code == 0, result.output
    return result.output


def add_bank_account(page: Page, axe, number: str) -> str:
    """Add and verify a bank account through the pages; its label."""
    page.goto("/billing/payment-methods")
    page.get_by_role("link", name="Add a bank account (ACH)").first.click()
    if page.get_by_role("button", name="Confirm password").count():
        axe(page)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Confirm password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a bank account (ACH)")
    axe(page)
    page.get_by_label("Account holder name").fill("Northwind Cloud Solutions")
    page.get_by_label("Routing number").fill("110000000")
    page.get_by_label("Account number", exact=True).fill(number)
    page.get_by_label("Confirm account number").fill(number)
    page.get_by_role("radio", name="Checking").check()
    page.get_by_role("checkbox", name="I accept this debit authorisation for my company").check()
    page.get_by_role("button", name="Add bank account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify bank account")
    page.get_by_label("First deposit").fill("0.32")
    page.get_by_label("Second deposit").fill("0.45")
    axe(page)
    page.get_by_role("button", name="Verify bank account").click()
    label = f"ACH •••• {number[-4:]}"
    expect(page.get_by_role("row").filter(has_text=label)).to_contain_text("Verified")
    axe(page)
    return label


def test_bank_account_added_verified_pays_with_credit_and_settles(admin_page: Page, axe,
                                                                   journey_portal):
    page = admin_page
    label = add_bank_account(page, axe, SETTLES)
    first, second = open_invoices(journey_portal)[:2]
    with journey_portal.app_context():
        available = credit_balance(northwind())
    partial = (second.balance_due / 2).quantize(Decimal("0.01"))
    chosen = first.balance_due + partial
    applied = min(available, chosen)
    assert applied > 0 and chosen > applied

    page.goto("/billing/pay")
    axe(page)
    for invoice in open_invoices(journey_portal):
        page.get_by_label(f"Pay {invoice.number}").set_checked(invoice.id in {first.id,
                                                                               second.id})
    page.get_by_label(f"Amount for {second.number}").fill(str(partial))
    page.get_by_label("Apply available credit").check()
    page.get_by_label(label).check()
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Review your payment")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Confirm payment").click()
    expect(page).to_have_url(re.compile(r"/billing/payments/\d+$"))
    receipt_url = page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text("Processing")
    axe(page)

    # The invoice says its payment is processing until the bank settles it.
    page.goto(f"/billing/invoices/{first.number}")
    expect(page.get_by_text("Payment processing").first).to_be_visible()
    axe(page)

    output = settle(journey_portal)
    assert "1 settled" in output
    page.goto(receipt_url)
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("Processing")
    with journey_portal.app_context():
        payment = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
        assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, chosen - applied)
    expect(page.get_by_role("region", name="Invoices this payment paid")).to_contain_text(
        money(chosen, "USD"))
    page.goto("/billing/payments")
    expect(page.get_by_role("row").filter(has_text=payment.reference)).to_be_visible()
    axe(page)


def test_a_returned_bank_payment_is_explained(admin_page: Page, axe, journey_portal):
    page = admin_page
    label = add_bank_account(page, axe, RETURNS_R01)
    (invoice, *_) = open_invoices(journey_portal)
    page.goto(f"/billing/pay?invoice={invoice.number}")
    page.get_by_label(label).check()
    apply_credit = page.get_by_label("Apply available credit")
    if apply_credit.count():
        apply_credit.set_checked(False)
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Confirm payment").click()
    expect(page).to_have_url(re.compile(r"/billing/payments/\d+$"))
    receipt_url = page.url

    assert "returned" in settle(journey_portal)
    page.goto(receipt_url)
    reason = describe_return("R01")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Returned")
    expect(page.get_by_text(reason.explanation).first).to_be_visible()
    expect(page.get_by_role("button", name="Retry payment")).to_be_visible()
    axe(page)

    # The return is dated on the gateway's (sandbox) business day, which `settle` moved on.
    with journey_portal.app_context():
        returned_on = db.session.get(Payment, int(receipt_url.rsplit("/", 1)[1])).returned_on
    page.goto(f"/billing/statement?to={returned_on.isoformat()}")
    expect(page.get_by_text(re.compile(r"Payment returned \(R01")).first).to_be_visible()
    axe(page)
    page.goto(f"/billing/invoices/{invoice.number}")
    expect(page.get_by_role("link", name="Pay").first).to_be_visible()
