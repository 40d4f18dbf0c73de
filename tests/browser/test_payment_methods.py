"""Payment methods in a browser: a card added on the sandbox gateway's hosted page, a bank
account added by an admin after confirming the password and verified with the sandbox's
deposits (a wrong try first), removal confirmed in place, a CAD account told to use a card;
axe-core on every screen, and no sideways scrolling at desktop and phone widths.

What is added is removed again at the end of each test, so the demo data other browser tests
read stays as seeded."""

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.demo.services import DEMO_PASSWORD
from app.extensions import db
from app.payments.methods import ACH_CURRENCY_REFUSAL, VERIFICATION_TRIES
from app.payments.models import PaymentMethod
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow, mislabelled_cells

LIST = "/billing/payment-methods"
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def assert_fits(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert not overflow, f"{page.url} scrolls sideways: " + "; ".join(overflow)


def stored(portal: Flask, label: str) -> PaymentMethod | None:
    with portal.app_context():
        return db.session.scalar(select(PaymentMethod).where(
            PaymentMethod.label == label, PaymentMethod.removed_at.is_(None)))


def remove(page: Page, label: str, in_place) -> None:
    """Remove a method from the list: the confirmation comes in place of its row."""
    page.goto(LIST)
    row = page.get_by_role("row").filter(has_text=label)
    with in_place(page):
        row.get_by_role("link", name=f"Remove {label}").click()
        confirm = page.get_by_role("row").filter(has_text=f"Remove {label}?")
        expect(confirm.locator(".remove-confirm__question")).to_be_focused()
        confirm.get_by_role("button", name="Remove payment method").click()
        expect(page.get_by_role("status").filter(
            has_text=f"{label} was removed from your payment methods.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=label)).to_have_count(0)


@VIEWPORTS
def test_a_card_is_added_on_the_gateways_page(page: Page, sign_in, axe, portal, in_place,
                                               browser_errors, viewport):
    browser_errors.expect_message(r"status of 422")
    page.set_viewport_size(viewport)
    sign_in(page, "billing@northwind.example")
    page.goto(LIST)
    expect(heading(page)).to_have_text("Payment methods")
    expect(page.get_by_role("row").filter(has_text="Visa •••• 4242")).to_contain_text("Default")
    assert not mislabelled_cells(page)
    assert_fits(page)
    axe(page)

    page.get_by_role("link", name="Add a card").first.click()
    expect(heading(page)).to_have_text("Add a card")
    assert_fits(page)
    axe(page)
    page.get_by_role("button", name="Continue to the secure card page").click()

    # The gateway's own page: labelled as the sandbox, nothing of the portal's account.
    expect(page).to_have_url(re.compile(r"/sandbox/gateway/cards/cs_[0-9a-f]+$"))
    expect(heading(page)).to_have_text("Enter card details")
    expect(page.get_by_role("banner")).to_contain_text("Sandbox payment gateway")
    expect(page.get_by_role("banner")).to_contain_text("Test mode")
    expect(page.locator("body")).not_to_contain_text("Northwind")
    expect(page.locator("body")).not_to_contain_text("Bill Northwind")
    for number in ("4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 9995"):
        expect(page.get_by_role("table")).to_contain_text(number)
    number = page.get_by_label("Card number")
    expect(number).to_be_focused()
    assert_fits(page)
    axe(page)

    number.fill("5555 5555 5555 4444")
    page.get_by_label("Expiry date").fill("11/33")
    cvc = page.get_by_label("Security code (CVC)")
    cvc.fill("12")
    page.get_by_role("button", name="Add card").click()
    expect(cvc).to_have_accessible_description(re.compile(
        "Enter the 3-digit security code from the card."))
    expect(cvc).to_be_focused()
    expect(cvc).to_have_value("")
    expect(page.get_by_label("Card number")).to_have_value("5555 5555 5555 4444")
    axe(page)
    cvc.fill("123")
    page.get_by_role("button", name="Add card").click()

    expect(page).to_have_url(re.compile(r"/billing/payment-methods$"))
    expect(page.get_by_role("status").filter(
        has_text="Mastercard •••• 4444 was added.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Mastercard •••• 4444")
    expect(row).to_contain_text("11/2033")
    expect(row).to_contain_text("Verified")
    assert stored(portal, "Mastercard •••• 4444").exp_year == 2033
    assert_fits(page)
    axe(page)
    remove(page, "Mastercard •••• 4444", in_place)
    assert stored(portal, "Mastercard •••• 4444") is None


@VIEWPORTS
def test_an_admin_adds_and_verifies_a_bank_account(page: Page, sign_in, axe, portal, in_place,
                                                  browser_errors, viewport):
    browser_errors.expect_message(r"status of 422")
    page.set_viewport_size(viewport)
    sign_in(page, "admin@northwind.example")
    page.goto(LIST)
    page.get_by_role("link", name="Add a bank account (ACH)").first.click()

    # Confirm the password first.
    expect(heading(page)).to_have_text("Confirm your password")
    assert_fits(page)
    axe(page)
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Confirm password").click()
    expect(page.get_by_label("Password")).to_have_accessible_description(
        re.compile("The password is not correct."))
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Confirm password").click()

    expect(heading(page)).to_have_text("Add a bank account (ACH)")
    authorisation = page.locator("#ccd-authorisation")
    expect(authorisation).to_contain_text(
        "Northwind Cloud Solutions (R-100001) authorises")
    expect(authorisation).to_contain_text("the business bank account entered above")
    assert_fits(page)
    axe(page)
    page.get_by_label("Account holder name").fill("Northwind Cloud Solutions")
    page.get_by_label("Routing number").fill("110000000")
    page.get_by_label("Account number", exact=True).fill("000987654321")
    confirm = page.get_by_label("Confirm account number")
    confirm.fill("000987654320")
    page.get_by_role("radio", name="Checking").check()
    with in_place(page):
        page.get_by_role("button", name="Add bank account").click()
        expect(confirm).to_have_accessible_description(re.compile(
            "The account numbers do not match."))
    expect(confirm).to_be_focused()
    expect(page.get_by_label("Account number", exact=True)).to_have_value("000987654321")
    expect(page.get_by_role("radio", name="Checking")).to_be_checked()
    accept = page.get_by_role("checkbox",
                              name="I accept this debit authorisation for my company")
    expect(accept).to_have_attribute("aria-invalid", "true")
    assert_fits(page)
    axe(page)
    confirm.fill("000987654321")
    accept.check()
    shown = " ".join(authorisation.inner_text().split())
    page.get_by_role("button", name="Add bank account").click()

    expect(heading(page)).to_have_text("Verify bank account")
    expect(page.get_by_role("status").filter(
        has_text="We sent two small deposits to ACH •••• 4321.")).to_be_visible()
    assert stored(portal, "ACH •••• 4321").authorisation_text == shown
    assert_fits(page)
    axe(page)

    first, second = page.get_by_label("First deposit"), page.get_by_label("Second deposit")
    first.fill("0.12")
    second.fill("0.34")
    with in_place(page):
        page.get_by_role("button", name="Verify bank account").click()
        expect(first).to_have_accessible_description(re.compile(
            f"These amounts do not match the two deposits we sent. Check your bank statement: "
            f"{VERIFICATION_TRIES - 1} tries left."))
    expect(first).to_be_focused()
    axe(page)
    first.fill("0.32")
    second.fill("0.45")
    page.get_by_role("button", name="Verify bank account").click()

    expect(page).to_have_url(re.compile(r"/billing/payment-methods$"))
    expect(page.get_by_role("status").filter(
        has_text="ACH •••• 4321 is verified. You can now pay with it.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="ACH •••• 4321")).to_contain_text("Verified")
    remove(page, "ACH •••• 4321", in_place)


def test_removal_without_javascript_asks_on_a_page_of_its_own(new_context, browser_errors,
                                                              sign_in, portal):
    context = browser_errors.watch(new_context(java_script_enabled=False))
    page = context.new_page()
    sign_in(page, "billing@northwind.example")
    page.goto(LIST)
    page.get_by_role("link", name="Remove Visa •••• 4242").click()
    expect(heading(page)).to_have_text("Remove payment method")
    expect(page.get_by_text("Remove Visa •••• 4242?")).to_be_visible()
    expect(page.get_by_role("button", name="Remove payment method")).to_be_visible()
    page.get_by_role("link", name="Keep it").click()
    expect(heading(page)).to_have_text("Payment methods")
    expect(page.get_by_role("row").filter(has_text="Visa •••• 4242")).to_contain_text("Default")
    assert stored(portal, "Visa •••• 4242") is not None


@VIEWPORTS
def test_the_removal_page_fits_and_passes_axe(page: Page, sign_in, axe, portal, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, "admin@northwind.example")
    page.goto(f"{LIST}/{stored(portal, 'ACH •••• 6789').id}/remove")
    expect(heading(page)).to_have_text("Remove payment method")
    expect(page.get_by_role("main")).to_contain_text(
        "a payment still processing completes as usual")
    assert_fits(page)
    axe(page)


@VIEWPORTS
def test_a_cad_account_is_told_to_add_a_card(page: Page, sign_in, axe, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, "admin@contoso.example")
    page.goto(LIST)
    refusal = ACH_CURRENCY_REFUSAL.format(currency="CAD")
    expect(page.get_by_role("main")).to_contain_text(refusal)
    expect(page.get_by_role("link", name="Add a bank account (ACH)")).to_have_count(0)
    axe(page)
    page.goto(f"{LIST}/new/ach")
    expect(heading(page)).to_have_text("Add a bank account (ACH)")
    expect(page.get_by_role("status")).to_have_text(refusal)
    expect(page.get_by_label("Account number")).to_have_count(0)
    assert_fits(page)
    axe(page)
    page.get_by_role("link", name="Add a card").click()
    expect(heading(page)).to_have_text("Add a card")


def test_a_viewer_reads_the_list_without_buttons(page: Page, sign_in, axe):
    sign_in(page, "viewer@northwind.example")
    page.goto(LIST)
    expect(page.get_by_role("row").filter(has_text="ACH •••• 6789")).to_contain_text("Verified")
    main = page.get_by_role("main")
    expect(main.get_by_role("button")).to_have_count(0)
    expect(main.get_by_role("link", name=re.compile("^(Add|Remove|Verify)"))).to_have_count(0)
    axe(page)
