"""The credit page in a browser: applying credit to an invoice (a refused amount first, the
running total as amounts are typed) and taking it off again, in place and without JavaScript;
an admin turning auto-apply off and on; what a viewer and a second tenant see; axe-core and no
sideways scrolling at desktop and phone widths.

Every test leaves Northwind's credit as it found it (the live server is shared by the browser
tests): what it applies it reverses, and auto-apply is turned back on, also when it fails."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from app.accounts.models import Account
from app.billing.models import Invoice, InvoiceStatus
from app.credit.services import credit_balance, reverse_invoice_credit
from app.extensions import db
from app.formatting import medium_date, money
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    boxes,
    horizontal_overflow,
    mislabelled_cells,
    off_screen,
)

NORTHWIND = "R-100001"
ADMIN = "admin@northwind.example"
BILLING_USER = "billing@northwind.example"
VIEWER = "viewer@northwind.example"
CONTOSO_ADMIN = "admin@contoso.example"


@contextmanager
def database(portal: Flask) -> Iterator[None]:
    with portal.app_context():
        yield


def northwind(portal: Flask) -> Account:
    return db.session.scalar(select(Account).where(Account.number == NORTHWIND))


def available(portal: Flask) -> str:
    """Northwind's available credit as the page shows it."""
    with database(portal):
        return money(credit_balance(northwind(portal)), "USD")


@pytest.fixture
def unpaid_invoice(portal: Flask) -> Iterator[str]:
    """Northwind's newest open invoice with neither a payment nor credit on it; whatever
    credit the test leaves on it is taken off afterwards."""
    with database(portal):
        number = db.session.scalar(
            select(Invoice.number).where(Invoice.account_id == northwind(portal).id,
                                         Invoice.status == InvoiceStatus.OPEN,
                                         Invoice.amount_paid == 0, Invoice.credit_applied == 0)
            .order_by(Invoice.issue_date.desc()).limit(1))
    assert number, "the demo data has an open invoice without payment or credit"
    yield number
    with database(portal):
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
        if invoice.credit_applied:
            reverse_invoice_credit(invoice)
            db.session.commit()


@pytest.fixture
def auto_apply_restored(portal: Flask) -> Iterator[None]:
    yield
    with database(portal):
        account = northwind(portal)
        account.auto_apply_credit = True
        db.session.commit()


def balance(page: Page) -> Locator:
    return page.locator("#credit-page .stat__value")


def notice(page: Page) -> Locator:
    return page.locator("#credit-page .notice")


def assert_fits(page: Page, what: str) -> None:
    overflow = horizontal_overflow(page)
    assert not overflow, f"{what} scrolls sideways: " + "; ".join(overflow)
    assert mislabelled_cells(page) == []


# Applying and reversing -----------------------------------------------------------------------


def test_apply_credit_to_an_invoice_and_reverse_it(page: Page, sign_in, in_place, axe, portal,
                                                   unpaid_invoice, browser_errors):
    browser_errors.expect_message(r"status of 422")
    number = unpaid_invoice
    before = available(portal)
    sign_in(page, BILLING_USER)
    page.goto("/billing/credit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Account credit")
    expect(balance(page)).to_have_text(before)
    box = page.get_by_label(f"Credit to apply to {number}")
    form = page.locator("#apply-credit")

    # Not an amount: refused next to its box, which takes focus and keeps what was typed.
    box.fill("12,5")
    with in_place(page):
        form.get_by_role("button", name="Apply credit").click()
        error = page.locator(f"#{box.get_attribute('id')}-error")
        expect(error).to_have_text("Enter an amount like 125.00, using the digits 0 to 9.")
        expect(page.get_by_label(f"Credit to apply to {number}")).to_be_focused()
        expect(page.get_by_label(f"Credit to apply to {number}")).to_have_value("12,5")
    axe(page)

    # The running total follows the amount typed.
    box = page.get_by_label(f"Credit to apply to {number}")
    box.fill("10.00")
    expect(page.locator("#apply-total")).to_contain_text("Total to apply $10.00")
    with in_place(page):
        page.locator("#apply-credit").get_by_role("button", name="Apply credit").click()
        expect(notice(page)).to_have_text("$10.00 of credit applied to 1 invoice.")
        expect(notice(page)).to_be_focused()
    expect(balance(page)).to_have_text(available(portal))
    with database(portal):
        assert credit_balance(northwind(portal)) == Decimal(before.strip("$").replace(",", "")) \
            - Decimal("10.00")
    newest = page.locator("#credit-ledger tbody tr").first
    expect(newest).to_contain_text(f"Applied to {number}")
    expect(newest.get_by_role("link", name=number)).to_have_attribute(
        "href", f"/billing/invoices/{number}")
    axe(page)

    with in_place(page):
        page.get_by_role("button", name=f"Reverse $10.00 of credit on {number}").click()
        expect(notice(page)).to_have_text(
            f"$10.00 of credit taken off {number}. It is available again.")
        expect(notice(page)).to_be_focused()
    expect(balance(page)).to_have_text(before)
    expect(page.get_by_role("button", name=f"Reverse $10.00 of credit on {number}")) \
        .to_have_count(0)
    newest = page.locator("#credit-ledger tbody tr").first
    expect(newest).to_contain_text(f"Credit taken off {number}")


def test_credit_is_applied_and_reversed_without_javascript(new_context, browser_errors, sign_in,
                                                           portal, unpaid_invoice):
    context = browser_errors.watch(new_context(java_script_enabled=False))
    page = context.new_page()
    number = unpaid_invoice
    before = available(portal)
    sign_in(page, ADMIN)
    page.goto("/billing/credit")
    page.get_by_label(f"Credit to apply to {number}").fill("7.25")
    page.locator("#apply-credit").get_by_role("button", name="Apply credit").click()
    expect(page).to_have_url(re.compile(r"/billing/credit$"))
    expect(page.get_by_role("status")).to_contain_text("$7.25 of credit applied to 1 invoice.")
    page.get_by_role("button", name=f"Reverse $7.25 of credit on {number}").click()
    expect(page.get_by_role("status")).to_contain_text(f"$7.25 of credit taken off {number}.")
    expect(balance(page)).to_have_text(before)


# Auto-apply -----------------------------------------------------------------------------------


def test_an_admin_turns_auto_apply_off_and_on(page: Page, sign_in, in_place, axe, portal,
                                              auto_apply_restored):
    sign_in(page, ADMIN)
    page.goto("/billing/credit")
    setting = page.get_by_role("region", name=re.compile("^Auto-apply"))
    expect(setting.get_by_role("heading")).to_have_text("Auto-apply On")
    with in_place(page):
        setting.get_by_role("button", name="Turn auto-apply off").click()
        expect(notice(page)).to_contain_text("Auto-apply is off.")
        expect(notice(page)).to_be_focused()
    setting = page.get_by_role("region", name=re.compile("^Auto-apply"))
    expect(setting.get_by_role("heading")).to_have_text("Auto-apply Off")
    expect(setting).to_contain_text(
        f"Turned off by {ADMIN} on {medium_date(date.today())}.")
    with database(portal):
        assert northwind(portal).auto_apply_credit is False
    axe(page)
    page.reload()  # the setting is saved, not only shown
    setting = page.get_by_role("region", name=re.compile("^Auto-apply"))
    with in_place(page):
        setting.get_by_role("button", name="Turn auto-apply on").click()
        expect(notice(page)).to_contain_text("Auto-apply is on.")
    with database(portal):
        assert northwind(portal).auto_apply_credit is True


@pytest.mark.parametrize("email", [BILLING_USER, VIEWER])
def test_others_see_the_setting_and_cannot_change_it(page: Page, sign_in, email):
    sign_in(page, email)
    page.goto("/billing/credit")
    setting = page.get_by_role("region", name=re.compile("^Auto-apply"))
    expect(setting).to_contain_text("Only an admin of your account can change this setting.")
    expect(page.get_by_role("button", name=re.compile("Turn auto-apply"))).to_have_count(0)
    applies = page.get_by_role("button", name="Apply credit")
    expect(applies).to_have_count(1 if email == BILLING_USER else 0)


def test_contoso_sees_its_own_credit_in_cad(page: Page, sign_in, portal):
    sign_in(page, CONTOSO_ADMIN)
    page.goto("/billing/credit")
    expect(balance(page)).to_have_text(re.compile(r"^CA\$[\d,]+\.\d\d$"))
    expect(page.locator("main")).to_contain_text("In Canadian dollars.")
    expect(page.locator("main")).not_to_contain_text("Northwind")


# axe-core and phone width ---------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_credit_page_passes_axe_and_fits_the_screen(page: Page, sign_in, axe, viewport,
                                                         portal, unpaid_invoice, in_place,
                                                         browser_errors):
    browser_errors.expect_message(r"status of 422")
    page.set_viewport_size(viewport)
    sign_in(page, ADMIN)
    page.goto("/billing/credit")
    page.get_by_label(f"Credit to apply to {unpaid_invoice}").fill("5")
    page.locator("#apply-credit").get_by_role("button", name="Apply credit").click()
    expect(notice(page)).to_be_visible()  # a ledger row, credit on an unpaid invoice
    for region in page.locator("main .table-wrap").all():
        expect(region).to_have_attribute("role", "region")
        expect(region).to_have_attribute("aria-label", re.compile(r"\w"))
    assert_fits(page, "the credit page")
    if viewport == PHONE:
        amounts = boxes(page, "main td.num")
        assert len(amounts) >= 6 and off_screen(page, amounts) == []
    axe(page)
    # A refused amount, as it looks beside its box.
    page.get_by_label(f"Credit to apply to {unpaid_invoice}").fill("-1")
    with in_place(page):
        page.locator("#apply-credit").get_by_role("button", name="Apply credit").click()
        expect(page.locator(".field__error").first).to_have_text(
            "Enter an amount more than zero, or leave the box empty.")
    assert_fits(page, "the credit page with an error")
    axe(page)
