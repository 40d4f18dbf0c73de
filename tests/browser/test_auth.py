"""Signing in and out in a browser, the skip link, and axe-core on the signed-in pages."""

import re

import pytest
from playwright.sync_api import Page, expect

from app.demo.services import DEMO_PASSWORD

RESELLERS = [
    ("admin@northwind.example", "Nora Admin", "Northwind Cloud Solutions", "Admin"),
    ("billing@northwind.example", "Bill Northwind", "Northwind Cloud Solutions", "Billing"),
    ("viewer@northwind.example", "Vera Viewer", "Northwind Cloud Solutions", "Viewer"),
    ("admin@contoso.example", "Connor Admin", "Contoso Partners Ltd", "Admin"),
]
STAFF = "staff@distributor.example"


def heading(page: Page):
    return page.get_by_role("heading", level=1)


@pytest.mark.parametrize(
    ("email", "name", "account", "role"), RESELLERS, ids=[user[0] for user in RESELLERS]
)
def test_a_reseller_signs_in_to_the_dashboard(page: Page, sign_in, email, name, account, role):
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(heading(page)).to_have_text("Dashboard")
    expect(page.get_by_role("main")).to_contain_text(account)
    expect(page.locator(".dashboard-who")).to_contain_text(f"signed in as {role}")
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text(name)
    expect(banner.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")


def test_staff_sign_in_to_content_insights(page: Page, sign_in):
    sign_in(page, STAFF)
    expect(page).to_have_url(re.compile(r"/help/insights$"))
    expect(heading(page)).to_have_text("Content insights")
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text("Distributor staff")
    expect(banner.get_by_role("link", name="Dashboard")).to_have_count(0)


def test_a_wrong_password_is_explained_next_to_the_field(page: Page, browser_errors):
    browser_errors.expect_message(r"status of 422")
    page.goto("/login")
    email = page.get_by_label("E-mail address")
    password = page.get_by_label("Password")
    email.fill("admin@northwind.example")
    password.fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    message = "The e-mail address or password is not correct."
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(message)
    expect(password).to_be_focused()
    expect(email).to_have_value("admin@northwind.example")
    expect(password).to_have_value("")
    expect(page).to_have_url(re.compile(r"/login$"))

    password.fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(heading(page)).to_have_text("Dashboard")


def test_sign_out_returns_to_the_help_center(page: Page, sign_in):
    sign_in(page, "billing@northwind.example")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/help$"))
    expect(page.get_by_role("status").filter(has_text="You are signed out.")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/help$"))
    expect(heading(page)).to_have_text("Help Center")


def test_the_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page: Page):
    page.goto("/help")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/help#main$"))
    expect(page.get_by_role("main")).to_be_focused()


def test_the_dashboard_passes_axe(page: Page, sign_in, axe):
    sign_in(page, "admin@northwind.example")
    expect(heading(page)).to_have_text("Dashboard")
    axe(page)


def test_the_login_page_with_errors_passes_axe(page: Page, axe, browser_errors):
    browser_errors.expect_message(r"status of 422")
    page.goto("/login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Enter your e-mail address.")).to_be_visible()
    expect(page.get_by_text("Enter your password.")).to_be_visible()
    axe(page)


def test_content_insights_pass_axe(page: Page, sign_in, axe):
    sign_in(page, STAFF)
    expect(heading(page)).to_have_text("Content insights")
    axe(page)
