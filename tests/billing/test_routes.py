"""Invoice, history and statement pages: every role, a second tenant, page and fragment."""

import csv
import io
import re

import pytest
from pypdf import PdfReader

from app.accounts.models import Role

HX = {"HX-Request": "true"}
BUCKETS = ["Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days"]
READERS = [Role.ADMIN, Role.BILLING, Role.VIEWER]


def invoice_urls(number: str) -> list[str]:
    return [f"/billing/invoices/{number}", f"/billing/invoices/{number}.pdf",
            f"/billing/invoices/{number}.csv"]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_its_invoices(client, login, tenant, role):
    login(tenant.users[role])
    number = tenant.invoice.number
    listing = client.get("/billing/invoices")
    assert listing.status_code == 200
    assert number in listing.get_data(as_text=True)
    assert tenant.other_invoice.number not in listing.get_data(as_text=True)
    for url in invoice_urls(number) + ["/billing/history", "/billing/statement",
                                       "/billing/statement.pdf", "/billing/statement.csv"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("role", READERS)
def test_another_tenants_invoice_is_not_found(client, login, tenant, role):
    login(tenant.users[role])
    number = tenant.other_invoice.number
    for url in invoice_urls(number) + [f"/billing/invoices/{number}/customers/1"]:
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers=HX).status_code == 404, url


def test_the_other_tenant_sees_only_its_own(client, login, tenant):
    login(tenant.other_admin)
    assert client.get(f"/billing/invoices/{tenant.invoice.number}").status_code == 404
    body = client.get("/billing/invoices/" + tenant.other_invoice.number).get_data(as_text=True)
    assert "CA$" in body


def test_staff_have_no_billing_pages(client, login, tenant):
    login(tenant.staff)
    for url in ["/billing/invoices", "/billing/history", "/billing/statement",
                f"/billing/invoices/{tenant.invoice.number}"]:
        assert client.get(url).status_code == 403, url


def test_anonymous_readers_are_sent_to_sign_in(client, tenant):
    for url in invoice_urls(tenant.invoice.number) + ["/billing/invoices", "/billing/statement"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_list_fragment_for_htmx(client, login, tenant):
    login(tenant.users[Role.VIEWER])
    response = client.get("/billing/invoices?status=open", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="invoice-table-inner"' in body
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("query", "shown"),
    [("status=open", True), ("status=paid", False), ("status=void", False),
     ("q=formula", True), ("q=INV-2026", True), ("q=nobody-here", False),
     ("from=2026-03-01&to=2026-03-31", True), ("from=2026-04-01", False)],
)
def test_filters(client, login, tenant, query, shown):
    login(tenant.users[Role.ADMIN])
    body = client.get(f"/billing/invoices?{query}").get_data(as_text=True)
    assert (tenant.invoice.number in body) is shown


def test_overdue_filter_uses_todays_date(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    # Issued 2026-03-01, due 2026-03-31: overdue on any day after that.
    body = client.get("/billing/invoices?status=overdue").get_data(as_text=True)
    assert tenant.invoice.number in body and "Overdue" in body


def test_bad_filter_values_show_an_error_and_keep_the_rest(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    response = client.get("/billing/invoices?from=31/12/2026&q=formula")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Not a valid date value." in body
    assert 'value="formula"' in body and tenant.invoice.number in body
    swapped = client.get("/billing/invoices?from=2026-05-01&to=2026-01-01")
    assert "The end date is before the start date." in swapped.get_data(as_text=True)


def test_totals_of_the_filtered_set(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    body = client.get("/billing/invoices").get_data(as_text=True)
    total = f"${tenant.invoice.total:,.2f}"
    assert f"1 invoice · total {total} · balance due {total}" in body


def test_detail_shows_the_grouped_layout(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    body = client.get(f"/billing/invoices/{tenant.invoice.number}").get_data(as_text=True)
    assert "Summary by end customer" in body and "Charges by end customer" in body
    assert "=Formula Customer" in body and "Customer of R-" in body
    assert "Bill to" in body and "1 Main Street" in body


def test_a_group_expands_by_htmx_or_by_link(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    number = tenant.invoice.number
    body = client.get(f"/billing/invoices/{number}").get_data(as_text=True)
    key = body.split(f"/billing/invoices/{number}/customers/")[1].split('"')[0]
    fragment = client.get(f"/billing/invoices/{number}/customers/{key}", headers=HX)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text
    assert "One-time" in text and "Setup" in text and "<tbody" in text
    plain = client.get(f"/billing/invoices/{number}/customers/{key}")
    assert plain.status_code == 302 and f"expand={key}" in plain.headers["Location"]
    expanded = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert "Setup" in expanded and f'id="customer-{key}" open' in expanded
    assert client.get(f"/billing/invoices/{number}/customers/999999", headers=HX)\
        .status_code == 404
    assert client.get(f"/billing/invoices/{number}/customers/abc").status_code == 404


def test_invoice_pdf_text(client, login, tenant):
    login(tenant.users[Role.VIEWER])
    response = client.get(f"/billing/invoices/{tenant.invoice.number}.pdf")
    assert response.mimetype == "application/pdf"
    assert f'filename="{tenant.invoice.number}.pdf"' in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    assert tenant.invoice.number in text
    assert "Summary by end customer" in text and "=Formula Customer" in text
    assert f"${tenant.invoice.total:,.2f}" in text


def test_cad_invoice_pdf_prints_the_currency(client, login, tenant):
    login(tenant.other_admin)
    text = pdf_text(client.get(f"/billing/invoices/{tenant.other_invoice.number}.pdf").data)
    assert "CA$" in text


def test_invoice_csv_has_the_same_structure(client, login, tenant):
    login(tenant.users[Role.BILLING])
    response = client.get(f"/billing/invoices/{tenant.invoice.number}.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == tenant.invoice.line_count
    assert {row["charge_type"] for row in rows} == {"recurring", "one_time"}
    # Spreadsheet formulas are neutralised.
    assert "'=Formula Customer" in {row["end_customer"] for row in rows}
    assert sum(float(row["amount"]) for row in rows) == pytest.approx(float(
        tenant.invoice.subtotal))


def test_statement_pdf_and_csv(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    query = "?from=2026-01-01&to=2026-06-30"
    page = client.get("/billing/statement" + query).get_data(as_text=True)
    assert tenant.invoice.number in page and "Opening balance" in page
    rows = list(csv.reader(io.StringIO(client.get("/billing/statement.csv" + query)
                                       .get_data(as_text=True))))
    assert rows[1][1] == "Opening balance" and rows[2][2] == tenant.invoice.number
    text = pdf_text(client.get("/billing/statement.pdf" + query).data)
    assert "Statement of account" in text and tenant.invoice.number in text
    fragment = client.get("/billing/statement" + query, headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and "Closing balance" in fragment


def test_every_billing_page_has_help_for_this_page(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    for url in ["/billing/invoices", f"/billing/invoices/{tenant.invoice.number}",
                "/billing/history", "/billing/statement"]:
        assert "Help for this page" in client.get(url).get_data(as_text=True), url


def test_htmx_filters_show_date_errors_beside_the_fields(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    body = client.get("/billing/invoices?from=2026-05-01&to=2026-01-01", headers=HX)\
        .get_data(as_text=True)
    assert 'id="field-to" hx-swap-oob="true"' in body
    assert "The end date is before the start date." in body
    statement = client.get("/billing/statement?from=2026-06-01&to=2026-01-01", headers=HX)\
        .get_data(as_text=True)
    assert 'id="field-to" hx-swap-oob="true"' in statement
    assert "The end date is before the start date." in statement


def test_statement_boxes_show_the_period_shown(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    body = client.get("/billing/statement").get_data(as_text=True)
    assert 'name="from" type="date" value="20' in body and 'name="to" type="date" value="20' in body


def test_dates_read_the_same_way_on_pages_and_pdfs(client, login, tenant):
    """People read "Mar 1, 2026" and "Mar 1 – 31, 2026" (thin spaces around the dash) on every
    page and PDF; ISO dates stay in files and addresses that programs read."""
    login(tenant.users[Role.ADMIN])
    number = tenant.invoice.number
    march = "Mar 1\u2009–\u200931, 2026"
    listing = client.get("/billing/invoices").get_data(as_text=True)
    assert "Mar 1, 2026" in listing and "Mar 31, 2026" in listing
    detail = client.get(f"/billing/invoices/{number}").get_data(as_text=True)
    assert "Mar 1, 2026" in detail and march in detail
    prefix = f"/billing/invoices/{number}/customers/"
    keys = {part.split('"')[0] for part in detail.split(prefix)[1:]}
    lines = "".join(client.get(prefix + key, headers=HX).get_data(as_text=True) for key in keys)
    assert f">{march}</td>" in lines and ">Feb 10, 2026</td>" in lines  # a one-day setup fee
    statement = client.get("/billing/statement?from=2026-01-01&to=2026-06-30")
    text = statement.get_data(as_text=True)
    assert "Jan 1\u2009–\u2009Jun 30, 2026" in text and "Aging on Jun 30, 2026" in text
    assert ">Mar 1, 2026</td>" in text and ">Jan 1, 2026</td>" in text
    assert "from=2026-01-01&amp;to=2026-06-30" in text
    for html in (listing, detail, text):
        assert "2026-03-01" not in html and "March 1, 2026" not in html
    invoice_pdf = pdf_text(client.get(f"/billing/invoices/{number}.pdf").data)
    assert "Mar 1, 2026" in invoice_pdf and "Mar 31, 2026" in invoice_pdf
    statement_pdf = pdf_text(client.get("/billing/statement.pdf?from=2026-01-01&to=2026-06-30")
                             .data)
    assert "Mar 1, 2026" in statement_pdf and "2026-03-01" not in statement_pdf
    rows = list(csv.reader(io.StringIO(client.get("/billing/statement.csv?from=2026-01-01"
                                                  "&to=2026-06-30").get_data(as_text=True))))
    assert rows[1][0] == "2026-01-01"


def download_names(number: str) -> list[tuple[str, str, str]]:
    return [
        (f"/billing/invoices/{number}.pdf", "application/pdf", f"{number}.pdf"),
        (f"/billing/invoices/{number}.csv", "text/csv", f"{number}.csv"),
    ]


@pytest.mark.parametrize("role", READERS)
def test_downloads_are_attachments_never_stored(client, login, tenant, role):
    login(tenant.users[role])
    query = "?from=2026-01-01&to=2026-06-30"
    downloads = download_names(tenant.invoice.number) + [
        (f"/billing/statement.pdf{query}", "application/pdf", None),
        (f"/billing/statement.csv{query}", "text/csv", None),
    ]
    for url, mimetype, filename in downloads:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == mimetype, url
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment; filename="), url
        if filename:
            assert disposition == f'attachment; filename="{filename}"'
        assert response.headers["Cache-Control"] == "no-store", url


# The tenant's March invoice: 1 + 2 + 3 seats × 12.50 = 75.00 and the 99.00 setup fee;
# tax at 10.1 % per line: 1.26 + 2.53 + 3.79 + 10.00 (9.999) = 17.58; total 191.58, due
# March 31, 2026.
@pytest.mark.parametrize(("to", "bucket"), [
    ("2026-03-31", "Current"),      # due that day
    ("2026-04-01", "1–30 days"),
    ("2026-06-29", "61–90 days"),   # 90 days late
    ("2026-06-30", "Over 90 days"),  # 91 days late
])
@pytest.mark.parametrize("headers", [{}, HX])
def test_statement_page_figures(client, login, tenant, to, bucket, headers):
    login(tenant.users[Role.VIEWER])
    body = client.get(f"/billing/statement?from=2026-01-01&to={to}", headers=headers)\
        .get_data(as_text=True)
    assert tenant.invoice.number in body
    assert tenant.other_invoice.number not in body  # the other tenant's invoice
    assert body.count("$191.58") >= 2  # the invoice row and the closing balance
    aging = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>([^<]+)</dd>", body))
    assert aging == {name: "$191.58" if name == bucket else "$0.00" for name in BUCKETS}


def test_statement_before_any_invoice_owes_nothing(client, login, tenant):
    login(tenant.other_admin)
    body = client.get("/billing/statement?from=2026-01-01&to=2026-02-28")\
        .get_data(as_text=True)
    assert tenant.other_invoice.number not in body and tenant.invoice.number not in body
    assert "$191.58" not in body
