"""Invoice PDF (fpdf2, with an embedded Unicode font so CA$ and € print) and line-item CSV,
both in the grouped layout of the invoice page: end customer → subscription → charge type."""

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from itertools import groupby

from flask import current_app
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.billing.history import historical_lines
from app.billing.invoices import all_lines, invoice_groups
from app.billing.models import HistoricalInvoice, Invoice, InvoiceLine
from app.billing.models.invoices import CHARGE_TYPE_LABELS
from app.billing.statement import Statement
from app.formatting import date_range, medium_date, money

CSV_COLUMNS = [
    "invoice_number", "end_customer", "subscription", "sku", "charge_type", "description",
    "service_start", "service_end", "quantity", "unit_price", "amount", "tax_rate", "tax",
    "currency",
    # Added last, so that the columns before it keep their places.
    "po_number",
]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ROW_HEIGHT = 5  # mm
BASELINE = 3.6  # mm below the row's top
CELL_PADDING = 1  # mm


def safe_cell(text: str) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_csv(header: list[str], rows: Iterable[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def invoice_csv(invoice: Invoice) -> str:
    """One row per line. `po_number` is the PO number the line is billed under: its end
    customer's own, else the invoice's (the account default), else empty."""
    return write_csv(CSV_COLUMNS, (
        [
            invoice.number, safe_cell(line.end_customer_name), safe_cell(line.subscription_name),
            line.sku or "", line.charge_type.value, safe_cell(line.description),
            line.service_start.isoformat(), line.service_end.isoformat(),
            _plain(line.quantity), _plain(line.unit_price), f"{line.amount:.2f}",
            _plain(line.tax_rate), f"{line.tax:.2f}", invoice.currency,
            safe_cell(line.po_number or invoice.po_number or ""),
        ]
        for line in all_lines(invoice)
    ))


def _plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 12.5000 → 12.5, 10.0000 → 10."""
    return f"{value.normalize():f}"


class PortalPDF(FPDF):
    """A4 document with the portal's font and a page footer."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        fonts = current_app.config["PDF_FONT_DIR"]
        self.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.set_font("DejaVu", size=9)
        self.set_title(title)
        self.set_creator("Partner Portal")
        self.set_auto_page_break(auto=True, margin=18)
        self.doc_title = title

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.doc_title} · page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)

    def line_text(self, text: str, *, size: float = 9, bold: bool = False, height: float = 5,
                  align: str = "L") -> None:
        self.set_font("DejaVu", "B" if bold else "", size)
        self.cell(0, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(self, cells: list[tuple[str, float, str]], *, bold: bool = False,
            fill: bool = False) -> None:
        """One table row: (text, width in mm — 0 for the rest of the line, alignment) per cell.

        Drawn with `text()` rather than `cell()`: several times faster, which matters for an
        invoice of 10,000 lines."""
        self.set_font("DejaVu", "B" if bold else "", 8)
        if self.y + ROW_HEIGHT > self.page_break_trigger:
            self.add_page()
        x, y = self.l_margin, self.y
        right = self.w - self.r_margin
        if fill:
            self.rect(x, y, right - x, ROW_HEIGHT, style="F")
        for text, width, align in cells:
            width = width or right - x
            if text:
                offset = width - CELL_PADDING - self.get_string_width(text) if align == "R" \
                    else CELL_PADDING
                self.text(x + offset, y + BASELINE, text)
            x += width
        self.ln(ROW_HEIGHT)


def _issuer(pdf: PortalPDF) -> None:
    """Who issues the invoice (ISSUER_NAME, ISSUER_ADDRESS, ISSUER_TAX_ID)."""
    config = current_app.config
    pdf.line_text(config["ISSUER_NAME"], bold=True)
    pdf.line_text(config["ISSUER_ADDRESS"])
    pdf.line_text(f"Tax ID: {config['ISSUER_TAX_ID']}")


def _how_to_pay(pdf: PortalPDF, invoice: Invoice, pay_url: str | None, processing: bool) -> None:
    pdf.line_text("How to pay", size=11, bold=True, height=7)
    if processing:
        pdf.multi_cell(0, 5, "A payment is processing for this invoice: it shows what is left "
                       "to pay once that payment is counted.", align="L", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
    if pay_url is None:
        pdf.line_text("Nothing is left to pay on this invoice." if invoice.balance_due <= 0
                      else "This invoice cannot be paid online.")
        return
    methods = "by card, or from a verified US bank account (ACH)" \
        if invoice.currency == "USD" else "by card"
    pdf.multi_cell(
        0, 5,
        f"Pay online {methods}: sign in to the Partner Portal as an admin or billing user of "
        f"your account, check the amount, select Review, then Confirm payment. You can pay "
        f"part of the balance, several invoices at once, and use your account's credit.",
        align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )
    pdf.set_text_color(31, 79, 143)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 6, pay_url, link=pay_url, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)


def invoice_pdf(invoice: Invoice, *, pay_url: str | None = None,
                processing: bool = False) -> bytes:
    """The invoice as a PDF. `pay_url` is where it is paid online (an absolute address, None
    once nothing is due); `processing`: a payment still in flight holds it."""
    pdf = PortalPDF(f"Invoice {invoice.number}")
    pdf.add_page()
    pdf.line_text("Invoice", size=18, bold=True, height=9)
    pdf.line_text(invoice.number, size=11, bold=True)
    pdf.ln(2)
    _issuer(pdf)
    pdf.ln(2)
    overdue = invoice.is_overdue(date.today())
    status = "Overdue" if overdue else invoice.status.value.replace("_", " ")
    status = status.capitalize() + (" · payment processing" if processing else "")
    facts = [
        ("Issue date", medium_date(invoice.issue_date)),
        ("Due date", medium_date(invoice.due_date)),
        ("Billing period", date_range(invoice.period_start, invoice.period_end)),
        ("Status", status),
    ]
    if invoice.po_number:
        facts.append(("PO number", invoice.po_number))
    for label, value in facts:
        pdf.row([(label, 35, "L"), (value, 0, "L")])
    pdf.ln(2)
    pdf.line_text("Bill to", bold=True)
    for text in [invoice.bill_to_name, *invoice.bill_to_lines]:
        pdf.line_text(text)
    if invoice.bill_to_tax_id:
        pdf.line_text(f"Tax ID: {invoice.bill_to_tax_id}")
    if invoice.tax_exempt:
        pdf.line_text("Tax exempt")
    pdf.ln(3)

    cur = invoice.currency
    groups = invoice_groups(invoice)
    pdf.line_text("Summary by end customer", size=11, bold=True, height=7)
    pdf.set_fill_color(238, 242, 247)
    pdf.row([("End customer", 100, "L"), ("Subtotal", 30, "R"), ("Tax", 25, "R"),
             ("Total", 35, "R")], bold=True, fill=True)
    for group in groups:
        pdf.row([(group.name, 100, "L"), (money(group.amount, cur), 30, "R"),
                 (money(group.tax, cur), 25, "R"), (money(group.total, cur), 35, "R")])
        if group.po_number:
            pdf.row([(f"  PO number {group.po_number}", 100, "L")])
    pdf.ln(1)
    for label, value, bold in [
        ("Subtotal", invoice.subtotal, False), ("Tax", invoice.tax_total, False),
        ("Total", invoice.total, True), ("Credit applied", invoice.credit_applied, False),
        ("Payments", invoice.amount_paid, False), ("Balance due", invoice.balance_due, True),
    ]:
        pdf.row([(label, 155, "R"), (money(value, cur), 35, "R")], bold=bold)
    pdf.ln(3)
    _how_to_pay(pdf, invoice, pay_url, processing)

    pdf.ln(4)
    pdf.line_text("Details", size=11, bold=True, height=7)
    pdf.set_fill_color(238, 242, 247)
    pdf.row([("Description", 88, "L"), ("Quantity", 17, "R"), ("Unit price", 28, "R"),
             ("Amount", 32, "R"), ("Tax", 25, "R")], bold=True, fill=True)
    lines = all_lines(invoice)
    for customer, customer_lines in groupby(lines, key=lambda line: line.end_customer_name):
        customer_lines = list(customer_lines)
        pdf.set_fill_color(222, 230, 242)
        pdf.row([(customer_label(customer, customer_lines[0].po_number), 155, "L"),
                 (money(sum(line.amount for line in customer_lines), cur), 35, "R")],
                bold=True, fill=True)
        for subscription, sub_lines in groupby(customer_lines,
                                               key=lambda line: line.subscription_name):
            sub_lines = list(sub_lines)
            pdf.row([(f"  {subscription}", 155, "L"),
                     (money(sum(line.amount for line in sub_lines), cur), 35, "R")], bold=True)
            for charge_type, type_lines in groupby(sub_lines, key=lambda line: line.charge_type):
                type_lines = list(type_lines)
                _charge_rows(pdf, CHARGE_TYPE_LABELS[charge_type], type_lines, cur)
    pdf.ln(3)
    pdf.line_text(
        "Tax is calculated on each line and rounded half-up to the cent; the invoice tax is "
        "the sum of the line taxes.", size=7)
    return bytes(pdf.output())


def _charge_rows(pdf: PortalPDF, label: str, lines: list[InvoiceLine], currency: str) -> None:
    pdf.row([(f"    {label}", 155, "L"),
             (money(sum(line.amount for line in lines), currency), 35, "R")])
    for line in lines:
        pdf.row([(f"      {_clip(line.description, 50)}", 88, "L"),
                 (_plain(line.quantity), 17, "R"),
                 (money(line.unit_price, currency), 28, "R"),
                 (money(line.amount, currency), 32, "R"),
                 (money(line.tax, currency), 25, "R")])


def customer_label(name: str, po_number: str | None) -> str:
    """An end customer's name with its own PO number, if the invoice carries one."""
    return f"{name} · PO {po_number}" if po_number else name


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


HISTORY_COLUMNS = ["invoice_number", "invoice_date", "due_date", "line_number", "description",
                   "quantity", "unit_price", "amount", "tax", "currency", "legacy_status"]


def historical_csv(invoice: HistoricalInvoice) -> str:
    return write_csv(HISTORY_COLUMNS, (
        [invoice.number, invoice.invoice_date.isoformat(), invoice.due_date.isoformat(),
         line.line_number, safe_cell(line.description), _plain(line.quantity),
         _plain(line.unit_price), f"{line.amount:.2f}", f"{line.tax:.2f}", invoice.currency,
         invoice.legacy_status]
        for line in historical_lines(invoice)
    ))


def historical_pdf(invoice: HistoricalInvoice) -> bytes:
    """The legacy layout: a flat list of lines."""
    pdf = PortalPDF(f"Historical invoice {invoice.number}")
    pdf.add_page()
    pdf.line_text("Historical invoice", size=18, bold=True, height=9)
    pdf.line_text(f"{invoice.number} · issued by the legacy billing system", size=10)
    pdf.ln(2)
    for label, value in [("Invoice date", medium_date(invoice.invoice_date)),
                         ("Due date", medium_date(invoice.due_date)),
                         ("Status in the legacy system", invoice.legacy_status.capitalize())]:
        pdf.row([(label, 50, "L"), (value, 0, "L")])
    pdf.ln(3)
    cur = invoice.currency
    pdf.set_fill_color(238, 242, 247)
    pdf.row([("#", 10, "L"), ("Description", 95, "L"), ("Qty", 15, "R"), ("Amount", 35, "R"),
             ("Tax", 35, "R")], bold=True, fill=True)
    for line in historical_lines(invoice):
        pdf.row([(str(line.line_number), 10, "L"), (_clip(line.description, 55), 95, "L"),
                 (_plain(line.quantity), 15, "R"), (money(line.amount, cur), 35, "R"),
                 (money(line.tax, cur), 35, "R")])
    pdf.ln(2)
    for label, value, bold in [("Subtotal", invoice.subtotal, False),
                               ("Tax", invoice.tax_total, False),
                               ("Total", invoice.total, True)]:
        pdf.row([(label, 155, "R"), (money(value, cur), 35, "R")], bold=bold)
    return bytes(pdf.output())


STATEMENT_COLUMNS = ["date", "type", "reference", "description", "debit", "credit", "balance",
                     "currency"]


def statement_csv(statement: Statement) -> str:
    cur = statement.currency
    rows = [[statement.date_from.isoformat(), "Opening balance", "", "", "", "",
             f"{statement.opening:.2f}", cur]]
    rows += [[row.day.isoformat(), row.label, row.reference, safe_cell(row.description),
              f"{row.debit:.2f}" if row.debit else "", f"{row.credit:.2f}" if row.credit else "",
              f"{row.balance:.2f}", cur] for row in statement.rows]
    rows.append([statement.date_to.isoformat(), "Closing balance", "", "", "", "",
                 f"{statement.closing:.2f}", cur])
    rows += [[statement.date_to.isoformat(), "Aging", label, "", "", "", f"{amount:.2f}", cur]
             for label, amount in statement.aging]
    return write_csv(STATEMENT_COLUMNS, rows)


def statement_pdf(statement: Statement) -> bytes:
    account, cur = statement.account, statement.currency
    pdf = PortalPDF(f"Statement of account {account.number}")
    pdf.add_page()
    pdf.line_text("Statement of account", size=18, bold=True, height=9)
    pdf.line_text(f"{account.legal_name} · {account.number}", size=10)
    pdf.line_text(date_range(statement.date_from, statement.date_to))
    pdf.ln(3)
    pdf.set_fill_color(238, 242, 247)
    pdf.row([("Date", 24, "L"), ("Type", 46, "L"), ("Reference", 30, "L"),
             ("Debit", 30, "R"), ("Credit", 30, "R"), ("Balance", 30, "R")], bold=True, fill=True)
    pdf.row([(medium_date(statement.date_from), 24, "L"), ("Opening balance", 76, "L"),
             ("", 60, "R"), (money(statement.opening, cur), 30, "R")], bold=True)
    for row in statement.rows:
        pdf.row([(medium_date(row.day), 24, "L"), (row.kind, 46, "L"), (row.reference, 30, "L"),
                 (money(row.debit, cur) if row.debit else "", 30, "R"),
                 (money(row.credit, cur) if row.credit else "", 30, "R"),
                 (money(row.balance, cur), 30, "R")])
        if row.detail:  # "R01 Insufficient funds", under the type
            pdf.row([("", 24, "L"), (row.detail, 0, "L")])
    pdf.row([(medium_date(statement.date_to), 24, "L"), ("Closing balance", 76, "L"),
             ("", 60, "R"), (money(statement.closing, cur), 30, "R")], bold=True)
    pdf.ln(4)
    pdf.line_text("Aging of unpaid invoices", size=11, bold=True, height=7)
    for label, amount in statement.aging:
        pdf.row([(label, 60, "L"), (money(amount, cur), 40, "R")])
    return bytes(pdf.output())
