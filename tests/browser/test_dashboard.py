"""The dashboard in a browser: the demo admin opens on the balance with Pay, pays an open
invoice by card in the pay flow and finds the new balance back on the dashboard; dismisses the
"What's changed" banner, which stays dismissed after a reload; axe-core and no sideways
scrolling, at desktop and phone widths.

It pays, so it runs on a portal of its own; expected figures come from its database."""

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete, select

from app.accounts.models import Account, User
from app.dashboard.models import BannerDismissal
from app.extensions import db
from app.formatting import money
from app.payments.pay import payable_invoices
from tests.browser.conftest import build_portal, serve, sign_in_as
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow

NORTHWIND = "R-100001"
ADMIN = "admin@northwind.example"
BANNER = "What's changed in the control panel"


@pytest.fixture(scope="module")
def dashboard_portal(tmp_path_factory) -> Flask:
    return build_portal(tmp_path_factory.mktemp("dashboard-portal"))


@pytest.fixture(scope="module")
def dashboard_server(dashboard_portal: Flask) -> Iterator[str]:
    with serve(dashboard_portal) as base_url:
        yield base_url


def balance_due(portal: Flask) -> Decimal:
    with portal.app_context():
        account = db.session.scalar(select(Account).where(Account.number == NORTHWIND))
        return sum((invoice.balance_due for invoice in payable_invoices(account.id)),
                   Decimal("0.00"))


def open_invoices(portal: Flask):
    with portal.app_context():
        account = db.session.scalar(select(Account).where(Account.number == NORTHWIND))
        invoices = payable_invoices(account.id)
        for invoice in invoices:
            db.session.expunge(invoice)
        return invoices


def forget_dismissal(portal: Flask) -> None:
    with portal.app_context():
        admin = db.session.scalar(select(User).where(User.email == ADMIN))
        db.session.execute(delete(BannerDismissal).where(BannerDismissal.user_id == admin.id))
        db.session.commit()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_admin_pays_from_the_dashboard(browser: Browser, dashboard_server, dashboard_portal,
                                           browser_errors, axe, viewport):
    forget_dismissal(dashboard_portal)
    context = browser_errors.watch(browser.new_context(base_url=dashboard_server,
                                                       viewport=viewport))
    page: Page = context.new_page()
    sign_in_as(page, ADMIN)
    page.goto("/")
    before = balance_due(dashboard_portal)
    tile = page.get_by_role("region", name="Balance due")
    expect(tile.locator("#balance-due")).to_have_text(money(before, "USD"))
    expect(tile.get_by_text("Overdue")).to_be_visible()
    expect(page.get_by_role("heading", name=BANNER)).to_be_visible()
    assert horizontal_overflow(page) == []
    axe(page)

    # Dismissed by htmx, the banner stays dismissed after a reload.
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text("Banner dismissed.")).to_be_focused()
    expect(page.get_by_role("heading", name=BANNER)).to_have_count(0)
    page.reload()
    expect(page.get_by_role("region", name="Balance due")).to_be_visible()
    expect(page.get_by_role("heading", name=BANNER)).to_have_count(0)

    # Pay the oldest open invoice in full by card.
    invoices = open_invoices(dashboard_portal)
    paid = invoices[0]
    balance = page.get_by_role("region", name="Balance due")
    balance.get_by_role("link", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Pay invoices", level=1)).to_be_visible()
    for invoice in invoices:
        page.get_by_label(f"Pay {invoice.number}").set_checked(invoice.id == paid.id)
    page.get_by_label("Visa •••• 4242").check()
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Review your payment")).to_be_visible()
    page.get_by_role("button", name="Confirm payment").click()
    expect(page).to_have_url(re.compile(r"/billing/payments/\d+$"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    after = balance_due(dashboard_portal)
    assert after == before - paid.balance_due
    expect(page.locator("#balance-due")).to_have_text(money(after, "USD"))
    expect(page.get_by_role("region", name="Recent payments")).to_contain_text(
        money(paid.balance_due, "USD"))
    expect(page.get_by_role("heading", name=BANNER)).to_have_count(0)
    assert horizontal_overflow(page) == []
    axe(page)
    context.close()
