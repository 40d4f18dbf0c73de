"""PO numbers in a browser: a billing user of Northwind opens Billing → PO numbers, is refused
a PO number that is too long (the message beside the field, what was typed kept, in place),
then sets one for an end customer and sees it listed; axe-core and no sideways scrolling at
desktop and phone widths. A portal of its own, since it adds PO numbers."""

import re
from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.billing.models import PurchaseOrderNumber
from app.demo.services import DEMO_PASSWORD
from app.extensions import db
from tests.browser.conftest import build_portal, serve
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow

BILLING_USER = "billing@northwind.example"


@pytest.fixture(scope="module")
def po_portal(tmp_path_factory) -> Flask:
    return build_portal(tmp_path_factory.mktemp("po-portal"))


@pytest.fixture(scope="module")
def base(po_portal: Flask) -> Iterator[str]:
    with serve(po_portal) as url:
        yield url


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_a_billing_user_sets_an_end_customers_po_number(page: Page, base: str, po_portal: Flask,
                                                        axe, in_place, browser_errors):
    browser_errors.expect_message(r"status of 422")  # the refused PO number, on purpose
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, BILLING_USER)
    page.goto(f"{base}/billing/invoices")
    page.get_by_role("navigation", name="Billing").get_by_role("link",
                                                               name="PO numbers").click()
    expect(page.get_by_role("heading", name="PO numbers", level=1)).to_be_visible()
    axe(page)

    form = page.get_by_role("region", name="Set a PO number")
    customers = form.get_by_label("End customer").locator("option").all_inner_texts()
    assert customers[0] == "Whole account (default)" and len(customers) > 2
    customer = customers[-1]
    form.get_by_label("End customer").select_option(label=customer)
    too_long = "PO-" + "9" * 40
    form.get_by_label("PO number").fill(too_long)
    expect(form.get_by_label("Effective from")).to_have_value(date.today().isoformat())
    with in_place(page):
        form.get_by_role("button", name="Save PO number").click()
        error = page.locator("#po_number-error")
        expect(error).to_contain_text("at most 40 characters")
    form = page.get_by_role("region", name="Set a PO number")
    expect(form.get_by_label("PO number")).to_have_value(too_long)
    expect(form.get_by_label("End customer")).to_have_value(re.compile(r"^\d+$"))
    axe(page)

    form.get_by_label("PO number").fill("PO-77120")
    with in_place(page):
        form.get_by_role("button", name="Save PO number").click()
        expect(page.get_by_role("status").filter(has_text="PO-77120")).to_have_text(
            re.compile(rf"PO number PO-77120 applies to {re.escape(customer)} from "))
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=customer,
                                                              exact=True))
    expect(row.get_by_role("cell").nth(1)).to_contain_text("PO-77120")
    expect(row.get_by_role("cell").nth(1)).to_contain_text("set by Bill Northwind")
    axe(page)
    with po_portal.app_context():
        assert db.session.scalar(select(PurchaseOrderNumber.number)
                                 .order_by(PurchaseOrderNumber.id.desc()).limit(1)) == "PO-77120"

    page.set_viewport_size(PHONE)
    page.reload()
    assert horizontal_overflow(page) == []
    expect(row.get_by_role("cell").nth(1)).to_be_visible()
    axe(page)
