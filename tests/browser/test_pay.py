"""The pay flow in a browser: two invoices paid partly with credit and by card, totals kept
live by htmx, then the receipt; a declined card's message next to the methods, with the focus
on them; the whole flow by keyboard alone; axe-core and no sideways scrolling at desktop and
phone widths.

These tests pay, so they run on a portal of their own (the demo data, plus a card that is
declined, added through the payment method services); expected figures come from its
database."""

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.accounts.models import Account, Role, User
from app.billing.models import Invoice
from app.credit.services import credit_balance
from app.extensions import db
from app.formatting import money
from app.payments.gateways.declines import describe_decline
from app.payments.models import Payment, PaymentStatus
from app.payments.pay import payable_invoices
from tests.browser.conftest import build_portal, serve, sign_in_as
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow
from tests.payments.paying import DECLINED_CARD, add_card

NORTHWIND = "R-100001"
BILLING_USER = "billing@northwind.example"


@pytest.fixture(scope="module")
def paying_portal(tmp_path_factory) -> Flask:
    portal = build_portal(tmp_path_factory.mktemp("paying-portal"))
    with portal.app_context():
        account = db.session.scalar(select(Account).where(Account.number == NORTHWIND))
        admin = db.session.scalar(select(User).where(User.account_id == account.id,
                                                     User.role == Role.ADMIN))
        # The demo has Northwind's Visa 4242 and verified bank account; add a card that is
        # declined.
        add_card(account, admin, DECLINED_CARD)
    return portal


@pytest.fixture(scope="module")
def paying_server(paying_portal: Flask) -> Iterator[str]:
    with serve(paying_portal) as base_url:
        yield base_url


@pytest.fixture
def pay_page(browser: Browser, paying_server: str, browser_errors) -> Iterator[Page]:
    """A page of a new browser context on the paying portal, signed in as a billing user."""
    context = browser_errors.watch(browser.new_context(base_url=paying_server, viewport=DESKTOP))
    page = context.new_page()
    sign_in_as(page, BILLING_USER)
    yield page
    context.close()


def northwind(portal: Flask) -> Account:
    return db.session.scalar(select(Account).where(Account.number == NORTHWIND))


def open_invoices(portal: Flask) -> list[Invoice]:
    with portal.app_context():
        invoices = payable_invoices(northwind(portal).id)
        for invoice in invoices:
            db.session.expunge(invoice)
        return invoices


def credit(portal: Flask) -> Decimal:
    with portal.app_context():
        return credit_balance(northwind(portal))


def totals(page: Page) -> list[str]:
    return page.locator("#pay-totals dd").all_inner_texts()


def choose_only(page: Page, portal: Flask, chosen: list[Invoice]) -> None:
    """Leave only these invoices chosen."""
    keep = {invoice.id for invoice in chosen}
    for invoice in open_invoices(portal):
        page.get_by_label(f"Pay {invoice.number}").set_checked(invoice.id in keep)


def test_two_invoices_partly_with_credit_by_card(pay_page: Page, paying_portal, axe, in_place):
    page = pay_page
    first, second = open_invoices(paying_portal)[:2]
    available = credit(paying_portal)
    assert available > 0 and first.balance_due > 0
    partial = (second.balance_due / 2).quantize(Decimal("0.01"))

    page.goto("/billing/pay")
    expect(page.get_by_role("heading", name="Pay invoices", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/billing/pay\?draft=[\w-]{40,}$"))
    axe(page)
    with in_place(page):
        choose_only(page, paying_portal, [first, second])
        page.get_by_label(f"Amount for {second.number}").fill(str(partial))
        page.get_by_label("Apply available credit").check()
        chosen = first.balance_due + partial
        applied = min(available, chosen)
        # The totals follow what is typed (htmx), without losing it.
        expect(page.locator("#pay-totals dd")).to_have_text(
            [money(chosen, "USD"), "−" + money(applied, "USD"), money(chosen - applied, "USD")])
        expect(page.get_by_label(f"Amount for {second.number}")).to_have_value(str(partial))
        page.get_by_label("Visa •••• 4242").check()
        page.get_by_role("button", name="Review").click()
        review = page.get_by_role("heading", name="Review your payment")
        expect(review).to_be_visible()
        expect(review).to_be_focused()
    expect(page).to_have_url(re.compile(r"step=review"))
    expect(page.locator(".pay-review .pay-totals dd")).to_have_text(
        [money(chosen, "USD"), "−" + money(applied, "USD"), money(chosen - applied, "USD"),
         "Visa •••• 4242"])
    axe(page)

    page.get_by_role("button", name="Confirm payment").click()
    expect(page).to_have_url(re.compile(r"/billing/payments/\d+$"))
    expect(page.get_by_text(f"your payment of {money(chosen - applied, 'USD')} succeeded"))\
        .to_be_visible()
    receipt = page.get_by_role("region", name="Invoices this payment paid")
    expect(receipt).to_contain_text(first.number)
    expect(receipt).to_contain_text(second.number)
    expect(receipt.locator("tfoot td")).to_have_text(
        [money(chosen - applied, "USD"), money(applied, "USD"), money(chosen, "USD")])
    axe(page)
    with paying_portal.app_context():
        payment = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
        assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, chosen - applied)

    # Back to the review: the same payment, never a second one.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/billing/payments/\d+$"))
    with paying_portal.app_context():
        assert db.session.scalar(select(Payment.id).order_by(Payment.id.desc())) == payment.id


def test_a_declined_card_shows_its_message(pay_page: Page, paying_portal, axe, in_place,
                                          browser_errors):
    browser_errors.expect_message(r"status of 422 .*/billing/pay/confirm")
    page = pay_page
    invoice = open_invoices(paying_portal)[-1]
    page.goto("/billing/pay")
    choose_only(page, paying_portal, [invoice])
    page.get_by_label("Visa •••• 0002").check()
    page.get_by_role("button", name="Review").click()
    with in_place(page):
        page.get_by_role("button", name="Confirm payment").click()
        message = describe_decline("generic_decline")
        expect(page.locator("#method-error")).to_have_text(message)
    expect(page.get_by_role("alert")).to_contain_text("did not go through")
    # The focus moves to the methods, where the message is.
    expect(page.locator(".pay-methods input").first).to_be_focused()
    expect(page.get_by_label("Visa •••• 0002")).to_be_checked()
    expect(page.get_by_label(f"Amount for {invoice.number}")).to_have_value(
        str(invoice.balance_due))
    axe(page)


def test_the_pay_flow_by_keyboard_alone(pay_page: Page, paying_portal):
    page = pay_page
    invoices = open_invoices(paying_portal)
    keep = invoices[-1]
    page.goto("/billing/pay")

    def tab_to(selector: str, limit: int = 60) -> None:
        """Press Tab until the element `selector` finds has the focus."""
        target = page.locator(selector)
        for _ in range(limit):
            if target.evaluate("el => el === document.activeElement"):
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")

    for invoice in invoices:  # Space clears every invoice but the last
        if invoice.id != keep.id:
            tab_to(f"#pay_{invoice.id}")
            page.keyboard.press("Space")
            expect(page.locator(f"#pay_{invoice.id}")).not_to_be_checked()
    tab_to(f"#amount_{keep.id}")
    page.keyboard.press("Control+A")
    page.keyboard.type("1.00")
    radio = page.get_by_label("Visa •••• 4242")
    tab_to(".pay-methods input:checked")
    for _ in range(4):  # arrows move among the radio buttons
        if radio.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("ArrowDown")
    expect(radio).to_be_focused()
    expect(radio).to_be_checked()
    expect(page.locator("#pay-totals dd").last).to_have_text(money(Decimal("1.00"), "USD"))
    tab_to("button:text('Review')")
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", name="Review your payment")).to_be_focused()
    tab_to("button:text('Confirm payment')")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/billing/payments/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Succeeded")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pay_pages_fit_the_screen(pay_page: Page, paying_portal, axe, viewport, browser_errors):
    browser_errors.expect_message(r"status of 422 .*/billing/pay/review")
    page = pay_page
    page.set_viewport_size(viewport)

    def check(what: str) -> None:
        overflow = horizontal_overflow(page)
        assert not overflow, f"{what} scrolls sideways: " + "; ".join(overflow)
        axe(page)

    page.goto("/billing/pay")
    invoice = open_invoices(paying_portal)[0]
    page.get_by_label(f"Amount for {invoice.number}").fill("0.001")
    page.get_by_role("button", name="Review").click()
    expect(page.locator(f"#amount_{invoice.id}-error")).to_be_visible()
    expect(page.get_by_label(f"Amount for {invoice.number}")).to_be_focused()
    check("the pay form with an error")
    page.get_by_label(f"Amount for {invoice.number}").fill("1.00")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("button", name="Confirm payment")).to_be_visible()
    check("the review")
    page.goto("/billing/payments")
    check("the payments list")
    page.locator("#payment-table a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PAY-")
    check("a receipt")
