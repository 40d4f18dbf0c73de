"""PO numbers: their schedules (effective dates, replacement, ending), validation, tenant
checks and audit; the billing run copying them onto invoices and lines; search and exports."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from app.audit.models import AuditEvent
from app.billing import exports, services
from app.billing.engine import run_billing
from app.billing.erp_invoices import ErpInvoice, ErpLine, post_erp_invoice
from app.billing.invoices import InvoiceFilters, invoice_groups, list_invoices
from app.billing.models import Invoice, InvoiceLine, PurchaseOrderNumber
from app.billing.models.invoices import ImmutableDocumentError
from app.billing.po_numbers import (
    PO_NUMBER_MAX_LENGTH,
    SCHEDULE_YEARS_AHEAD,
    WHOLE_ACCOUNT,
    PONumberRefused,
    check_effective_date,
    clean_po_number,
    earliest_effective_date,
    latest_effective_date,
    po_numbers_on,
    po_schedules,
    schedule_po_number,
)
from app.billing.rating import Period
from app.extensions import db

TODAY = date(2026, 1, 15)


def schedule(account, number, effective_from, customer=None, today=None, by=None):
    entry = schedule_po_number(account.id, end_customer=customer, number=number,
                               effective_from=effective_from, today=today or effective_from,
                               by=by)
    db.session.commit()
    return entry


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("PO-4500012345", "PO-4500012345"),
    ("  4500 0123 / B  ", "4500 0123 / B"),
    ("Bestellnr. Ä-17 №5", "Bestellnr. Ä-17 №5"),
    ("x" * PO_NUMBER_MAX_LENGTH, "x" * PO_NUMBER_MAX_LENGTH),
    ("", None),
    ("   ", None),
    (None, None),
])
def test_a_po_number_is_trimmed_and_empty_means_none(typed, stored):
    assert clean_po_number(typed) == stored


@pytest.mark.parametrize("typed, says", [
    ("x" * (PO_NUMBER_MAX_LENGTH + 1), f"at most {PO_NUMBER_MAX_LENGTH} characters"),
    ("PO\t17", "control characters"),
    ("PO\n17", "line breaks"),
    ("PO\x0717", "control characters"),
    ("PO\u200b17", "control characters"),  # a zero-width space cannot be seen on the invoice
])
def test_a_po_number_refuses_overlong_and_unprintable_text(typed, says):
    with pytest.raises(ValueError, match=says):
        clean_po_number(typed)


@pytest.mark.parametrize("today, earliest, latest", [
    (date(2026, 1, 15), date(2026, 1, 1), date(2026 + SCHEDULE_YEARS_AHEAD, 1, 15)),
    (date(2028, 2, 29), date(2028, 2, 1), date(2028 + SCHEDULE_YEARS_AHEAD, 2, 28)),
])
def test_effective_dates_run_from_the_first_of_the_month_to_years_ahead(today, earliest,
                                                                         latest):
    assert (earliest_effective_date(today), latest_effective_date(today)) == (earliest, latest)
    check_effective_date(earliest, today)
    check_effective_date(latest, today)
    with pytest.raises(ValueError, match="already issued"):
        check_effective_date(date.fromordinal(earliest.toordinal() - 1), today)
    with pytest.raises(ValueError, match="years ahead"):
        check_effective_date(date.fromordinal(latest.toordinal() + 1), today)


# --- schedules ------------------------------------------------------------------------------

def test_the_entry_in_effect_is_the_latest_on_or_before_the_day(app, billing):
    account = billing.account(subscriptions=0)
    adatum = services.create_end_customer(account.id, "Adatum")
    schedule(account, "A-1", date(2026, 2, 1))
    schedule(account, "A-2", date(2026, 5, 1))
    schedule(account, None, date(2026, 8, 1))  # ends the default
    schedule(account, "C-1", date(2026, 3, 1), customer=adatum)
    schedule(account, "C-1b", date(2026, 3, 1), customer=adatum)  # replaces C-1, same day
    expected = [
        (date(2026, 1, 31), None, {}),
        (date(2026, 2, 1), "A-1", {}),
        (date(2026, 3, 1), "A-1", {adatum.id: "C-1b"}),
        (date(2026, 4, 30), "A-1", {adatum.id: "C-1b"}),
        (date(2026, 5, 1), "A-2", {adatum.id: "C-1b"}),
        (date(2026, 8, 1), None, {adatum.id: "C-1b"}),
    ]
    for day, account_po, customer_pos in expected:
        in_effect = po_numbers_on(account.id, day)
        assert (in_effect.account, in_effect.customers) == (account_po, customer_pos), day


def test_another_accounts_schedule_is_its_own(app, billing):
    home, other = billing.account(subscriptions=0), billing.account(subscriptions=0)
    schedule(home, "HOME-1", date(2026, 1, 1))
    assert po_numbers_on(other.id, date(2026, 6, 1)).account is None


def test_an_end_customer_of_another_account_is_not_found(app, billing):
    home, other = billing.account(subscriptions=0), billing.account(subscriptions=0)
    theirs = services.create_end_customer(other.id, "Their customer")
    with pytest.raises(NotFound):
        schedule(home, "PO-1", TODAY, customer=theirs)
    assert db.session.scalar(select(PurchaseOrderNumber.id)) is None


@pytest.mark.parametrize("number, day, field, says", [
    ("x" * 41, TODAY, "po_number", "at most 40"),
    ("PO\n1", TODAY, "po_number", "line breaks"),
    ("PO-1", date(2025, 12, 31), "effective_from", "already issued"),
    ("PO-1", date(2029, 1, 1), "effective_from", "years ahead"),
    ("   ", TODAY, "po_number", "no PO number to end"),
])
def test_refused_entries_name_their_field_and_save_nothing(app, billing, number, day, field,
                                                           says):
    account = billing.account(subscriptions=0)
    with pytest.raises(PONumberRefused, match=says) as refused:
        schedule_po_number(account.id, end_customer=None, number=number, effective_from=day,
                           today=TODAY)
    assert refused.value.field == field and refused.value.status == 422
    assert db.session.scalar(select(PurchaseOrderNumber.id)) is None


def test_a_blank_number_ends_a_scheduled_one_too(app, billing):
    account = billing.account(subscriptions=0)
    schedule(account, "LATER", date(2026, 3, 1), today=TODAY)
    # Nothing in effect on Feb 1, but a number is scheduled after it: ending is meaningful.
    schedule(account, None, date(2026, 2, 1), today=TODAY)
    schedule(account, None, date(2026, 4, 1), today=TODAY)
    with pytest.raises(PONumberRefused, match="no PO number to end"):
        schedule(account, None, date(2026, 5, 1), today=TODAY)


def test_each_change_is_audited_with_who_and_what(app, billing, factory):
    account = billing.account(subscriptions=0)
    user = factory.user(account=account)
    adatum = services.create_end_customer(account.id, "Adatum")
    schedule(account, "PO-9", date(2026, 2, 1), customer=adatum, today=TODAY, by=user)
    schedule(account, None, date(2026, 3, 1), customer=adatum, today=TODAY, by=user)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor_user_id, e.account_id, e.details) for e in events] == [
        ("po_number.set", user.id, account.id,
         {"applies_to": "Adatum", "po_number": "PO-9", "effective_from": "2026-02-01"}),
        ("po_number.ended", user.id, account.id,
         {"applies_to": "Adatum", "po_number": "", "effective_from": "2026-03-01"}),
    ]


def test_the_page_lists_today_and_what_is_scheduled(app, billing, factory):
    account = billing.account(subscriptions=0)
    user = factory.user(account=account, name="Bill Payer")
    adatum = services.create_end_customer(account.id, "Adatum")
    fabrikam = services.create_end_customer(account.id, "Fabrikam")
    services.create_end_customer(account.id, "No PO Inc")
    schedule(account, "ACC-1", date(2026, 1, 1), today=TODAY, by=user)
    schedule(account, "ACC-2", date(2026, 2, 1), today=TODAY)
    schedule(account, "ACC-2b", date(2026, 2, 1), today=TODAY)  # replaces ACC-2
    schedule(account, "F-1", date(2026, 1, 1), customer=fabrikam, today=TODAY)
    schedule(account, None, date(2026, 1, 10), customer=fabrikam, today=TODAY)  # ended
    schedule(account, "AD-1", date(2026, 6, 1), customer=adatum, today=TODAY)
    rows = po_schedules(account.id, TODAY)
    assert [(row.label, row.current and row.current.number,
             [(entry.number, entry.effective_from) for entry in row.scheduled])
            for row in rows] == [
        ("Whole account (default)", "ACC-1", [("ACC-2b", date(2026, 2, 1))]),
        ("Adatum", None, [("AD-1", date(2026, 6, 1))]),
    ]
    assert rows[0].current.set_by == "Bill Payer"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["A", "B", None])),
                        min_size=1, max_size=8),
       day=st.integers(0, 45))
def test_resolution_agrees_with_reading_the_entries_in_order(app, billing, entries, day):
    account = billing.account(subscriptions=0)
    start = date(2026, 1, 1)
    added = []
    for offset, number in entries:
        effective = date.fromordinal(start.toordinal() + offset)
        db.session.add(PurchaseOrderNumber(account_id=account.id, number=number,
                                           effective_from=effective))
        added.append((effective, len(added), number))
    db.session.flush()
    on = date.fromordinal(start.toordinal() + day)
    in_effect = [number for effective, _, number in sorted(added) if effective <= on]
    assert po_numbers_on(account.id, on).account == (in_effect[-1] if in_effect else None)
    db.session.rollback()


# --- the billing run ------------------------------------------------------------------------

@pytest.fixture
def billed(app, billing):
    """An account with two end customers (Adatum, Fabrikam) billed for 2026-01, before any PO
    number exists; then an account default and Adatum's own PO number from Jan 1, and the
    invoices of 2026-02 and 2026-03."""
    billing.tax()
    account = billing.account(subscriptions=2, start=date(2025, 12, 1))
    adatum = services.create_end_customer(account.id, "Adatum")
    fabrikam = services.create_end_customer(account.id, "Fabrikam")
    for customer in (adatum, fabrikam):
        services.create_subscription(customer=customer, product=billing.product(), quantity=3,
                                     unit_price=Decimal("10.00"), start_date=date(2025, 12, 1))
    db.session.commit()
    run_billing(Period.parse("2026-01"))
    schedule(account, "PO-ACCOUNT-1", date(2026, 1, 1), today=TODAY)
    schedule(account, "PO-ADATUM-7", date(2026, 1, 1), customer=adatum, today=TODAY)
    schedule(account, "PO-ACCOUNT-2", date(2026, 3, 1), today=TODAY)
    run_billing(Period.parse("2026-02"))
    run_billing(Period.parse("2026-03"))
    invoices = {invoice.period_start.month: invoice for invoice in db.session.scalars(
        select(Invoice).where(Invoice.account_id == account.id))}

    class Billed:
        pass

    Billed.account, Billed.adatum, Billed.fabrikam, Billed.invoices = (account, adatum,
                                                                        fabrikam, invoices)
    return Billed


def line_pos(invoice) -> dict[str, set]:
    rows = db.session.execute(select(InvoiceLine.end_customer_name, InvoiceLine.po_number)
                              .where(InvoiceLine.invoice_id == invoice.id)).all()
    found: dict[str, set] = {}
    for name, po_number in rows:
        found.setdefault(name, set()).add(po_number)
    return found


def test_an_invoice_issued_before_a_po_number_was_set_never_changes(billed):
    january = billed.invoices[1]
    db.session.refresh(january)
    assert january.po_number is None
    assert set().union(*line_pos(january).values()) == {None}
    january.po_number = "LATER"
    with pytest.raises(ImmutableDocumentError):
        db.session.flush()
    db.session.rollback()


def test_invoices_issued_afterwards_carry_the_numbers_in_effect_on_their_issue_date(billed):
    assert billed.invoices[2].po_number == "PO-ACCOUNT-1"
    assert billed.invoices[3].po_number == "PO-ACCOUNT-2"
    customer_of_account = f"Customer of {billed.account.number}"
    for month in (2, 3):
        # Adatum's own PO number on Adatum's lines only; the others are billed under the
        # invoice's.
        assert line_pos(billed.invoices[month]) == {
            "Adatum": {"PO-ADATUM-7"}, "Fabrikam": {None}, customer_of_account: {None}}
    groups = {group.name: group.po_number for group in invoice_groups(billed.invoices[2])}
    assert groups == {"Adatum": "PO-ADATUM-7", "Fabrikam": None, customer_of_account: None}


def test_an_invoice_the_erp_issues_carries_the_account_po_number_of_its_issue_date(billed):
    lines = [ErpLine("Consulting", Decimal("2"), Decimal("50"), Decimal("100.00"),
                     Decimal("10.10"))]

    def post(number, issued):
        return post_erp_invoice(billed.account, ErpInvoice(
            number=number, period_start=date(2026, 2, 1), period_end=date(2026, 2, 28),
            period_key="2026-02", issue_date=issued, due_date=date(2026, 4, 30),
            currency="USD", lines=lines, subtotal=Decimal("100.00"), tax=Decimal("10.10"),
            total=Decimal("110.10")))

    assert post("ERP-1", date(2025, 12, 31)).po_number is None
    assert post("ERP-2", date(2026, 2, 15)).po_number == "PO-ACCOUNT-1"
    assert post("ERP-3", date(2026, 3, 1)).po_number == "PO-ACCOUNT-2"


@pytest.mark.parametrize("q, months", [
    ("PO-ACCOUNT-1", {2}),
    ("account-2", {3}),
    ("adatum-7", {2, 3}),  # a line's PO number
    ("PO-", {2, 3}),
    ("Fabrikam", {1, 2, 3}),  # end customers are still found
])
def test_search_finds_invoices_by_the_account_and_the_line_po_numbers(billed, q, months):
    page = list_invoices(billed.account.id, InvoiceFilters(q=q), TODAY)
    assert {invoice.period_start.month for invoice in page.invoices} == months


def test_the_csv_adds_the_po_number_of_each_line_as_its_last_column(app, billed):
    with app.test_request_context():
        rows = list(csv.reader(io.StringIO(exports.invoice_csv(billed.invoices[2]))))
    # The columns there were before keep their places.
    assert rows[0] == [
        "invoice_number", "end_customer", "subscription", "sku", "charge_type", "description",
        "service_start", "service_end", "quantity", "unit_price", "amount", "tax_rate", "tax",
        "currency", "po_number"]
    by_customer = {(row[1], row[-1]) for row in rows[1:]}
    assert by_customer == {("Adatum", "PO-ADATUM-7"), ("Fabrikam", "PO-ACCOUNT-1"),
                           (f"Customer of {billed.account.number}", "PO-ACCOUNT-1")}
    with app.test_request_context():
        january = list(csv.reader(io.StringIO(exports.invoice_csv(billed.invoices[1]))))
    assert {row[-1] for row in january[1:]} == {""}


def test_the_pdf_prints_the_account_and_the_end_customer_po_numbers(app, billed):
    with app.test_request_context():
        pdf = exports.invoice_pdf(billed.invoices[2])
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "PO number PO-ACCOUNT-1" in text.replace("\n", " ")
    assert "PO number PO-ADATUM-7" in text  # under Adatum in the summary
    assert "Adatum · PO PO-ADATUM-7" in text  # Adatum's group of lines
    assert "Fabrikam · PO" not in text


# --- help ------------------------------------------------------------------------------------

ARTICLES = Path(__file__).parents[2] / "content/articles"


def flat(path: Path) -> str:
    return " ".join(path.read_text().split())


def test_the_article_states_the_rules_the_code_applies():
    text = flat(ARTICLES / "purchase-order-numbers.md")
    assert f"up to {PO_NUMBER_MAX_LENGTH} characters" in text
    assert f"up to {SCHEDULE_YEARS_AHEAD} years ahead" in text
    assert "from the first day of the current month" in text
    assert f"*{WHOLE_ACCOUNT}*" in text


def test_the_download_article_lists_every_csv_column_in_order():
    text = (ARTICLES / "download-invoice-pdf-and-csv.md").read_text()
    listed = [name for row in re.findall(r"^\| (`[^|]+) \|", text, re.M)
              for name in re.findall(r"`([a-z_]+)`", row)]
    assert listed == exports.CSV_COLUMNS
