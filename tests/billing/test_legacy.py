"""Importing historical invoices from the legacy CSV export."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing.legacy import COLUMNS, import_rows
from app.billing.models import HistoricalInvoice
from app.extensions import db

CUTOVER = date(2018, 4, 2)


def rows(*lines: str) -> list[list[str]]:
    text = ",".join(COLUMNS) + "\n" + "\n".join(lines)
    return list(csv.reader(io.StringIO(text)))


def line(number="L-1", line_no="1", account="R-900001", invoice_date="2017-05-01",
         due="2017-05-31", currency="USD", status="paid", description="Seats",
         quantity="3", unit_price="12.50", amount="37.50", tax="3.79") -> str:
    return ",".join([account, number, invoice_date, due, currency, status, line_no,
                     description, quantity, unit_price, amount, tax])


@pytest.fixture
def account(factory):
    return factory.account(number="R-900001")


def imported() -> list[HistoricalInvoice]:
    db.session.expire_all()
    return list(db.session.scalars(select(HistoricalInvoice).order_by(HistoricalInvoice.number)))


def test_valid_rows_become_read_only_historical_invoices(account):
    report = import_rows(rows(line(), line(line_no="2", quantity="1", unit_price="99",
                                           amount="99.00", tax="10.00"),
                              line(number="L-2")), cutover=CUTOVER)
    db.session.commit()
    assert report.imported == ["L-1", "L-2"] and report.rejected == []
    first = imported()[0]
    assert (first.subtotal, first.tax_total, first.total) == (
        Decimal("136.50"), Decimal("13.79"), Decimal("150.29"))
    assert first.legacy_status == "paid" and first.currency == "USD"


def test_importing_twice_changes_nothing(account):
    data = rows(line(), line(number="L-2"))
    import_rows(data, cutover=CUTOVER)
    db.session.commit()
    report = import_rows(data, cutover=CUTOVER)
    assert report.imported == [] and report.already_imported == ["L-1", "L-2"]
    assert len(imported()) == 2


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (line(amount="40.00"), "is not quantity × unit_price"),
        (line(quantity="three"), "quantity 'three' is not a number"),
        (line(invoice_date="2018-04-01"), "is not before 2018-04-01"),
        (line(invoice_date="01/05/2017"), "is not a date"),
        (line(due="2017-04-01"), "due_date is before invoice_date"),
        (line(currency="CAD"), "currency CAD is not the account's (USD)"),
        (line(account="R-404404"), "account 'R-404404' does not exist"),
        (line(status="lost"), "status 'lost' is not paid, open or void"),
        (line(tax="-1.00"), "tax is negative"),
        (line(line_no="0"), "not a positive whole number"),
        (line(description=""), "description is empty"),
        (line(amount="37.5001", unit_price="12.500033"), "at most two decimals"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_and_reason(account, bad, reason):
    report = import_rows(rows(line(number="L-OK"), bad), cutover=CUTOVER)
    assert report.imported == ["L-OK"]
    assert [(r.line, r.invoice_number) for r in report.rejected][0] == (3, "L-1")
    assert reason in " ".join(r.reason for r in report.rejected)


def test_an_invoice_with_one_bad_line_is_rejected_whole(account):
    report = import_rows(rows(line(), line(line_no="2", amount="1.00")), cutover=CUTOVER)
    assert report.imported == [] and report.rejected_invoices == ["L-1"]
    assert imported() == []


def test_lines_of_one_invoice_must_agree(account):
    report = import_rows(rows(line(), line(line_no="2", due="2017-06-30")), cutover=CUTOVER)
    assert "due_date differs from the invoice's first line" in report.rejected[0].reason
    report = import_rows(rows(line(), line()), cutover=CUTOVER)
    assert "line_number 1 appears twice" in report.rejected[0].reason


def test_wrong_header_or_column_count(account):
    report = import_rows([["number", "amount"], ["x", "1"]], cutover=CUTOVER)
    assert report.rejected[0].line == 1 and "header" in report.rejected[0].reason
    report = import_rows(rows("R-900001,L-9,2017-01-01"), cutover=CUTOVER)
    assert "expected 12 columns, found 3" in report.rejected[0].reason


def test_cli_reports_and_fails_on_rejections(app, account, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_text(",".join(COLUMNS) + "\n" + line() + "\n" + line(number="L-2",
                                                                      amount="1.00") + "\n")
    result = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert result.exit_code == 1
    assert "1 invoices imported, 0 already imported, 1 rejected." in result.output
    assert "line 3 (L-2): amount 1.00 is not quantity × unit_price (37.50)" in result.output
    again = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert "0 invoices imported, 1 already imported" in again.output
