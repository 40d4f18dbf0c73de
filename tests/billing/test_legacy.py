"""Importing historical invoices from the legacy CSV export: every validation rule, one case per
rule, with the exact reason and line the report gives (written out by hand)."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.billing.legacy import (
    COLUMNS,
    NUMBER_LIMITS,
    STATUSES,
    Rejection,
    import_file,
    import_rows,
)
from app.billing.models import HistoricalInvoice, HistoricalInvoiceLine
from app.extensions import db

CUTOVER = date(2018, 4, 2)
GOOD = {
    "account_number": "R-900001", "invoice_number": "L-1", "invoice_date": "2017-05-01",
    "due_date": "2017-05-31", "currency": "USD", "status": "paid", "line_number": "1",
    "description": "Seats", "quantity": "3", "unit_price": "12.50", "amount": "37.50",
    "tax": "3.79",
}
NOT_DECIMAL = "is not a decimal number written with a point (such as 12.50)"


def row(**fields: str) -> list[str]:
    values = {**GOOD, **fields}
    return [values[name] for name in COLUMNS]


def second(**fields: str) -> list[str]:
    """Line 2 of invoice L-1: 1 × 99.00, tax 10.00, unless `fields` say otherwise."""
    return row(**{"line_number": "2", "description": "Setup", "quantity": "1",
                  "unit_price": "99", "amount": "99.00", "tax": "10.00", **fields})


def rows(*lines: list[str]) -> list[list[str]]:
    return [list(COLUMNS), *lines]


@pytest.fixture
def account(factory):
    return factory.account(number="R-900001")


def imported() -> list[HistoricalInvoice]:
    db.session.expire_all()
    return list(db.session.scalars(select(HistoricalInvoice).order_by(HistoricalInvoice.number)))


def line_count(number: str) -> int:
    return len(db.session.scalars(
        select(HistoricalInvoiceLine.id).join(HistoricalInvoice)
        .where(HistoricalInvoice.number == number)).all())


def test_valid_rows_become_read_only_historical_invoices(account):
    report = import_rows(rows(row(), second(), row(invoice_number="L-2")), cutover=CUTOVER)
    db.session.commit()
    assert report.imported == ["L-1", "L-2"] and report.rejected == []
    first = imported()[0]
    assert (first.subtotal, first.tax_total, first.total) == (
        Decimal("136.50"), Decimal("13.79"), Decimal("150.29"))
    assert first.legacy_status == "paid" and first.currency == "USD"
    assert line_count("L-1") == 2


def test_importing_twice_changes_nothing(account):
    data = rows(row(), row(invoice_number="L-2"))
    import_rows(data, cutover=CUTOVER)
    db.session.commit()
    report = import_rows(data, cutover=CUTOVER)
    assert report.imported == [] and report.already_imported == ["L-1", "L-2"]
    assert len(imported()) == 2


# A bad second line of invoice L-1. The file: header (line 1), invoice L-OK (line 2), L-1's
# first line (line 3), the bad line (line 4). L-OK is imported; L-1 is rejected whole.
BAD_LINES = [
    ({"amount": "40.00"}, ["amount 40.00 is not quantity × unit_price (99.00)"]),
    ({"quantity": "three"}, [f"quantity 'three' {NOT_DECIMAL}"]),
    ({"quantity": ""}, [f"quantity '' {NOT_DECIMAL}"]),
    ({"quantity": "NaN"}, [f"quantity 'NaN' {NOT_DECIMAL}"]),
    ({"unit_price": "Infinity"}, [f"unit_price 'Infinity' {NOT_DECIMAL}"]),
    ({"amount": "-Infinity"}, [f"amount '-Infinity' {NOT_DECIMAL}"]),
    ({"amount": "1e400"}, [f"amount '1e400' {NOT_DECIMAL}"]),
    ({"tax": "1E2"}, [f"tax '1E2' {NOT_DECIMAL}"]),
    ({"quantity": "١"}, [f"quantity '١' {NOT_DECIMAL}"]),  # an Arabic-Indic digit one
    ({"unit_price": "1,099.00", "quantity": "1"}, [f"unit_price '1,099.00' {NOT_DECIMAL}"]),
    ({"unit_price": "+99"}, [f"unit_price '+99' {NOT_DECIMAL}"]),
    ({"unit_price": ".99"}, [f"unit_price '.99' {NOT_DECIMAL}"]),
    ({"unit_price": "99."}, [f"unit_price '99.' {NOT_DECIMAL}"]),
    ({"quantity": "-1", "amount": "-99.00"},
     ["quantity '-1' is negative", "amount '-99.00' is negative"]),
    ({"unit_price": "-99", "amount": "-99.00"},
     ["unit_price '-99' is negative", "amount '-99.00' is negative"]),
    ({"tax": "-10.00"}, ["tax '-10.00' is negative"]),
    ({"amount": "99.001"}, ["amount '99.001' has more than 2 decimals"]),
    ({"tax": "10.005"}, ["tax '10.005' has more than 2 decimals"]),
    ({"quantity": "1.00001"}, ["quantity '1.00001' has more than 4 decimals"]),
    ({"unit_price": "99.00001"}, ["unit_price '99.00001' has more than 4 decimals"]),
    ({"quantity": "10000000000", "unit_price": "0", "amount": "0.00"},
     ["quantity '10000000000' is too large (it must be below 10,000,000,000)"]),
    ({"unit_price": "100000000"},
     ["unit_price '100000000' is too large (it must be below 100,000,000)"]),
    ({"amount": "1" + "0" * 400},
     ["amount '1" + "0" * 400 + "' is too large (it must be below 1,000,000,000,000)"]),
    ({"tax": "1000000000000.00"},
     ["tax '1000000000000.00' is too large (it must be below 1,000,000,000,000)"]),
    ({"line_number": "0"}, ["line_number '0' is not a whole number from 1 to 999999"]),
    ({"line_number": "1000000"},
     ["line_number '1000000' is not a whole number from 1 to 999999"]),
    ({"line_number": "2.0"}, ["line_number '2.0' is not a whole number from 1 to 999999"]),
    ({"line_number": "²"}, ["line_number '²' is not a whole number from 1 to 999999"]),
    ({"line_number": "-2"}, ["line_number '-2' is not a whole number from 1 to 999999"]),
    ({"line_number": "٢"}, ["line_number '٢' is not a whole number from 1 to 999999"]),
    ({"line_number": "1"}, ["line_number 1 appears twice in the invoice"]),
    ({"description": " "}, ["description is empty"]),
    ({"description": "x" * 301}, ["description is longer than 300 characters"]),
    ({"currency": "CAD"}, ["currency differs from the invoice's first line"]),
    ({"due_date": "2017-06-30"}, ["due_date differs from the invoice's first line"]),
    ({"invoice_date": "2017-05-02"}, ["invoice_date differs from the invoice's first line"]),
    ({"status": "open"}, ["status differs from the invoice's first line"]),
    ({"account_number": "R-900002"}, ["account_number differs from the invoice's first line"]),
]


@pytest.mark.parametrize(("fields", "reasons"), BAD_LINES)
def test_a_bad_line_rejects_its_whole_invoice_and_is_reported(account, fields, reasons):
    report = import_rows(rows(row(invoice_number="L-OK"), row(), second(**fields)),
                         cutover=CUTOVER)
    assert report.imported == ["L-OK"]
    assert report.rejected == [Rejection(4, "L-1", reason) for reason in reasons]
    assert [invoice.number for invoice in imported()] == ["L-OK"]


# Invoice fields that are bad on every line of L-1 (lines 3 and 4): reported on its first line.
BAD_INVOICES = [
    ({"invoice_date": "2018-04-02", "due_date": "2018-05-02"},
     ["invoice_date 2018-04-02 is not before the cutover date 2018-04-02: invoices dated on "
      "or after it come from the billing engine"]),
    ({"invoice_date": "01/05/2017"}, ["invoice_date '01/05/2017' is not a date (YYYY-MM-DD)"]),
    ({"invoice_date": "20170501"}, ["invoice_date '20170501' is not a date (YYYY-MM-DD)"]),
    ({"invoice_date": "2017-02-30"}, ["invoice_date '2017-02-30' is not a date (YYYY-MM-DD)"]),
    ({"due_date": "soon"}, ["due_date 'soon' is not a date (YYYY-MM-DD)"]),
    ({"due_date": "2017-04-30"}, ["due_date is before invoice_date"]),
    ({"currency": "CAD"}, ["currency CAD is not the account's (USD)"]),
    ({"account_number": "R-404404"}, ["account 'R-404404' does not exist"]),
    ({"status": "lost"}, ["status 'lost' is not paid, open or void"]),
    ({"invoice_number": "L" * 31}, ["invoice_number is longer than 30 characters"]),
]


@pytest.mark.parametrize(("fields", "reasons"), BAD_INVOICES)
def test_a_bad_invoice_field_is_reported_on_the_invoice_first_line(account, fields, reasons):
    report = import_rows(rows(row(invoice_number="L-OK"), row(**fields), second(**fields)),
                         cutover=CUTOVER)
    number = fields.get("invoice_number", "L-1")
    assert report.imported == ["L-OK"]
    assert report.rejected == [Rejection(3, number, reason) for reason in reasons]
    assert report.rejected_invoices == [number]


def test_an_invoice_total_too_large_to_store_is_rejected(account):
    big = {"quantity": "6000000000", "unit_price": "100", "amount": "600000000000.00",
           "tax": "0.00"}
    report = import_rows(rows(row(**big), second(**big)), cutover=CUTOVER)
    assert report.rejected == [Rejection(
        2, "L-1", "the invoice total is too large (it must be below 1,000,000,000,000)")]


def test_an_invoice_total_of_exactly_the_limit_is_rejected(account):
    """2 × 500,000,000,000.00 = 1,000,000,000,000.00: one cent too much for the column."""
    half = {"quantity": "5000000000", "unit_price": "100", "amount": "500000000000.00",
            "tax": "0.00"}
    report = import_rows(rows(row(**half), second(**half)), cutover=CUTOVER)
    assert report.rejected_invoices == ["L-1"]


def test_an_invoice_whose_tax_takes_the_total_to_the_limit_is_rejected(account):
    """999,999,999,900.00 + tax 100.00 = 1,000,000,000,000.00."""
    report = import_rows(rows(row(quantity="9999999999", unit_price="100",
                                  amount="999999999900.00", tax="100.00")), cutover=CUTOVER)
    assert report.rejected == [Rejection(
        2, "L-1", "the invoice total is too large (it must be below 1,000,000,000,000)")]


def test_bad_line_numbers_are_not_reported_twice_as_duplicates(account):
    report = import_rows(rows(row(line_number="x"), second(line_number="y")), cutover=CUTOVER)
    assert report.rejected == [
        Rejection(2, "L-1", "line_number 'x' is not a whole number from 1 to 999999"),
        Rejection(3, "L-1", "line_number 'y' is not a whole number from 1 to 999999"),
    ]


# Rows at the edge of every rule, all accepted.
GOOD_EDGES = [
    {"invoice_date": "2018-04-01", "due_date": "2018-05-01"},  # the day before the cutover
    {"due_date": "2017-05-01"},  # due on the invoice date
    {"status": "PAID"},
    {"quantity": " 3 ", "unit_price": " 12.50", "amount": "37.50 ", "tax": "0"},
    {"quantity": "3.0000", "unit_price": "12.5000", "amount": "37.5", "tax": "3.7"},
    {"quantity": "9999999999", "unit_price": "0", "amount": "0.00", "tax": "0.00"},
    {"quantity": "1", "unit_price": "99999999.9999", "amount": "100000000.00"},
    {"quantity": "0", "amount": "0.00", "tax": "0.00"},
    {"line_number": "999999"},
    {"description": "x" * 300},
    {"invoice_number": "L" * 30},
]


@pytest.mark.parametrize("fields", GOOD_EDGES)
def test_values_at_the_edge_of_each_rule_are_accepted(account, fields):
    report = import_rows(rows(row(**fields)), cutover=CUTOVER)
    assert report.rejected == []
    assert report.imported == [fields.get("invoice_number", "L-1")]


def test_a_short_row_rejects_its_whole_invoice(account):
    """The row lacks its tax column: the rest of its invoice must not be imported without it."""
    short = second()[:-1]
    report = import_rows(rows(row(invoice_number="L-OK"), row(), short), cutover=CUTOVER)
    assert report.imported == ["L-OK"]
    assert report.rejected == [Rejection(4, "L-1", "expected 12 columns, found 11")]
    assert [invoice.number for invoice in imported()] == ["L-OK"]


def test_a_long_row_rejects_its_whole_invoice(account):
    long = [*second(), "extra"]
    report = import_rows(rows(row(), long), cutover=CUTOVER)
    assert report.imported == []
    assert report.rejected == [Rejection(3, "L-1", "expected 12 columns, found 13")]


def test_a_row_that_names_no_invoice_for_certain_holds_back_the_whole_file(account):
    """Without its account number, the row's second column is a date: it could be a line of any
    invoice, so none is imported."""
    shifted = second()[1:]
    report = import_rows(rows(row(invoice_number="L-OK"), row(), shifted), cutover=CUTOVER)
    assert report.imported == [] and imported() == []
    assert report.rejected == [
        Rejection(2, "L-OK", "not imported: line 4 of the file may belong to this invoice"),
        Rejection(3, "L-1", "not imported: line 4 of the file may belong to this invoice"),
        Rejection(4, "", "expected 12 columns, found 11, and its invoice is unclear"),
    ]
    assert report.rejected_invoices == ["L-1", "L-OK"]


def test_an_empty_invoice_number_holds_back_the_whole_file(account):
    report = import_rows(rows(row(), second(invoice_number=" "), row(invoice_number="L-2"),
                              [""]), cutover=CUTOVER)
    assert report.imported == []
    assert report.rejected == [
        Rejection(2, "L-1", "not imported: line 3 of the file may belong to this invoice"),
        Rejection(3, "", "invoice_number is empty"),
        Rejection(4, "L-2", "not imported: line 3 of the file may belong to this invoice"),
    ]


def test_rows_that_name_no_invoice_do_not_touch_invoices_already_imported(account):
    import_rows(rows(row()), cutover=CUTOVER)
    report = import_rows(rows(row(), ["R-900001"], ["R-900001", "", "x"]), cutover=CUTOVER)
    assert report.already_imported == ["L-1"] and report.imported == []
    assert report.rejected == [
        Rejection(3, "", "expected 12 columns, found 1, and its invoice is unclear"),
        Rejection(4, "", "expected 12 columns, found 3, and its invoice is unclear"),
    ]


def test_blank_rows_are_skipped(account):
    report = import_rows(rows([], row(), ["", " "], second()), cutover=CUTOVER)
    assert report.imported == ["L-1"] and report.rejected == []
    assert line_count("L-1") == 2


@pytest.mark.parametrize("header", [
    ["number", "amount"],
    COLUMNS[:-1],
    [*COLUMNS, "note"],
    [COLUMNS[1], COLUMNS[0], *COLUMNS[2:]],
    [],
])
def test_a_wrong_header_rejects_the_file(account, header):
    report = import_rows([header, row()], cutover=CUTOVER)
    assert report.imported == []
    assert report.rejected == [Rejection(1, "", "the header must be: " + ",".join(COLUMNS))]


def test_the_header_ignores_case_and_spaces(account):
    header = [f" {name.upper()} " for name in COLUMNS]
    assert import_rows([header, row()], cutover=CUTOVER).imported == ["L-1"]


def test_a_file_that_is_not_utf8_is_rejected_whole(account, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes((",".join(COLUMNS) + "\n" + ",".join(row()) + "\n").encode()
                     + "Café,L-2\n".encode("latin-1"))
    report = import_file(path, cutover=CUTOVER)
    assert report.imported == [] and imported() == []
    [rejection] = report.rejected
    assert rejection.invoice_number == ""
    assert "cannot be read as UTF-8 CSV" in rejection.reason


def test_a_file_the_csv_reader_cannot_read_is_rejected_whole(account, tmp_path):
    """A field longer than the CSV reader's limit (131,072 characters) stops the reader."""
    path = tmp_path / "legacy.csv"
    write(path, row(), second(description="x" * 200_000))
    report = import_file(path, cutover=CUTOVER)
    assert report.imported == [] and imported() == []
    [rejection] = report.rejected
    assert (rejection.line, rejection.invoice_number) == (3, "")
    assert rejection.reason.startswith("the file cannot be read as UTF-8 CSV (field larger")


def test_a_corrected_file_then_imports_the_whole_invoice(account):
    short = second()[:-1]
    first = import_rows(rows(row(invoice_number="L-OK"), row(), short), cutover=CUTOVER)
    db.session.commit()
    assert first.rejected_invoices == ["L-1"]
    again = import_rows(rows(row(invoice_number="L-OK"), row(), second()), cutover=CUTOVER)
    db.session.commit()
    assert again.imported == ["L-1"] and again.already_imported == ["L-OK"]
    assert again.rejected == []
    assert line_count("L-1") == 2
    l1 = imported()[0]
    assert (l1.number, l1.subtotal, l1.tax_total, l1.total) == (
        "L-1", Decimal("136.50"), Decimal("13.79"), Decimal("150.29"))


def write(path, *lines: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows(*lines))
    path.write_text(out.getvalue(), encoding="utf-8")


def test_cli_reports_each_rejected_row_and_fails(app, account, tmp_path):
    path = tmp_path / "legacy.csv"
    write(path, row(invoice_number="L-OK"), row(), second()[:-1],
          row(invoice_number="L-2", amount="1.00"))
    result = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert result.exit_code == 1
    assert "1 invoices imported, 0 already imported, 2 rejected." in result.output
    assert "line 4 (L-1): expected 12 columns, found 11" in result.output
    assert "line 5 (L-2): amount 1.00 is not quantity × unit_price (37.50)" in result.output
    assert "Correct the rows above and import the whole file again" in result.output

    write(path, row(invoice_number="L-OK"), row(), second(), row(invoice_number="L-2"))
    again = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert again.exit_code == 0, again.output
    assert "2 invoices imported, 1 already imported, 0 rejected." in again.output
    assert line_count("L-1") == 2


def test_cli_fails_when_the_whole_file_is_rejected(app, account, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_text("number,amount\nL-1,1\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert result.exit_code == 1
    assert "line 1: the header must be: account_number,invoice_number," in result.output


def test_the_article_states_the_import_rules_the_code_applies():
    article = (Path(__file__).parents[2] / "content" / "articles"
               / "how-do-i-retrieve-historical-invoice-information.md").read_text()
    text = " ".join(article.split())
    quantity_places = NUMBER_LIMITS["quantity"][0]
    assert NUMBER_LIMITS["unit_price"][0] == quantity_places
    amount_places = NUMBER_LIMITS["amount"][0]
    assert NUMBER_LIMITS["tax"][0] == amount_places
    assert (f"Quantity and unit price have at most {quantity_places} decimals, amount and tax "
            f"at most {amount_places}.") in text
    assert f"`{','.join(COLUMNS)}`" in text
    assert f"exactly the {len(COLUMNS)} columns of the header" in text
    statuses = text.split("`status` is ")[1].split(".")[0]  # "`paid`, `open` or `void`"
    assert set(re.findall(r"`(\w+)`", statuses)) == STATUSES


def test_a_file_of_many_invoices_is_imported_and_then_skipped(account):
    """More invoice numbers than one query takes at once (it asks 1,000 at a time)."""
    data = rows(*(row(invoice_number=f"L-{n:05d}") for n in range(2500)))
    assert len(import_rows(data, cutover=CUTOVER).imported) == 2500
    db.session.commit()
    again = import_rows(data, cutover=CUTOVER)
    assert again.imported == [] and len(again.already_imported) == 2500


def stored(number: str) -> tuple:
    db.session.expire_all()
    invoice = db.session.scalar(select(HistoricalInvoice).where(
        HistoricalInvoice.number == number))
    return invoice.subtotal, invoice.tax_total, invoice.total, line_count(number)


def test_an_invoice_imported_without_a_line_is_completed_by_the_full_file(account):
    """An earlier version of the import let an invoice in without its bad row: the corrected
    file adds the missing line and the totals, and changes nothing else."""
    import_rows(rows(row()), cutover=CUTOVER)  # line 1 only: 37.50 + 3.79
    db.session.commit()
    assert stored("L-1") == (Decimal("37.50"), Decimal("3.79"), Decimal("41.29"), 1)
    report = import_rows(rows(row(), second(), row(invoice_number="L-2")), cutover=CUTOVER)
    db.session.commit()
    assert (report.imported, report.completed, report.already_imported, report.rejected) == (
        ["L-2"], ["L-1"], [], [])
    # 37.50 + 99.00 = 136.50; tax 3.79 + 10.00 = 13.79
    assert stored("L-1") == (Decimal("136.50"), Decimal("13.79"), Decimal("150.29"), 2)
    again = import_rows(rows(row(), second(), row(invoice_number="L-2")), cutover=CUTOVER)
    assert again.completed == [] and again.already_imported == ["L-1", "L-2"]


ALREADY = ("already imported with other lines or details than the file's; the imported invoice "
           "was not changed")


@pytest.mark.parametrize(("first_import", "file_rows"), [
    ([row(amount="37.50", quantity="3", description="Other seats")], [row(), second()]),
    ([row(quantity="3.5", amount="43.75")], [row(), second()]),
    ([row(due_date="2017-06-15")], [row(), second()]),
    ([row(status="open")], [row(), second()]),
    ([row(invoice_date="2017-04-30")], [row(), second()]),
    ([row(), second()], [row()]),  # the file has fewer lines than were imported
    ([second()], [row(), second(line_number="3")]),  # line 2 is not in the file
])
def test_an_imported_invoice_that_differs_from_the_file_is_left_alone(account, first_import,
                                                                      file_rows):
    import_rows(rows(*first_import), cutover=CUTOVER)
    db.session.commit()
    before = stored("L-1")
    report = import_rows(rows(*file_rows), cutover=CUTOVER)
    assert report.completed == [] and report.already_imported == []
    assert report.rejected == [Rejection(2, "L-1", ALREADY)]
    assert stored("L-1") == before


def test_an_imported_invoice_is_not_completed_from_a_bad_file(account):
    import_rows(rows(row()), cutover=CUTOVER)
    db.session.commit()
    report = import_rows(rows(row(), second(tax="-1.00")), cutover=CUTOVER)
    assert report.rejected == [Rejection(3, "L-1", "tax '-1.00' is negative")]
    assert report.completed == [] and line_count("L-1") == 1


def test_an_imported_invoice_is_not_completed_from_a_file_with_unclear_rows(account):
    import_rows(rows(row()), cutover=CUTOVER)
    db.session.commit()
    report = import_rows(rows(row(), second(), ["R-900001"]), cutover=CUTOVER)
    assert report.completed == [] and line_count("L-1") == 1
    assert report.rejected_invoices == ["L-1"]


def test_cli_reports_completed_invoices(app, account, tmp_path):
    import_rows(rows(row()), cutover=CUTOVER)
    db.session.commit()
    path = tmp_path / "legacy.csv"
    write(path, row(), second())
    result = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 invoices imported, 0 already imported, 1 completed, 0 rejected." in result.output


def test_an_imported_invoice_of_another_account_is_left_alone(account, factory):
    factory.account(number="R-900002")
    import_rows(rows(row(account_number="R-900002")), cutover=CUTOVER)
    db.session.commit()
    report = import_rows(rows(row(), second()), cutover=CUTOVER)
    assert report.rejected == [Rejection(2, "L-1", ALREADY)] and line_count("L-1") == 1
