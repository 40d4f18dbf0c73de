"""Account changes in a browser, on a portal of their own (they change the demo accounts): an
admin changes the mailing address step by step (a bad ZIP code shown next to its field with
everything else kept, the draft left and resumed, the password confirmed before submit), the
ERP approves and the account page shows the new address; the same flow by keyboard only at
phone width. axe-core on every page of the flow."""

import re
from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.changes import services
from app.changes.models import ChangeRequest, ChangeStatus, ChangeType
from app.demo.services import DEMO_PASSWORD
from app.extensions import db
from tests.browser.conftest import build_portal, serve
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow


@pytest.fixture(scope="module")
def own_portal(tmp_path_factory) -> Flask:
    return build_portal(tmp_path_factory.mktemp("changes-portal"))


@pytest.fixture(scope="module")
def base(own_portal: Flask) -> Iterator[str]:
    with serve(own_portal) as url:
        yield url


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def fits(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert not overflow, f"{page.url} scrolls sideways: " + "; ".join(overflow)


def test_an_admin_changes_the_mailing_address(page: Page, base, own_portal, axe,
                                              browser_errors):
    browser_errors.expect_message(r"status of 422")
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "admin@northwind.example")
    page.goto(f"{base}/account")
    expect(heading(page)).to_have_text("Company")
    expect(page.locator(".address-block")).to_contain_text("1200 Westlake Avenue North")
    fits(page)
    axe(page)

    page.get_by_role("link", name="Change mailing address").click()
    expect(page.get_by_role("heading", name="What changes")).to_be_visible()
    expect(page.get_by_text("The country stays US")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="New values")).to_be_visible()
    expect(page.get_by_label("State")).to_be_visible()
    axe(page)
    page.get_by_label("Street address").fill("500 Pine Street")
    page.get_by_label("City").fill("Spokane")
    page.get_by_label("State").select_option("WA")
    page.get_by_label("ZIP code").press_sequentially("9920")
    # Checked as it is typed: the message comes next to the field.
    expect(page.locator("#postal_code-error")).to_be_visible()
    expect(page.get_by_label("ZIP code")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("ZIP code")
    expect(page.get_by_label("Street address")).to_have_value("500 Pine Street")
    expect(page.get_by_label("City")).to_have_value("Spokane")
    expect(page.get_by_label("ZIP code")).to_have_value("9920")
    axe(page)

    # Leave and come back: the draft kept what was typed.
    page.goto(f"{base}/account")
    page.get_by_role("link", name="Continue your draft mailing address").click()
    expect(page.get_by_label("Street address")).to_have_value("500 Pine Street")
    page.get_by_label("ZIP code").fill("99201")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Supporting documents")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Review").click()

    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("500 Pine Street")
    axe(page)
    page.get_by_label(re.compile("I confirm that")).check()
    page.get_by_role("button", name="Submit request").click()

    expect(heading(page)).to_have_text("Confirm your password")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Confirm password").click()
    expect(page.get_by_label(re.compile("I confirm that"))).to_be_checked()
    page.get_by_role("button", name="Submit request").click()

    expect(heading(page)).to_contain_text("Mailing address change CR-")
    expect(page.locator(".request-status")).to_contain_text("Submitted")
    expect(page.locator(".timeline")).to_contain_text("Submitted")
    axe(page)

    with own_portal.app_context():
        change = db.session.scalar(select(ChangeRequest).where(
            ChangeRequest.type == ChangeType.ADDRESS,
            ChangeRequest.status == ChangeStatus.SUBMITTED))
        services.acknowledge_request(change)
        services.decide_request(change, approve=True, reason=None, effective_date=None,
                                today=date.today())
        db.session.commit()
        db.session.remove()

    page.reload()
    expect(page.locator(".request-status")).to_contain_text("Approved")
    expect(page.locator(".timeline")).to_contain_text("Applied to your account")
    page.goto(f"{base}/account")
    expect(page.locator(".address-block")).to_contain_text("500 Pine Street")
    expect(page.locator(".address-block")).to_contain_text("Spokane WA 99201")
    page.goto(f"{base}/account/changes")
    expect(page.get_by_role("table")).to_contain_text("Approved")
    axe(page)


def test_the_address_flow_by_keyboard_at_phone_width(page: Page, base, axe, browser_errors):
    page.set_viewport_size(PHONE)
    sign_in(page, base, "admin@contoso.example")
    page.goto(f"{base}/account/changes")
    fits(page)
    axe(page)
    page.goto(f"{base}/account/changes/new?type=address")
    fits(page)
    continue_button = page.get_by_role("button", name="Continue")
    continue_button.focus()
    page.keyboard.press("Enter")

    street = page.get_by_label("Street address")
    expect(street).to_be_visible()
    fits(page)
    street.focus()
    page.keyboard.type("100 King Street West")
    page.keyboard.press("Tab")  # line 2
    page.keyboard.press("Tab")
    expect(page.get_by_label("City")).to_be_focused()
    page.keyboard.type("Toronto")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Province or territory")).to_be_focused()
    page.get_by_label("Province or territory").select_option("ON")  # the keyboard's choice
    page.keyboard.press("Tab")
    expect(page.get_by_label("Postal code")).to_be_focused()
    page.keyboard.type("M5X 1A9")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Supporting documents")).to_be_visible()
    fits(page)
    axe(page)
    page.get_by_role("button", name="Review").focus()
    page.keyboard.press("Enter")
    confirm = page.get_by_label(re.compile("I confirm that"))
    expect(confirm).to_be_visible()
    fits(page)
    confirm.focus()
    page.keyboard.press("Space")
    expect(confirm).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Submit request")).to_be_focused()
    page.keyboard.press("Enter")
    password = page.get_by_label("Password")
    expect(password).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Submit request").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".request-status")).to_contain_text("Submitted")
    fits(page)
    axe(page)
