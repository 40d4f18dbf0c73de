"""Users and roles in a browser: an admin invites a user and copies the sign-up link; the
invitee signs up through it in a fresh browser; the admin changes the invitee's role in place
and deactivates them, which signs them out; the last admin is told why they cannot demote
themselves; the audit log lists it all. axe-core on every screen, at desktop and phone width.

The invitee is new in each run and deactivated at the end, so the demo users other browser
tests sign in as stay as seeded."""

import pytest
from playwright.sync_api import Browser, Page, expect

from app.accounts.users import INVITATION_LIFETIME
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow, mislabelled_cells

NEW_PASSWORD = "a-long-enough-phrase-7"
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def assert_fits(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert not overflow, f"{page.url} scrolls sideways: " + "; ".join(overflow)
    assert mislabelled_cells(page) == []


def check(page: Page, axe, name: str) -> None:
    """axe-core and the phone layout on the screen `name` shows."""
    axe(page)
    assert_fits(page)


@VIEWPORTS
def test_invite_sign_up_change_role_and_deactivate(page: Page, browser: Browser, sign_in, axe,
                                                     in_place, browser_errors, base_url,
                                                     viewport):
    browser_errors.expect_message(r"status of 422")
    browser_errors.expect_message(r"status of 410 .*/signup/")  # the used link, on purpose
    page.set_viewport_size(viewport)
    width = "phone" if viewport == PHONE else "desktop"
    email = f"new.colleague.{width}@northwind.example"
    name = f"New Colleague {width.title()}"

    sign_in(page, "admin@northwind.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Company")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    expect(page.get_by_role("navigation", name="Account").get_by_role(
        "link", name="Users")).to_have_attribute("aria-current", "page")
    check(page, axe, f"list-{width}")

    # The last admin cannot make themselves a viewer: the reason shows beside the control.
    me = page.get_by_role("row").filter(has_text="admin@northwind.example")
    with in_place(page):
        me.get_by_label("Role of").select_option("viewer")
        me.get_by_role("button", name="Change role").click()
        expect(page.locator(".field__error").filter(
            has_text="last active admin")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="admin@northwind.example")
           .get_by_label("Role of")).to_have_value("admin")

    page.get_by_role("link", name="Invite a user").first.click()
    expect(page.get_by_text(f"for {INVITATION_LIFETIME.days} days")).to_be_visible()
    # A mistake first: the error is next to the field and what was typed stays.
    page.get_by_label("E-mail address").fill("not-an-address")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Role").select_option("billing")
    with in_place(page):
        page.get_by_role("button", name="Create invitation link").click()
        expect(page.get_by_label("E-mail address")).to_be_focused()
    expect(page.get_by_text("Enter an e-mail address like name@example.com.")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value(name)
    expect(page.get_by_label("Role")).to_have_value("billing")
    check(page, axe, f"invite-error-{width}")
    page.get_by_label("E-mail address").fill(email)
    with in_place(page):
        page.get_by_role("button", name="Create invitation link").click()
    link = page.get_by_label("Sign-up link").input_value()
    assert link.startswith(f"{base_url}/signup/")
    check(page, axe, f"invite-link-{width}")

    # The invitee, in a browser of their own.
    invitee_context = browser.new_context(base_url=base_url, viewport=viewport)
    browser_errors.watch(invitee_context)
    invitee = invitee_context.new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text(
        "Join Northwind Cloud Solutions")
    check(invitee, axe, f"signup-{width}")
    invitee.get_by_label("Choose a password").fill(NEW_PASSWORD)
    invitee.get_by_label("Type the password again").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Create my account").click()
    expect(invitee.get_by_text(f"Welcome, {name}.")).to_be_visible()
    invitee.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Company")
    expect(invitee.get_by_role("navigation", name="Account").get_by_role(
        "link", name="Users")).to_have_count(0)  # billing users do not manage users

    # The admin makes them a viewer, in place, then deactivates them.
    page.get_by_role("link", name="Back to users").click()
    row = page.get_by_role("row").filter(has_text=email)
    expect(row.get_by_label("Role of")).to_have_value("billing")
    with in_place(page):
        row.get_by_label("Role of").select_option("viewer")
        row.get_by_role("button", name="Change role").click()
        expect(page.get_by_role("status").filter(has_text=f"{name} is now viewer.")) \
            .to_be_focused()
    check(page, axe, f"role-changed-{width}")
    with in_place(page):
        page.get_by_role("row").filter(has_text=email).get_by_role(
            "button", name="Deactivate").click()
        expect(page.get_by_role("status").filter(has_text="is deactivated")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=email).get_by_text("Deactivated", exact=True)) \
        .to_be_visible()

    # Signed out at once: their next page asks them to sign in; the link is used up.
    invitee.goto("/billing/invoices")
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Sign in")
    invitee.goto(link)
    expect(invitee.get_by_text("This sign-up link was used already.")).to_be_visible()
    invitee_context.close()

    # The audit log has it all, newest first.
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    rows = page.locator("table.audit-table tbody tr").filter(has_text=email)
    expect(rows.first).to_contain_text("User deactivated")
    expect(rows.nth(1)).to_contain_text("Role changed")
    page.get_by_label("Action").select_option("user.joined")
    expect(page.locator("table.audit-table tbody tr").first).to_contain_text(email)
    check(page, axe, f"audit-{width}")
