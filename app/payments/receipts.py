"""Reading payments for the pages: the filtered list, and each payment's receipt (page and
PDF) as the database has it now — a payment settled or returned since shows its new state.
Always scoped to one account."""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import abort, current_app
from fpdf.enums import XPos, YPos
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from app.billing.exports import PortalPDF
from app.billing.models import Invoice
from app.extensions import db
from app.formatting import medium_date, money
from app.ledger.models import EntryKind, LedgerEntry
from app.money import ZERO
from app.payments.gateways import get_gateway
from app.payments.gateways.base import GatewayError
from app.payments.gateways.business_days import add_business_days
from app.payments.gateways.sandbox import ACH_SETTLEMENT_BUSINESS_DAYS
from app.payments.models import Payment, PaymentDraft, PaymentMethod, PaymentStatus
from app.payments.pay import draft_credit_shares

PAGE_SIZE = 25
# Each status as the pages name it, and its badge.
STATUS_LABELS = {
    PaymentStatus.SUCCEEDED: "Succeeded",
    PaymentStatus.PROCESSING: "Processing",
    PaymentStatus.UNKNOWN: "Awaiting confirmation",
    PaymentStatus.FAILED: "Failed",
    PaymentStatus.RETURNED: "Returned",
}
STATUS_BADGES = {
    PaymentStatus.SUCCEEDED: "success",
    PaymentStatus.PROCESSING: "info",
    PaymentStatus.UNKNOWN: "warning",
    PaymentStatus.FAILED: "danger",
    PaymentStatus.RETURNED: "danger",
}
STATUS_FILTERS = {"all": "All payments",
                  **{status.value: label for status, label in STATUS_LABELS.items()}}
NOT_CHARGED_TWICE = ("The payment processor has not confirmed this payment yet. You will not be "
                     "charged twice: we will confirm it shortly, and this page will then show "
                     "the result.")


def get_payment_or_404(account_id: int, payment_id: int) -> Payment:
    """The account's payment with this id. Raises 404 otherwise — also for another account's
    payment."""
    payment = db.session.scalar(select(Payment).where(Payment.account_id == account_id,
                                                      Payment.id == payment_id))
    if payment is None:
        abort(404)
    return payment


# --- The list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFilters:
    status: str = "all"
    method_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass(frozen=True)
class PaymentPage:
    payments: list[Payment]
    count: int
    page: int
    pages: int


def method_choices(account_id: int) -> list[SelectChoice]:
    """Every method the account has had (removed ones too: their payments stay listed)."""
    rows = db.session.execute(
        select(PaymentMethod.id, PaymentMethod.label, PaymentMethod.removed_at)
        .where(PaymentMethod.account_id == account_id).order_by(PaymentMethod.id)
    ).all()
    return [SelectChoice(str(id_), label + (" (removed)" if removed_at else ""))
            for id_, label, removed_at in rows]


def list_payments(account_id: int, filters: PaymentFilters) -> PaymentPage:
    """One page of the account's payments that match `filters`, newest first."""
    query = select(Payment).where(Payment.account_id == account_id)
    if filters.status in {status.value for status in PaymentStatus}:
        query = query.where(Payment.status == PaymentStatus(filters.status))
    if filters.method_id is not None:
        query = query.where(Payment.method_id == filters.method_id)
    if filters.date_from:
        query = query.where(Payment.received_on >= filters.date_from)
    if filters.date_to:
        query = query.where(Payment.received_on <= filters.date_to)
    count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(count / PAGE_SIZE))
    page = min(max(filters.page, 1), pages)
    payments = db.session.scalars(
        query.order_by(Payment.received_on.desc(), Payment.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return PaymentPage(list(payments), count, page, pages)


# --- Receipts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    invoice_number: str
    paid: Decimal  # by this payment's method
    credit: Decimal  # credit applied to the invoice in the same payment

    @property
    def total(self) -> Decimal:
        return self.paid + self.credit


@dataclass(frozen=True)
class Receipt:
    payment: Payment
    status_label: str
    badge: str
    status_text: str  # the status in plain words
    lines: list[ReceiptLine]
    expected_settlement: date | None
    issuer_name: str
    issuer_address: str
    issuer_tax_id: str

    @property
    def credit_applied(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def invoices_total(self) -> Decimal:
        return sum((line.total for line in self.lines), ZERO)


def expected_settlement(payment: Payment) -> date | None:
    """When a processing payment is expected to settle: the gateway's date for the charge, or
    else ACH_SETTLEMENT_BUSINESS_DAYS business days after it was made."""
    if payment.status != PaymentStatus.PROCESSING:
        return None
    if payment.gateway_reference:
        try:
            settles_on = get_gateway().get_charge(payment.gateway_reference).settles_on
        except GatewayError:
            settles_on = None
        if settles_on:
            return settles_on
    return add_business_days(payment.received_on, ACH_SETTLEMENT_BUSINESS_DAYS)


def status_text(payment: Payment, settles_on: date | None) -> str:
    """The payment's status as a sentence or two for the reseller."""
    if payment.status == PaymentStatus.SUCCEEDED:
        if payment.settled_on:
            return f"Your bank payment settled on {medium_date(payment.settled_on)}."
        return f"We received this payment on {medium_date(payment.received_on)}."
    if payment.status == PaymentStatus.PROCESSING:
        return (f"This bank payment (ACH) is on its way and is expected to settle on "
                f"{medium_date(settles_on)}. Until then its invoices show “Payment processing”.")
    if payment.status == PaymentStatus.UNKNOWN:
        return NOT_CHARGED_TWICE
    if payment.status == PaymentStatus.FAILED:
        reason = payment.failure_reason or "The payment processor refused it."
        return f"This payment did not go through. {reason} Nothing was charged."
    when = medium_date(payment.returned_on) if payment.returned_on else "after it was made"
    code = f" ({payment.return_code})" if payment.return_code else ""
    return (f"Your bank returned this payment on {when}{code}. {payment.failure_reason or ''} "
            "The invoices it paid are open again.").replace("  ", " ")


def _allocations(payment: Payment) -> list[tuple[int, str, Decimal]]:
    """What the payment paid on each invoice, (invoice id, number, amount) in invoice order:
    its allocations as made (a returned payment's are reversed since, and still listed)."""
    rows = db.session.execute(
        select(Invoice.id, Invoice.number, func.sum(LedgerEntry.amount))
        .join(Invoice, Invoice.id == LedgerEntry.invoice_id)
        .where(LedgerEntry.payment_id == payment.id, LedgerEntry.kind == EntryKind.ALLOCATION,
               LedgerEntry.reverses_id.is_(None))
        .group_by(Invoice.id, Invoice.number, Invoice.issue_date)
        .order_by(Invoice.issue_date, Invoice.id)
    ).all()
    return [(invoice_id, number, Decimal(amount)) for invoice_id, number, amount in rows]


def receipt_lines(payment: Payment) -> list[ReceiptLine]:
    """Each invoice the payment paid, with the credit its pay-flow draft applied alongside
    (an invoice the credit paid in full is listed too)."""
    paid = {invoice_id: (number, amount) for invoice_id, number, amount in _allocations(payment)}
    draft = db.session.scalar(select(PaymentDraft).where(
        PaymentDraft.account_id == payment.account_id, PaymentDraft.payment_id == payment.id))
    credit = draft_credit_shares(draft) if draft else {}
    missing = [invoice_id for invoice_id in credit if invoice_id not in paid]
    if missing:
        rows = db.session.execute(select(Invoice.id, Invoice.number, Invoice.issue_date)
                                  .where(Invoice.id.in_(missing))).all()
        numbers = {invoice_id: number for invoice_id, number, _ in rows}
    else:
        numbers = {}
    order = [int(line["invoice_id"]) for line in draft.lines] if draft else list(paid)
    order += [invoice_id for invoice_id in paid if invoice_id not in order]
    lines = []
    for invoice_id in order:
        number, amount = paid.get(invoice_id, (numbers.get(invoice_id), ZERO))
        share = credit.get(invoice_id, ZERO)
        if number and (amount or share):
            lines.append(ReceiptLine(number, amount, share))
    return lines


def build_receipt(payment: Payment) -> Receipt:
    config = current_app.config
    settles_on = expected_settlement(payment)
    return Receipt(
        payment=payment,
        status_label=STATUS_LABELS[payment.status],
        badge=STATUS_BADGES[payment.status],
        status_text=status_text(payment, settles_on),
        lines=receipt_lines(payment) if payment.status != PaymentStatus.FAILED else [],
        expected_settlement=settles_on,
        issuer_name=config["ISSUER_NAME"],
        issuer_address=config["ISSUER_ADDRESS"],
        issuer_tax_id=config["ISSUER_TAX_ID"],
    )


def receipt_pdf(receipt: Receipt, account_name: str, account_number: str) -> bytes:
    """The receipt as a PDF, with what the page shows."""
    payment, cur = receipt.payment, receipt.payment.currency
    pdf = PortalPDF(f"Payment receipt {payment.reference}")
    pdf.add_page()
    pdf.line_text("Payment receipt", size=18, bold=True, height=9)
    pdf.line_text(payment.reference, size=11, bold=True)
    pdf.ln(2)
    pdf.line_text(receipt.issuer_name, bold=True)
    pdf.line_text(receipt.issuer_address)
    pdf.line_text(f"Tax ID: {receipt.issuer_tax_id}")
    pdf.ln(2)
    facts = [
        ("Received from", f"{account_name} ({account_number})"),
        ("Date", medium_date(payment.received_on)),
        ("Status", receipt.status_label),
        ("Method", payment.method_label),
        ("Amount", money(payment.amount, cur)),
    ]
    if payment.settled_on:
        facts.append(("Settled on", medium_date(payment.settled_on)))
    if receipt.expected_settlement:
        facts.append(("Expected to settle", medium_date(receipt.expected_settlement)))
    if payment.returned_on:
        facts.append(("Returned on", medium_date(payment.returned_on)))
    for label, value in facts:
        pdf.row([(label, 40, "L"), (value, 0, "L")])
    pdf.ln(2)
    pdf.multi_cell(0, 5, receipt.status_text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    if receipt.lines:
        pdf.set_fill_color(238, 242, 247)
        pdf.row([("Invoice", 70, "L"), ("Paid by this payment", 45, "R"),
                 ("Credit applied", 35, "R"), ("Total", 40, "R")], bold=True, fill=True)
        for line in receipt.lines:
            pdf.row([(line.invoice_number, 70, "L"), (money(line.paid, cur), 45, "R"),
                     (money(line.credit, cur), 35, "R"), (money(line.total, cur), 40, "R")])
        pdf.row([("Total", 70, "L"), (money(payment.amount, cur), 45, "R"),
                 (money(receipt.credit_applied, cur), 35, "R"),
                 (money(receipt.invoices_total, cur), 40, "R")], bold=True)
    return bytes(pdf.output())
