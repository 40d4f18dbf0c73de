"""Import of historical invoices from the legacy billing system's CSV export.

The format — UTF-8, comma-separated, a header row, one row per invoice line:

    account_number,invoice_number,invoice_date,due_date,currency,status,line_number,
    description,quantity,unit_price,amount,tax

- `account_number`: the reseller account (`R-100001`); `invoice_number`: the legacy number;
- `invoice_date`, `due_date`: ISO dates (`2017-03-01`); the invoice date is before the first
  day of the cutover month (the billing engine issues the invoices from that month on);
- `currency`: the account's currency; `status`: `paid`, `open` or `void`, as the legacy system
  last said;
- `line_number`: 1, 2, … unique within the invoice; `description`: the line text;
- `quantity`, `unit_price`, `amount`, `tax`: decimals with a point (`12.50`); `amount` is
  quantity × unit price rounded to the cent; `tax` is zero or more.
The invoice fields repeat on every line of an invoice and must agree.

The import is idempotent (an invoice number already imported is skipped) and all-or-nothing per
invoice: an invoice with any bad row is rejected whole, and the report names each bad row by
its line number in the file with the reason.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import insert, select

from app.accounts.models import Account
from app.billing.models import HistoricalInvoice, HistoricalInvoiceLine
from app.extensions import db
from app.money import ZERO, round_money

COLUMNS = [
    "account_number", "invoice_number", "invoice_date", "due_date", "currency", "status",
    "line_number", "description", "quantity", "unit_price", "amount", "tax",
]
INVOICE_FIELDS = ["account_number", "invoice_date", "due_date", "currency", "status"]
STATUSES = {"paid", "open", "void"}


@dataclass(frozen=True)
class Rejection:
    line: int  # line number in the file (the header is line 1)
    invoice_number: str
    reason: str


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)
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


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name} '{text}' is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} '{text}' is not a number")
    return value


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name} '{text}' is not a date (YYYY-MM-DD)") from None


def _check_line(line: _Line) -> None:
    """Parse one row's line fields. Raises ValueError with the reason."""
    values = line.values
    if not values["line_number"].strip().isdigit() or int(values["line_number"]) < 1:
        raise ValueError(f"line_number '{values['line_number']}' is not a positive whole number")
    line.line_number = int(values["line_number"])
    if not values["description"].strip():
        raise ValueError("description is empty")
    line.quantity = _decimal(values["quantity"], "quantity")
    line.unit_price = _decimal(values["unit_price"], "unit_price")
    line.amount = _decimal(values["amount"], "amount")
    line.tax = _decimal(values["tax"], "tax")
    if line.amount != round_money(line.amount) or line.tax != round_money(line.tax):
        raise ValueError("amount and tax must have at most two decimals")
    if round_money(line.quantity * line.unit_price) != line.amount:
        raise ValueError(f"amount {line.amount} is not quantity × unit_price "
                         f"({round_money(line.quantity * line.unit_price)})")
    if line.tax < 0:
        raise ValueError("tax is negative")


def import_rows(rows: Iterable[list[str]], *, cutover: date) -> ImportReport:
    """Import the rows of a legacy CSV export (header first). Flushes; the caller commits."""
    report = ImportReport()
    rows = iter(rows)
    header = [name.strip().lower() for name in next(rows, [])]
    if header != COLUMNS:
        report.rejected.append(Rejection(1, "", "the header must be: " + ",".join(COLUMNS)))
        return report
    invoices: dict[str, list[_Line]] = {}
    for file_line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            report.rejected.append(Rejection(
                file_line, row[1].strip() if len(row) > 1 else "",
                f"expected {len(COLUMNS)} columns, found {len(row)}"))
            continue
        values = dict(zip(COLUMNS, row, strict=True))
        number = values["invoice_number"].strip()
        if not number:
            report.rejected.append(Rejection(file_line, "", "invoice_number is empty"))
            continue
        invoices.setdefault(number, []).append(_Line(file_line, values))

    accounts = {a.number: a for a in db.session.scalars(select(Account))}
    existing = set(db.session.scalars(
        select(HistoricalInvoice.number).where(HistoricalInvoice.number.in_(list(invoices)))
    )) if invoices else set()
    for number, lines in invoices.items():
        if number in existing:
            report.already_imported.append(number)
            continue
        problems = _validate_invoice(number, lines, accounts, cutover)
        if problems:
            report.rejected += problems
            continue
        _store(number, lines, accounts[lines[0].values["account_number"].strip()])
        report.imported.append(number)
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
        try:
            _check_line(line)
            if line.line_number in seen_numbers:
                reasons.append(f"line_number {line.line_number} appears twice in the invoice")
            seen_numbers.add(line.line_number)
        except ValueError as error:
            reasons.append(str(error))
        problems += [Rejection(line.file_line, number, reason) for reason in reasons]
    account = accounts.get(first["account_number"].strip())
    header_reasons = []
    if account is None:
        header_reasons.append(f"account {first['account_number'].strip()!r} does not exist")
    elif first["currency"].strip() != account.currency:
        header_reasons.append(f"currency {first['currency'].strip()} is not the account's "
                              f"({account.currency})")
    try:
        invoice_date = _date(first["invoice_date"], "invoice_date")
        due_date = _date(first["due_date"], "due_date")
        first_engine_day = cutover.replace(day=1)
        if invoice_date >= first_engine_day:
            header_reasons.append(
                f"invoice_date {invoice_date} is not before {first_engine_day}: from the "
                f"cutover month ({cutover:%B %Y}) on, invoices come from the billing engine")
        if due_date < invoice_date:
            header_reasons.append("due_date is before invoice_date")
    except ValueError as error:
        header_reasons.append(str(error))
    if first["status"].strip().lower() not in STATUSES:
        header_reasons.append(f"status {first['status'].strip()!r} is not paid, open or void")
    problems += [Rejection(lines[0].file_line, number, reason) for reason in header_reasons]
    return problems


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
    db.session.execute(insert(HistoricalInvoiceLine), [
        {"invoice_id": invoice.id, "line_number": line.line_number,
         "description": line.values["description"].strip(), "quantity": line.quantity,
         "unit_price": line.unit_price, "amount": line.amount, "tax": line.tax}
        for line in sorted(lines, key=lambda x: x.line_number)
    ])


def import_file(path, *, cutover: date) -> ImportReport:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return import_rows(csv.reader(handle), cutover=cutover)
