"""Phones (390 × 844) and desktops (1280 × 800): every page fits the screen without sideways
scrolling and passes axe-core's default rules. On a phone the billing pages show every amount and
status on screen, as stacked rows that screen readers still read as tables, and an article starts
with its title and a folded table of contents."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    boxes,
    horizontal_overflow,
    mislabelled_cells,
    off_screen,
)

BILLING_USER = "billing@northwind.example"
ARTICLE = "what-will-my-invoice-look-like"
MONEY = re.compile(r"^−?(CA)?\$[\d,]+\.\d\d$")
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])

PAGES = [
    ("/help", None),
    ("/help/category/invoices-billing", None),
    (f"/help/{ARTICLE}", None),
    ("/help/marketplace-enhancements-april-2018", None),
    ("/help/search?q=invoice", None),
    ("/login", None),
    ("/", "admin@northwind.example"),
    ("/help/insights", "staff@distributor.example"),
]


def assert_fits(page: Page, what: str) -> None:
    overflow = horizontal_overflow(page)
    assert not overflow, f"{what} scrolls sideways: " + "; ".join(overflow)


@VIEWPORTS
@pytest.mark.parametrize(("path", "user"), PAGES, ids=[path for path, _ in PAGES])
def test_the_page_fits_the_screen_and_passes_axe(page: Page, sign_in, axe, path, user, viewport):
    page.set_viewport_size(viewport)
    if user:
        sign_in(page, user)
    response = page.goto(path)
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_fits(page, path)
    axe(page)


def test_every_article_fits_a_phone_and_passes_axe(page: Page, axe, library):
    page.set_viewport_size(PHONE)
    for slug in sorted(library.articles):
        page.goto(f"/help/{slug}")
        expect(page.get_by_role("heading", level=1)).to_have_text(library.get(slug).title)
        assert_fits(page, slug)
        axe(page)


# Billing pages on a phone ---------------------------------------------------------------------


def assert_on_screen(page: Page, selector: str, what: str, at_least: int) -> list[dict]:
    """Every element `selector` finds (with text) lies within the screen's width; there are at
    least `at_least` of them, so that the check cannot pass on an empty page."""
    found = boxes(page, selector)
    assert len(found) >= at_least, f"{what}: {len(found)} found, expected {at_least} or more"
    outside = off_screen(page, found)
    assert not outside, f"{what} off screen: " + "; ".join(outside[:5])
    return found


def assert_money(found: list[dict], what: str) -> None:
    texts = [item["text"] for item in found]
    assert all(MONEY.match(text) for text in texts), f"{what}: {texts[:5]}"


def shown_label(page: Page, selector: str) -> list[str]:
    """The label a phone shows before each cell `selector` finds (its ::before content)."""
    return page.locator(selector).evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content.split(' / ')[0])"
    )


@pytest.fixture
def phone_page(page: Page, sign_in) -> Page:
    page.set_viewport_size(PHONE)
    sign_in(page, BILLING_USER)
    return page


def test_the_invoice_list_shows_status_total_and_balance_on_a_phone(phone_page: Page, axe):
    page = phone_page
    page.goto("/billing/invoices")
    rows = page.locator("#invoice-table tbody tr")
    count = rows.count()
    assert count > 0
    assert_fits(page, "the invoice list")
    assert_on_screen(page, "#invoice-table .table-summary", "the totals of the list", 1)
    totals = assert_on_screen(page, "#invoice-table tbody td.num", "totals and balances", 2 * count)
    assert_money(totals, "totals and balances")
    assert_on_screen(page, "#invoice-table tbody .badge", "statuses", count)
    assert_on_screen(page, "#invoice-table tbody td a", "invoice numbers and downloads", 3 * count)
    # Each amount is labelled on screen with its column's name.
    first = rows.first.locator("td.num")
    assert shown_label(page, "#invoice-table tbody tr:first-child td.num") == [
        '"Total"', '"Balance due"'
    ]
    expect(first).to_have_count(2)
    assert not mislabelled_cells(page)
    axe(page)


def test_an_invoice_shows_every_total_on_a_phone(phone_page: Page, axe):
    page = phone_page
    page.goto("/billing/invoices")
    page.locator("#invoice-table tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("INV-")
    customers = page.locator("details.group").count()
    assert customers > 0
    assert_money(
        assert_on_screen(page, "main table tbody td.num:not([data-label='Lines'])",
                         "end customers' subtotals, taxes and totals", 3 * customers),
        "end customers' amounts",
    )
    assert_money(
        assert_on_screen(page, "main table tfoot td.num", "the invoice's totals", 4),
        "the invoice's totals",
    )
    labels = assert_on_screen(page, "main table tfoot th", "the totals' labels", 4)
    assert labels[-1]["text"] == "Balance due"
    assert_on_screen(page, "h1 .badge", "the status", 1)
    assert_on_screen(page, ".group__amount", "each end customer's charges", customers)

    first = page.locator("details.group").first
    first.locator("summary").click()
    lines = first.locator("table.table--lines")
    expect(lines).to_be_visible()
    line_rows = lines.locator("tbody tr:not(.row-group):not(.row-subgroup)").count()
    assert_money(
        assert_on_screen(page, "table.table--lines td.num:not([data-label='Quantity'])",
                         "the lines' prices, amounts and taxes", 3 * line_rows),
        "the lines' amounts",
    )
    assert_on_screen(page, "table.table--lines td[data-label='Service period']",
                     "service periods", line_rows)
    assert_fits(page, "an invoice with an end customer open")
    assert not mislabelled_cells(page)
    axe(page)


def test_history_and_a_historical_invoice_show_their_totals_on_a_phone(phone_page: Page, axe):
    page = phone_page
    page.goto("/billing/history")
    rows = page.locator("main tbody tr").count()
    assert rows > 0
    assert_money(assert_on_screen(page, "main tbody td.num", "historical totals", rows),
                 "historical totals")
    assert_fits(page, "the history")
    assert not mislabelled_cells(page)
    axe(page)

    page.locator("main tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("Historical")
    lines = page.locator("main tbody tr").count()
    assert_money(
        assert_on_screen(page, "main tbody td.num:not([data-label='Quantity'])",
                         "line prices, amounts and taxes", 3 * lines),
        "line amounts",
    )
    assert_money(assert_on_screen(page, "main tfoot td.num", "subtotal, tax and total", 3),
                 "subtotal, tax and total")
    assert_fits(page, "a historical invoice")
    assert not mislabelled_cells(page)
    axe(page)


def test_the_statement_shows_debits_credits_balances_and_aging_on_a_phone(phone_page: Page, axe):
    page = phone_page
    page.goto("/billing/statement")
    table = page.get_by_role("region", name="Statement entries with running balance")
    entries = table.locator("tbody tr").count() - 2  # between opening and closing balance
    assert entries > 0, "demo data changed"
    amounts = assert_on_screen(page, "#statement tbody td.num",
                               "debits, credits and balances", entries + 2)
    assert_money(amounts, "debits, credits and balances")
    assert_money(assert_on_screen(page, ".aging dd", "aging buckets", 5), "aging buckets")
    assert_on_screen(page, "#statement tbody th", "opening and closing balance", 2)
    assert shown_label(page, "#statement tbody tr:nth-child(2) td.num") == [
        '"Debit"', '"Credit"', '"Balance"'
    ]
    assert_fits(page, "the statement")
    assert not mislabelled_cells(page)
    axe(page)


def test_stacked_tables_stay_tables_for_screen_readers(phone_page: Page):
    """What Chromium gives screen readers (its accessibility tree, through the DevTools
    protocol): at phone width the invoice list is still a table with its column headers, one
    row per invoice and a cell per column, and the on-screen labels are not read twice."""
    page = phone_page
    page.goto("/billing/invoices")
    invoices = page.locator("#invoice-table tbody tr").count()
    session = page.context.new_cdp_session(page)
    nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    seen = [node for node in nodes if not node.get("ignored")]
    roles = [node["role"]["value"] for node in seen]
    headers = [node.get("name", {}).get("value") for node in seen
               if node["role"]["value"] == "columnheader"]
    assert roles.count("table") == 1
    assert headers == ["Invoice", "Issued", "Due", "Status", "Total", "Balance due", "Downloads"]
    assert roles.count("row") == invoices + 1
    assert roles.count("cell") == 7 * invoices
    cell_names = [node.get("name", {}).get("value", "") for node in seen
                  if node["role"]["value"] == "cell"]
    assert any(MONEY.match(name) for name in cell_names), cell_names[:7]
    assert not any(name.startswith(("Total", "Balance due", "Issued")) for name in cell_names)


# An article on a phone and on a desktop -------------------------------------------------------


@VIEWPORTS
def test_an_article_starts_with_its_title_then_its_contents(page: Page, library, viewport):
    article = library.get(ARTICLE)
    page.set_viewport_size(viewport)
    page.goto(f"/help/{ARTICLE}")
    title = page.get_by_role("heading", level=1)
    contents = page.locator("details.toc")
    toc = page.get_by_role("navigation", name="On this page")
    expect(title).to_have_text(article.title)
    expect(title).to_be_in_viewport()
    title_box, contents_box = title.bounding_box(), contents.bounding_box()
    assert title_box and contents_box
    links = toc.get_by_role("link")
    if viewport == PHONE:
        # Under the title, folded: one tap opens it.
        assert contents_box["y"] > title_box["y"] + title_box["height"]
        expect(contents).to_have_js_property("open", False)
        expect(links.first).to_be_hidden()
        contents.locator("summary").click()
        expect(links.first).to_be_visible()
    else:
        # Beside the article, open.
        assert contents_box["x"] > title_box["x"] + title_box["width"]
        expect(contents).to_have_js_property("open", True)
        expect(links.first).to_be_visible()
    expect(links).to_have_count(sum(1 + len(item["children"]) for item in article.toc))
    assert_fits(page, "the article")
