"""Import of historical invoices from the legacy billing system's CSV export.

The format — UTF-8, comma-separated, a header row, one row per invoice line:

    account_number,invoice_number,invoice_date,due_date,currency,status,line_number,
    description,quantity,unit_price,amount,tax

- `account_number`: the reseller account (`R-100001`); `invoice_number`: the legacy number;
- `invoice_date`, `due_date`: dates written `YYYY-MM-DD` (`2017-03-01`); the invoice date is
  before the cutover date (app.billing.cutover), the due date not before the invoice date;
- `currency`: the account's; `status`: `paid`, `open` or `void`, as the legacy system last said;
- `line_number`: 1, 2, … unique within the invoice; `description`: the line text;
- `quantity`, `unit_price`, `amount`, `tax`: plain decimals with a point (`12.50`; no exponent,
  no thousands separator), none negative, within what the tables hold; `amount` is
  quantity × unit price rounded to the cent.
The invoice fields repeat on every line of an invoice and must agree.

The import is idempotent (an invoice number already imported is skipped) and all-or-nothing per
invoice: an invoice with any bad row is rejected whole — a row with too few or too many columns
included — and the report names each bad row by its line number in the file with the reason.
A row that cannot be tied to one invoice for certain (its invoice number is empty, or its
columns are off and its second one is not an invoice number of the file) holds back the whole
file: it might be a line of any invoice, and importing that invoice without it would lose it.
An invoice imported before without some of its lines (an earlier version of the import let
a bad row through) is completed from a file that has them all, when the lines imported and the
invoice's details are the file's; otherwise it is reported and left unchanged.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, insert, select

from app.accounts.models import Account
from app.billing.cutover import is_historical
from app.billing.models import HistoricalInvoice, HistoricalInvoiceLine
from app.extensions import db
from app.money import ZERO, round_money

COLUMNS = [
    "account_number", "invoice_number", "invoice_date", "due_date", "currency", "status",
    "line_number", "description", "quantity", "unit_price", "amount", "tax",
]
INVOICE_FIELDS = ["account_number", "invoice_date", "due_date", "currency", "status"]
STATUSES = {"paid", "open", "void"}
NUMBER_LENGTH = HistoricalInvoice.__table__.c.number.type.length
DESCRIPTION_LENGTH = HistoricalInvoiceLine.__table__.c.description.type.length
MAX_LINE_NUMBER = 999_999


def _limits(column) -> tuple[int, Decimal]:
    """A Numeric column's decimal places and the first value too large for it."""
    return column.type.scale, Decimal(10) ** (column.type.precision - column.type.scale)


# name: (decimal places, first value too large), from the columns the values are stored in
NUMBER_LIMITS = {
    name: _limits(HistoricalInvoiceLine.__table__.c[name])
    for name in ("quantity", "unit_price", "amount", "tax")
}
TOTAL_LIMIT = _limits(HistoricalInvoice.__table__.c.total)[1]
DECIMAL_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHOLE_RE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Rejection:
    line: int  # line number in the file (the header is line 1)
    invoice_number: str
    reason: str


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # imported before without some lines
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def rejected_invoices(self) -> list[str]:
        return sorted({r.invoice_number for r in self.rejected if r.invoice_number})


@dataclass
class _Line:
    file_line: int
    values: dict[str, str]
    line_number: int = 0
    quantity: Decimal = ZERO
    unit_price: Decimal = ZERO
    amount: Decimal = ZERO
    tax: Decimal = ZERO


def _decimal(values: dict[str, str], name: str) -> Decimal:
    """A plain decimal, not negative, that fits its column. Raises ValueError with the reason."""
    text = values[name].strip()
    if not DECIMAL_RE.fullmatch(text):
        raise ValueError(f"{name} '{text}' is not a decimal number written with a point "
                         "(such as 12.50)")
    value = Decimal(text)
    places, too_large = NUMBER_LIMITS[name]
    if value < 0:
        raise ValueError(f"{name} '{text}' is negative")
    if value.as_tuple().exponent < -places:
        raise ValueError(f"{name} '{text}' has more than {places} decimals")
    if value >= too_large:
        raise ValueError(f"{name} '{text}' is too large (it must be below {too_large:,})")
    return value


def _date(text: str, name: str) -> date:
    text = text.strip()
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} '{text}' is not a date (YYYY-MM-DD)") from None


def _check_line(line: _Line) -> list[str]:
    """Parse one row's line fields; the reasons it is bad, if any."""
    values, reasons = line.values, []
    text = values["line_number"].strip()
    if WHOLE_RE.fullmatch(text) and 1 <= int(text) <= MAX_LINE_NUMBER:
        line.line_number = int(text)
    else:
        reasons.append(f"line_number '{text}' is not a whole number from 1 to {MAX_LINE_NUMBER}")
    description = values["description"].strip()
    if not description:
        reasons.append("description is empty")
    elif len(description) > DESCRIPTION_LENGTH:
        reasons.append(f"description is longer than {DESCRIPTION_LENGTH} characters")
    parsed = {}
    for name in ("quantity", "unit_price", "amount", "tax"):
        try:
            parsed[name] = _decimal(values, name)
        except ValueError as error:
            reasons.append(str(error))
    if len(parsed) == 4:
        line.quantity, line.unit_price = parsed["quantity"], parsed["unit_price"]
        line.amount, line.tax = parsed["amount"], parsed["tax"]
        expected = round_money(line.quantity * line.unit_price)
        if expected != line.amount:
            reasons.append(f"amount {line.amount} is not quantity × unit_price ({expected})")
    return reasons


def _read(rows: Iterable[list[str]], report: ImportReport):
    """Group the well-formed rows by invoice number. Returns (invoices, rows with the wrong
    number of columns, rows that name no invoice); None when the file cannot be read."""
    invoices: dict[str, list[_Line]] = {}
    odd_rows: list[tuple[int, list[str]]] = []
    orphans: list[Rejection] = []
    file_line = 1
    rows = iter(rows)
    try:
        header = [name.strip().lower() for name in next(rows, [])]
        if header != COLUMNS:
            report.rejected.append(Rejection(1, "", "the header must be: " + ",".join(COLUMNS)))
            return None
        for file_line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(COLUMNS):
                odd_rows.append((file_line, row))
                continue
            values = dict(zip(COLUMNS, row, strict=True))
            number = values["invoice_number"].strip()
            if not number:
                orphans.append(Rejection(file_line, "", "invoice_number is empty"))
                continue
            invoices.setdefault(number, []).append(_Line(file_line, values))
    except (csv.Error, UnicodeDecodeError) as error:
        report.rejected.append(Rejection(
            file_line + 1, "", f"the file cannot be read as UTF-8 CSV ({error}); nothing "
            "was imported"))
        return None
    return invoices, odd_rows, orphans


def import_rows(rows: Iterable[list[str]], *, cutover: date) -> ImportReport:
    """Import the rows of a legacy CSV export (header first). Flushes; the caller commits."""
    report = ImportReport()
    read = _read(rows, report)
    if read is None:
        return report
    invoices, odd_rows, orphans = read
    broken: dict[str, list[Rejection]] = {}
    for file_line, row in odd_rows:
        number = row[1].strip() if len(row) > 1 else ""
        reason = f"expected {len(COLUMNS)} columns, found {len(row)}"
        if number in invoices:
            broken.setdefault(number, []).append(Rejection(file_line, number, reason))
        else:
            orphans.append(Rejection(file_line, "", reason + ", and its invoice is unclear"))

    numbers, stored_lines = list(invoices), {}
    for chunk in range(0, len(numbers), 1000):  # bound the query's parameters
        stored_lines.update(db.session.execute(
            select(HistoricalInvoice.number, func.count(HistoricalInvoiceLine.id))
            .outerjoin(HistoricalInvoiceLine)
            .where(HistoricalInvoice.number.in_(numbers[chunk:chunk + 1000]))
            .group_by(HistoricalInvoice.number)).tuples().all())
    existing = set(stored_lines)
    # Imported with as many lines as the file has: skipped. (With fewer, it is completed below.)
    unchanged = {number for number in existing
                 if stored_lines[number] == len(invoices[number]) + len(broken.get(number, []))}
    report.already_imported = [number for number in invoices if number in unchanged]
    if orphans:
        report.rejected += orphans
        where = ("line " if len(orphans) == 1 else "lines ") + ", ".join(
            str(orphan.line) for orphan in orphans)
        report.rejected += [
            Rejection(invoice_lines[0].file_line, number,
                      f"not imported: {where} of the file may belong to this invoice")
            for number, invoice_lines in invoices.items() if number not in unchanged
        ]
    else:
        accounts = {a.number: a for a in db.session.scalars(select(Account))}
        for number, invoice_lines in invoices.items():
            if number in unchanged:
                continue
            problems = broken.get(number, []) + _validate_invoice(number, invoice_lines,
                                                                  accounts, cutover)
            if problems:
                report.rejected += problems
                continue
            account = accounts[invoice_lines[0].values["account_number"].strip()]
            if number not in existing:
                _store(number, invoice_lines, account)
                report.imported.append(number)
            elif _complete(number, invoice_lines, account):
                report.completed.append(number)
            else:
                report.rejected.append(Rejection(
                    invoice_lines[0].file_line, number,
                    "already imported with other lines or details than the file's; the "
                    "imported invoice was not changed"))
    report.rejected.sort(key=lambda rejection: rejection.line)
    db.session.flush()
    return report


def _validate_invoice(number: str, lines: list[_Line], accounts: dict[str, Account],
                      cutover: date) -> list[Rejection]:
    problems = []
    first = lines[0].values
    seen_numbers = set()
    for line in lines:
        reasons = []
        for name in INVOICE_FIELDS:
            if line.values[name].strip() != first[name].strip():
                reasons.append(f"{name} differs from the invoice's first line")
        reasons += _check_line(line)
        if line.line_number in seen_numbers:
            reasons.append(f"line_number {line.line_number} appears twice in the invoice")
        if line.line_number:
            seen_numbers.add(line.line_number)
        problems += [Rejection(line.file_line, number, reason) for reason in reasons]
    account = accounts.get(first["account_number"].strip())
    header_reasons = []
    if len(number) > NUMBER_LENGTH:
        header_reasons.append(f"invoice_number is longer than {NUMBER_LENGTH} characters")
    if account is None:
        header_reasons.append(f"account {first['account_number'].strip()!r} does not exist")
    elif first["currency"].strip() != account.currency:
        header_reasons.append(f"currency {first['currency'].strip()} is not the account's "
                              f"({account.currency})")
    try:
        invoice_date = _date(first["invoice_date"], "invoice_date")
        if not is_historical(invoice_date, cutover):
            header_reasons.append(
                f"invoice_date {invoice_date} is not before the cutover date {cutover}: "
                "invoices dated on or after it come from the billing engine")
    except ValueError as error:
        header_reasons.append(str(error))
        invoice_date = None
    try:
        due_date = _date(first["due_date"], "due_date")
        if invoice_date is not None and due_date < invoice_date:
            header_reasons.append("due_date is before invoice_date")
    except ValueError as error:
        header_reasons.append(str(error))
    if first["status"].strip().lower() not in STATUSES:
        header_reasons.append(f"status {first['status'].strip()!r} is not paid, open or void")
    # (None is negative, so lines that could not be read only make the total smaller.)
    subtotal = sum((line.amount for line in lines), ZERO)
    total = subtotal + sum((line.tax for line in lines), ZERO)
    if total >= TOTAL_LIMIT:
        header_reasons.append(f"the invoice total is too large (it must be below "
                              f"{TOTAL_LIMIT:,})")
    problems += [Rejection(lines[0].file_line, number, reason) for reason in header_reasons]
    return problems


def _complete(number: str, lines: list[_Line], account: Account) -> bool:
    """Add the lines missing from an invoice imported without some of them (by a version of the
    import that let a bad row through): only when every line imported and the invoice's
    details are the file's. Returns whether it did."""
    invoice = db.session.scalar(select(HistoricalInvoice).where(
        HistoricalInvoice.number == number))
    stored = {line.line_number: line for line in db.session.scalars(
        select(HistoricalInvoiceLine).where(HistoricalInvoiceLine.invoice_id == invoice.id))}
    first = lines[0].values
    in_file = {line.line_number: line for line in lines}
    same_invoice = (
        invoice.account_id == account.id
        and invoice.invoice_date == date.fromisoformat(first["invoice_date"].strip())
        and invoice.due_date == date.fromisoformat(first["due_date"].strip())
        and invoice.legacy_status == first["status"].strip().lower()
    )
    same_lines = set(stored) < set(in_file) and all(
        (line.description, line.quantity, line.unit_price, line.amount, line.tax) == (
            in_file[n].values["description"].strip(), in_file[n].quantity,
            in_file[n].unit_price, in_file[n].amount, in_file[n].tax)
        for n, line in stored.items())
    if not (same_invoice and same_lines):
        return False
    invoice.subtotal = sum((line.amount for line in lines), ZERO)
    invoice.tax_total = sum((line.tax for line in lines), ZERO)
    invoice.total = invoice.subtotal + invoice.tax_total
    _insert_lines(invoice, [line for n, line in in_file.items() if n not in stored])
    return True


def _store(number: str, lines: list[_Line], account: Account) -> None:
    first = lines[0].values
    subtotal = sum((line.amount for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    invoice = HistoricalInvoice(
        number=number, account_id=account.id,
        invoice_date=date.fromisoformat(first["invoice_date"].strip()),
        due_date=date.fromisoformat(first["due_date"].strip()),
        currency=account.currency, subtotal=subtotal, tax_total=tax, total=subtotal + tax,
        legacy_status=first["status"].strip().lower(),
    )
    db.session.add(invoice)
    db.session.flush()
    _insert_lines(invoice, lines)


def _insert_lines(invoice: HistoricalInvoice, lines: list[_Line]) -> None:
    db.session.execute(insert(HistoricalInvoiceLine), [
        {"invoice_id": invoice.id, "line_number": line.line_number,
         "description": line.values["description"].strip(), "quantity": line.quantity,
         "unit_price": line.unit_price, "amount": line.amount, "tax": line.tax}
        for line in sorted(lines, key=lambda x: x.line_number)
    ])


def import_file(path, *, cutover: date) -> ImportReport:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return import_rows(csv.reader(handle), cutover=cutover)
