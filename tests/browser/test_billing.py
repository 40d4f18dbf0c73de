"""The billing pages in a browser: finding an invoice with the filters (htmx, URL, back
button), expanding an end customer's group in place and by keyboard (and without JavaScript),
downloading PDF and CSV, historical invoices, the statement, a second tenant in CAD, and
axe-core plus no sideways scrolling at desktop and phone widths.

Expected figures come from the live server's own database through the same query code the
pages use, so the tests follow the demo data (which is generated up to today's month)."""

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader
from sqlalchemy import func, select

from app.accounts.models import Account
from app.billing.invoices import STATUS_FILTERS, InvoiceFilters, list_invoices
from app.billing.models import HistoricalInvoice
from app.billing.statement import AGING_BUCKETS, build_statement
from app.extensions import db
from app.formatting import date_range, medium_date, money
from tests.browser.helpers import DESKTOP, PHONE, horizontal_overflow

NORTHWIND = "R-100001"
BILLING_USER = "billing@northwind.example"
CONTOSO_ADMIN = "admin@contoso.example"
MONEY = r"\$\d{1,3}(,\d{3})*\.\d\d"
CHARGE_TYPES = r"Recurring|Usage|One-time|Proration|Adjustment"


# What the database says ------------------------------------------------------------------------


@contextmanager
def database(portal: Flask) -> Iterator[None]:
    with portal.app_context():
        yield


def northwind_id(portal: Flask) -> int:
    with database(portal):
        return db.session.scalar(select(Account.id).where(Account.number == NORTHWIND))


def invoice_page(portal: Flask, **filters):
    """The page of Northwind's invoices that the list shows for these filters."""
    with database(portal):
        return list_invoices(northwind_id(portal), InvoiceFilters(**filters), date.today())


def summary_line(portal: Flask, **filters) -> str:
    """The list's summary line ("104 invoices · total $… · balance due $…") for these filters,
    formatted as the template does."""
    result = invoice_page(portal, **filters)
    text = f"{result.count} invoice{'s' if result.count != 1 else ''}"
    status = filters.get("status", "all")
    if status != "all":
        text += f" · {STATUS_FILTERS[status]}"
    if result.count:
        text += (
            f" · total {money(result.total, 'USD')}"
            f" · balance due {money(result.balance_due, 'USD')}"
        )
    return text


# The pages ------------------------------------------------------------------------------------


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def invoice_table(page: Page) -> Locator:
    return page.locator("#invoice-table")


def invoice_summary(page: Page) -> Locator:
    """The polite live region above the table; htmx replaces it with the table."""
    return invoice_table(page).get_by_role("status")


def invoice_rows(page: Page) -> Locator:
    return invoice_table(page).locator("tbody tr")


def groups(page: Page) -> Locator:
    """The <details> of the invoice's end customers, under "Charges by end customer"."""
    return page.locator("details.group")


def lines_table(group: Locator) -> Locator:
    return group.locator("table.table--lines")


def open_newest_invoice(page: Page) -> str:
    """Open the first invoice of the list (newest first) and return its number."""
    page.goto("/billing/invoices")
    link = invoice_rows(page).first.get_by_role("link").first
    number = link.inner_text()
    link.click()
    expect(heading(page)).to_contain_text(number)
    return number


def download(page: Page, name: str) -> tuple[str, bytes]:
    """Click the link `name` and return the downloaded file's suggested name and bytes."""
    with page.expect_download() as info:
        page.get_by_role("link", name=name, exact=True).click()
    downloaded = info.value
    return downloaded.suggested_filename, Path(downloaded.path()).read_bytes()


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def amount(text: str) -> Decimal:
    """The amount in a cell such as "$1,234.50" (0 for an empty cell)."""
    digits = re.sub(r"[^\d.\-−]", "", text).replace("−", "-")
    return Decimal(digits) if digits else Decimal("0")


# 1. Finding an invoice ------------------------------------------------------------------------


def test_finding_an_invoice_with_search_status_pages_and_back(
    page: Page, sign_in, in_place, portal
):
    everything = summary_line(portal)
    search = {"q": "Lucerne"}
    overdue = {"q": "Lucerne", "status": "overdue"}
    found, late = invoice_page(portal, **search), invoice_page(portal, **overdue)
    assert 0 < late.count < found.count < invoice_page(portal).count, "demo data changed"

    sign_in(page, BILLING_USER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page).to_have_url(re.compile(r"/billing/invoices$"))
    expect(heading(page)).to_have_text("Invoices")
    expect(
        page.get_by_role("navigation", name="Billing").get_by_role("link", name="Invoices")
    ).to_have_attribute("aria-current", "page")
    expect(invoice_summary(page)).to_have_text(everything)

    box = page.get_by_label("Search invoices")
    status = page.get_by_label("Status", exact=True)
    with in_place(page):
        box.fill("Lucerne")  # one input event: the table follows after the debounce
        expect(page).to_have_url(re.compile(r"/billing/invoices\?(.*&)?q=Lucerne(&|$)"))
        expect(invoice_summary(page)).to_have_text(summary_line(portal, **search))
        expect(invoice_rows(page)).to_have_count(min(found.count, 25))

        status.select_option(label="Overdue")
        expect(page).to_have_url(re.compile(r"[?&]status=overdue(&|$)"))
        expect(page).to_have_url(re.compile(r"[?&]q=Lucerne(&|$)"))
        expect(invoice_summary(page)).to_have_text(summary_line(portal, **overdue))
        expect(invoice_rows(page)).to_have_count(late.count)
        badges = invoice_rows(page).locator(".badge", has_text=re.compile(r"^Overdue$"))
        expect(badges).to_have_count(late.count)
        numbers = [invoice.number for invoice in late.invoices]
        expect(invoice_rows(page).locator("td:first-child a")).to_have_text(numbers)

    # Back: the search without the status filter, fields and table alike.
    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]q=Lucerne(&|$)"))
    expect(page).not_to_have_url(re.compile(r"status=overdue"))
    expect(invoice_summary(page)).to_have_text(summary_line(portal, **search))
    expect(box).to_have_value("Lucerne")
    expect(status).to_have_value("all")

    page.get_by_role("link", name="Clear", exact=True).click()
    expect(page).to_have_url(re.compile(r"/billing/invoices$"))
    expect(invoice_summary(page)).to_have_text(everything)
    expect(box).to_have_value("")
    expect(status).to_have_value("all")

    pages = page.get_by_role("navigation", name="Invoice pages")
    second = invoice_page(portal, page=2)
    expect(pages).to_contain_text(f"Page 1 of {second.pages}")
    with in_place(page):
        pages.get_by_role("link", name="Next").click()
        expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
        expect(pages).to_contain_text(f"Page 2 of {second.pages}")
        expect(invoice_rows(page).first.get_by_role("link").first).to_have_text(
            second.invoices[0].number
        )
        expect(pages.get_by_role("link", name="Previous")).to_be_visible()

    page.go_back()
    expect(page).to_have_url(re.compile(r"/billing/invoices$"))
    expect(pages).to_contain_text(f"Page 1 of {second.pages}")


# 2. Expanding an end customer's group ---------------------------------------------------------


def test_a_group_expands_in_place_and_by_keyboard(page: Page, sign_in, in_place, axe):
    sign_in(page, BILLING_USER)
    open_newest_invoice(page)
    expect(page.get_by_role("heading", name="Summary by end customer")).to_be_visible()
    expect(page.get_by_role("heading", name="Charges by end customer")).to_be_visible()

    first = groups(page).first
    name = first.locator(".group__name").inner_text()
    expect(first).to_have_js_property("open", False)
    with in_place(page):
        first.locator("summary").click()
        expect(first).to_have_js_property("open", True)
        lines = lines_table(first)
        expect(lines).to_be_visible()
        expect(page.get_by_role("region", name=f"Lines of {name}")).to_be_visible()
        expect(lines.locator("tr.row-subgroup").first).to_have_text(re.compile(CHARGE_TYPES))
        expect(lines.locator("tbody td.num").first).to_have_text(re.compile(MONEY))
    axe(page)

    # The keyboard: Enter on a focused summary opens it (and loads its lines), Enter closes it.
    second = groups(page).nth(1)
    summary = second.locator("summary")
    summary.focus()
    expect(summary).to_be_focused()
    with in_place(page):
        page.keyboard.press("Enter")
        expect(second).to_have_js_property("open", True)
        expect(lines_table(second)).to_be_visible()
        expect(lines_table(second)).to_contain_text(re.compile(CHARGE_TYPES))
        page.keyboard.press("Enter")
        expect(second).to_have_js_property("open", False)
        expect(lines_table(second)).to_be_hidden()
        page.keyboard.press("Enter")  # open again: the lines loaded once are still there
        expect(lines_table(second)).to_be_visible()


def test_a_group_shows_every_line_without_javascript(new_context, browser_errors, sign_in):
    context = browser_errors.watch(new_context(java_script_enabled=False))
    page = context.new_page()
    sign_in(page, BILLING_USER)
    open_newest_invoice(page)
    first = groups(page).first
    name = first.locator(".group__name").inner_text()
    first.locator("summary").click()  # <details> opens without JavaScript
    first.get_by_role("link", name=f"Show every line for {name}").click()
    expect(page).to_have_url(re.compile(r"\?expand=\w+#customer-\w+$"))
    opened = page.locator("details.group[open]")
    expect(opened).to_have_count(1)
    expect(opened.locator(".group__name")).to_have_text(name)
    expect(lines_table(opened)).to_contain_text(re.compile(CHARGE_TYPES))


# 3. Downloads ---------------------------------------------------------------------------------


def test_the_invoice_downloads_as_pdf_and_csv(page: Page, sign_in):
    sign_in(page, BILLING_USER)
    number = open_newest_invoice(page)
    line_count = int(page.locator(".facts dt:text-is('Lines') + dd").inner_text())

    filename, data = download(page, "Download PDF")
    assert filename == f"{number}.pdf"
    assert data.startswith(b"%PDF")
    text = "\n".join(pdf_page.extract_text() for pdf_page in PdfReader(io.BytesIO(data)).pages)
    assert number in text
    assert "Summary by end customer" in text

    filename, data = download(page, "Download CSV")
    assert filename == f"{number}.csv"
    rows = csv_rows(data)
    assert rows[0][0] == "invoice_number"
    assert len(rows) - 1 == line_count
    assert {row[0] for row in rows[1:]} == {number}


# 4. Historical invoices -----------------------------------------------------------------------


def test_history_shows_and_downloads_a_historical_invoice(page: Page, sign_in, portal):
    with database(portal):
        count = db.session.scalar(
            select(func.count())
            .select_from(HistoricalInvoice)
            .where(HistoricalInvoice.account_id == northwind_id(portal))
        )
    sign_in(page, BILLING_USER)
    page.goto("/billing/invoices")
    page.get_by_role("navigation", name="Billing").get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(r"/billing/history$"))
    expect(heading(page)).to_have_text("Historical invoices")
    rows = page.locator("main tbody tr")
    expect(rows).to_have_count(min(count, 25))
    expect(rows.first.locator(".badge")).to_have_text("Historical")

    link = rows.first.get_by_role("link").first
    number = link.inner_text()
    link.click()
    expect(page).to_have_url(re.compile(rf"/billing/history/{re.escape(number)}$"))
    expect(heading(page)).to_contain_text(number)
    expect(heading(page).locator(".badge")).to_have_text("Historical")
    line_count = page.locator("main tbody tr").count()
    assert line_count > 0

    filename, data = download(page, "Download CSV")
    assert filename == f"{number}.csv"
    rows = csv_rows(data)
    assert rows[0][0] == "invoice_number"
    assert len(rows) - 1 == line_count
    assert {row[0] for row in rows[1:]} == {number}


# 5. Statement ---------------------------------------------------------------------------------


def test_the_statement_for_a_range_updates_in_place(page: Page, sign_in, in_place, portal):
    date_to = date.today().replace(day=1) - timedelta(days=1)  # end of last month
    date_from = (date_to - timedelta(days=100)).replace(day=1)
    with database(portal):
        statement = build_statement(
            db.session.get(Account, northwind_id(portal)), date_from, date_to
        )
        closing = money(statement.closing, "USD")
        entries = len(statement.rows)
    assert entries > 0, "demo data changed"

    sign_in(page, BILLING_USER)
    page.goto("/billing/invoices")
    page.get_by_role("navigation", name="Billing").get_by_role("link", name="Statement").click()
    expect(heading(page)).to_have_text("Statement of account")
    region = page.locator("#statement")
    summary = region.get_by_role("status")
    url = rf"/billing/statement\?from={date_from}&to={date_to}$"
    # One change at a time: a change while a request is under way makes hx-sync abort that
    # request, and htmx logs every abort as a console error.
    with in_place(page):
        page.get_by_label("From", exact=True).fill(date_from.isoformat())  # a change event
        # The To box already shows the period's end (today), so it travels with From.
        expect(page).to_have_url(re.compile(rf"\?from={date_from}&to=\d{{4}}-\d{{2}}-\d{{2}}$"))
        shown_to = date.fromisoformat(page.get_by_label("To", exact=True).input_value())
        expect(summary).to_contain_text(date_range(date_from, shown_to))
        page.get_by_label("To", exact=True).fill(date_to.isoformat())
        expect(page).to_have_url(re.compile(url))
        expect(summary).to_have_text(
            f"{date_range(date_from, date_to)} · closing balance {closing}"
        )
        with page.expect_response(re.compile(url)) as response:
            page.get_by_role("button", name="Show statement").click()
        assert response.value.ok
        expect(summary).to_have_text(
            f"{date_range(date_from, date_to)} · closing balance {closing}"
        )

    aging = page.get_by_role("region", name=f"Aging on {medium_date(date_to)}")
    expect(aging.locator("dt")).to_have_text(AGING_BUCKETS)
    expect(aging.locator("dd").first).to_have_text(re.compile(MONEY))
    table = region.get_by_role("region", name="Statement entries with running balance")
    closing_row = table.locator("tr", has=page.get_by_role("rowheader", name="Closing balance"))
    expect(closing_row.locator("td").last).to_have_text(closing)
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(entries + 2)

    # The running balance: opening + debits − credits, row by row, ends at the closing balance.
    cells = rows.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    balance = amount(cells[0][-1])
    for row in cells[1:-1]:
        balance += amount(row[4]) - amount(row[5])
        assert amount(row[6]) == balance, row
    assert amount(cells[-1][-1]) == balance

    # The CSV of the same period: the same entries between opening and closing balance.
    filename, data = download(page, "Download CSV")
    assert filename == f"statement-{date_from}-{date_to}.csv"
    rows = csv_rows(data)
    assert rows[0][:3] == ["date", "type", "reference"]
    kinds = [row[1] for row in rows[1:]]
    assert kinds[0] == "Opening balance" and kinds[entries + 1] == "Closing balance"
    assert Decimal(rows[entries + 2][6]) == balance


# 6. Another tenant ----------------------------------------------------------------------------


def test_contoso_sees_cad_and_not_northwinds_invoices(page: Page, sign_in, portal, browser_errors):
    browser_errors.expect_message(r"status of 404")
    northwind_number = invoice_page(portal).invoices[0].number
    sign_in(page, CONTOSO_ADMIN)
    page.goto("/billing/invoices")
    expect(invoice_summary(page)).to_have_text(
        re.compile(r"^\d+ invoices · total CA\$[\d,]+\.\d\d · balance due CA\$[\d,]+\.\d\d$")
    )
    totals = invoice_rows(page).locator("td.num")
    expect(totals.first).to_have_text(re.compile(r"^CA\$[\d,]+\.\d\d$"))
    expect(invoice_table(page).locator("td.num", has_text=re.compile(r"^\$"))).to_have_count(0)
    expect(invoice_table(page)).not_to_contain_text(northwind_number)

    response = page.goto(f"/billing/invoices/{northwind_number}")
    assert response is not None and response.status == 404
    expect(heading(page)).to_have_text("Not Found")
    expect(page.get_by_role("main")).not_to_contain_text("Northwind")
    for suffix in [".pdf", ".csv", "/customers/1"]:
        url = f"/billing/invoices/{northwind_number}{suffix}"
        assert page.request.get(url).status == 404, url


# 7. axe-core and phone width ------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_billing_pages_pass_axe_and_fit_the_screen(page: Page, sign_in, axe, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, BILLING_USER)

    def check(what: str) -> None:
        expect(heading(page)).to_be_visible()
        if viewport == PHONE:
            overflow = horizontal_overflow(page)
            assert not overflow, f"{what} scrolls sideways: " + "; ".join(overflow)
        for region in page.locator(".table-wrap").all():
            expect(region).to_have_attribute("role", "region")
            expect(region).to_have_attribute("tabindex", "0")
            expect(region).to_have_attribute("aria-label", re.compile(r"\w"))
        axe(page)

    page.goto("/billing/invoices")
    # Wide enough on a desktop, stacked on a phone: the table needs no sideways scrolling.
    wrapper = invoice_table(page).locator(".table-wrap")
    assert wrapper.evaluate("el => el.scrollWidth <= el.clientWidth")
    check("the invoice list")

    open_newest_invoice(page)
    check("an invoice")
    first = groups(page).first
    first.locator("summary").click()
    expect(lines_table(first)).to_be_visible()
    check("an invoice with a group open")

    page.goto("/billing/history")
    check("the history")
    page.locator("main tbody tr").first.get_by_role("link").first.click()
    expect(heading(page).locator(".badge")).to_have_text("Historical")
    check("a historical invoice")

    page.goto("/billing/statement")
    expect(page.get_by_role("heading", name=re.compile(r"^Aging on"))).to_be_visible()
    check("the statement")
