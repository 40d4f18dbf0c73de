"""Invoices issued in the ERP and posted to the portal (`POST /api/erp/v1/accounts/<number>/
invoices`): stored like the billing run's (bill-to snapshot, immutable once issued, the
`invoice.issued` event, the account's credit auto-applied when its setting is on), with the
ERP's number, lines and totals. Services flush; the caller commits."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import insert

from app.accounts.models import Account
from app.billing.models import ChargeType, Invoice, InvoiceLine, InvoiceStatus
from app.billing.po_numbers import po_numbers_on
from app.credit.services import auto_apply_credit
from app.errors import DomainError
from app.events.schemas import InvoiceIssued
from app.events.services import record_event
from app.extensions import db
from app.money import ZERO, round_money

# What the lines of an ERP invoice show where the billing run names a customer and product.
ERP_LINE_CUSTOMER = "Account charges"
ERP_LINE_SOURCE = "Invoiced by the ERP"
TAX_RATE_PLACES = Decimal("0.00001")


class ErpInvoiceError(DomainError):
    """The invoice does not add up: `fields` names each figure (field path → sentence)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(" ".join(fields.values()), status=400)
        self.fields = fields


@dataclass(frozen=True)
class ErpLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax: Decimal


@dataclass(frozen=True)
class ErpInvoice:
    number: str
    period_start: date
    period_end: date
    period_key: str  # "2026-03"
    issue_date: date
    due_date: date
    currency: str
    lines: list[ErpLine]
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def check_erp_invoice(account: Account, invoice: ErpInvoice) -> dict[str, str]:
    """Every figure that does not add up, to the cent: each line's quantity × unit price
    (rounded half-up) against its amount, a line's tax larger than its amount, the lines
    against the subtotal and tax, subtotal + tax against the total; the currency against the
    account's; the due date against the issue date."""
    problems: dict[str, str] = {}
    if invoice.currency != account.currency:
        problems["currency"] = (f"Account {account.number} is billed in {account.currency}; "
                                f"send {account.currency}.")
    if invoice.due_date < invoice.issue_date:
        problems["due_date"] = "The due date cannot be before the issue date."
    for index, line in enumerate(invoice.lines):
        expected = round_money(line.quantity * line.unit_price)
        if expected != line.amount:
            problems[f"lines.{index}.amount"] = (f"Quantity × unit price is {expected}, not "
                                                 f"{line.amount}.")
        if abs(line.tax) > abs(line.amount) or (line.tax != ZERO and
                                                (line.tax < 0) != (line.amount < 0)):
            problems[f"lines.{index}.tax"] = ("A line's tax cannot be more than its amount "
                                              "or of the other sign.")
    subtotal = sum((line.amount for line in invoice.lines), ZERO)
    tax = sum((line.tax for line in invoice.lines), ZERO)
    if subtotal != invoice.subtotal:
        problems["subtotal"] = f"The lines add up to {subtotal}, not {invoice.subtotal}."
    if tax != invoice.tax:
        problems["tax"] = f"The lines' tax adds up to {tax}, not {invoice.tax}."
    if invoice.subtotal + invoice.tax != invoice.total:
        problems["total"] = (f"Subtotal + tax is {invoice.subtotal + invoice.tax}, not "
                             f"{invoice.total}.")
    return problems


def _tax_rate(line: ErpLine) -> Decimal:
    if line.amount == ZERO:
        return Decimal("0")
    return (line.tax / line.amount).quantize(TAX_RATE_PLACES)


def post_erp_invoice(account: Account, invoice: ErpInvoice) -> Invoice:
    """Store an invoice the ERP issued, issued (open, or paid when its total is zero), with
    the account's bill-to as it is now, record `invoice.issued`, and auto-apply credit when
    the account's setting is on. The caller checks the number is free. Raises ErpInvoiceError
    (400) when the figures do not add up (`check_erp_invoice`)."""
    problems = check_erp_invoice(account, invoice)
    if problems:
        raise ErpInvoiceError(problems)
    stored = Invoice(
        number=invoice.number,
        account_id=account.id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        # The account's default PO number on the issue date, as on the billing run's invoices
        # (the ERP's lines are for no end customer).
        po_number=po_numbers_on(account.id, invoice.issue_date).account,
        currency=account.currency,
        bill_to_name=account.legal_name,
        bill_to_address="\n".join(account.address_lines),
        bill_to_tax_id=account.tax_id,
        tax_exempt=account.tax_exempt,
        subtotal=invoice.subtotal,
        tax_total=invoice.tax,
        total=invoice.total,
        credit_applied=ZERO,
        amount_paid=ZERO,
        status=InvoiceStatus.PAID if invoice.total <= ZERO else InvoiceStatus.OPEN,
        line_count=len(invoice.lines),
    )
    db.session.add(stored)
    db.session.flush()
    if invoice.lines:
        db.session.execute(insert(InvoiceLine.__table__), [
            {
                "invoice_id": stored.id, "position": position,
                "end_customer_id": None, "end_customer_name": ERP_LINE_CUSTOMER,
                "subscription_id": None, "subscription_name": ERP_LINE_SOURCE, "sku": None,
                "charge_type": ChargeType.ONE_TIME, "description": line.description,
                "quantity": line.quantity, "unit_price": line.unit_price,
                "amount": line.amount, "tax_rate": _tax_rate(line), "tax": line.tax,
                "service_start": invoice.period_start, "service_end": invoice.period_end,
            }
            for position, line in enumerate(invoice.lines, start=1)
        ])
    record_event(
        InvoiceIssued(
            invoice_number=stored.number, account_number=account.number,
            period=invoice.period_key, issue_date=stored.issue_date,
            due_date=stored.due_date, currency=stored.currency, subtotal=stored.subtotal,
            tax=stored.tax_total, total=stored.total, lines=stored.line_count,
        ),
        account_id=account.id,
    )
    auto_apply_credit(stored)
    return stored
