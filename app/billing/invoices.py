"""Reading invoices for the pages: the filtered list with its totals, one invoice, and the
grouped layout (end customer → subscription → charge type). Always scoped to one account."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import groupby

from flask import abort, current_app
from sqlalchemy import Select, case, func, or_, select

from app.billing.models import ChargeType, Invoice, InvoiceLine, InvoiceStatus
from app.extensions import db
from app.money import ZERO
from app.web import positive_int

UNPAID = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
STATUS_FILTERS = {
    "all": "All invoices",
    "open": "Open (unpaid or part paid)",
    "overdue": "Overdue",
    "paid": "Paid",
    "void": "Void",
}
SORTS = {
    "-issue_date": ("Newest first", Invoice.issue_date.desc()),
    "issue_date": ("Oldest first", Invoice.issue_date.asc()),
    "-total": ("Largest total", Invoice.total.desc()),
    "total": ("Smallest total", Invoice.total.asc()),
    "due_date": ("Due date", Invoice.due_date.asc()),
    "number": ("Invoice number", Invoice.number.asc()),
}
PAGE_SIZE = 25
NO_CUSTOMER_KEY = "0"


@dataclass(frozen=True)
class InvoiceFilters:
    status: str = "all"
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = "-issue_date"
    page: int = 1


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    count: int
    page: int
    pages: int
    total: Decimal
    balance_due: Decimal


def _filtered(account_id: int, filters: InvoiceFilters, today: date) -> Select:
    query = select(Invoice).where(Invoice.account_id == account_id)
    if filters.status == "open":
        query = query.where(Invoice.status.in_(UNPAID))
    elif filters.status == "overdue":
        query = query.where(Invoice.status.in_(UNPAID), Invoice.due_date < today)
    elif filters.status in ("paid", "void"):
        query = query.where(Invoice.status == InvoiceStatus(filters.status))
    if filters.date_from:
        query = query.where(Invoice.issue_date >= filters.date_from)
    if filters.date_to:
        query = query.where(Invoice.issue_date <= filters.date_to)
    if filters.q:
        pattern = f"%{filters.q.strip()}%"
        # End customers and their own PO numbers, in the same subquery.
        customers = (
            select(InvoiceLine.invoice_id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.account_id == account_id,
                   or_(InvoiceLine.end_customer_name.ilike(pattern),
                       InvoiceLine.po_number.ilike(pattern)))
        )
        query = query.where(or_(Invoice.number.ilike(pattern), Invoice.po_number.ilike(pattern),
                                Invoice.id.in_(customers)))
    return query


def list_invoices(account_id: int, filters: InvoiceFilters, today: date) -> InvoicePage:
    """One page of the account's invoices that match `filters`, and totals of all of them."""
    query = _filtered(account_id, filters, today)
    matched = query.subquery()
    count, total, balance = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(matched.c.total), 0),
            func.coalesce(func.sum(case(
                (matched.c.status == InvoiceStatus.VOID.value, 0),
                else_=matched.c.total - matched.c.credit_applied - matched.c.amount_paid,
            )), 0),
        ).select_from(matched)
    ).one()
    pages = max(1, math.ceil(count / PAGE_SIZE))
    page = min(max(filters.page, 1), pages)
    invoices = db.session.scalars(
        query.order_by(SORTS.get(filters.sort, SORTS["-issue_date"])[1], Invoice.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return InvoicePage(list(invoices), count, page, pages, Decimal(total), Decimal(balance))


@dataclass(frozen=True)
class InvoicePayments:
    """What the payments domain tells the invoice pages, registered at start as
    `app.extensions["invoice_payments"]` (billing never imports payments): the invoices that a
    payment still in flight holds ("payment processing"), and whether a role may pay."""

    held_invoice_ids: Callable[[int], set[int]]
    can_pay: Callable[[str], bool]


def _invoice_payments() -> InvoicePayments | None:
    return current_app.extensions.get("invoice_payments")


def held_invoice_ids(account_id: int) -> set[int]:
    """Ids of the account's invoices held by a payment in flight (none without payments)."""
    payments = _invoice_payments()
    return payments.held_invoice_ids(account_id) if payments else set()


def can_pay(role: str) -> bool:
    payments = _invoice_payments()
    return bool(payments and payments.can_pay(role))


def get_invoice_or_404(account_id: int, number: str) -> Invoice:
    """The account's invoice with this number. Raises 404 when there is none — also when the
    number belongs to another account, so numbers of other resellers cannot be probed."""
    invoice = db.session.scalar(
        select(Invoice).where(Invoice.account_id == account_id, Invoice.number == number)
    )
    if invoice is None:
        abort(404)
    return invoice


@dataclass
class ChargeGroup:
    charge_type: ChargeType
    lines: int
    amount: Decimal


@dataclass
class SubscriptionGroup:
    name: str
    amount: Decimal = ZERO
    charges: list[ChargeGroup] = field(default_factory=list)


@dataclass
class CustomerGroup:
    key: str
    name: str
    po_number: str | None = None  # the end customer's own, in effect on the issue date
    lines: int = 0
    amount: Decimal = ZERO
    tax: Decimal = ZERO
    subscriptions: list[SubscriptionGroup] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


def invoice_groups(invoice: Invoice) -> list[CustomerGroup]:
    """The invoice's subtotals by end customer → subscription → charge type, from one
    aggregate query (the lines themselves are not loaded)."""
    rows = db.session.execute(
        select(
            InvoiceLine.end_customer_id,
            InvoiceLine.end_customer_name,
            InvoiceLine.subscription_name,
            InvoiceLine.charge_type,
            func.count(),
            func.sum(InvoiceLine.amount),
            func.sum(InvoiceLine.tax),
            func.min(InvoiceLine.position),
            # One PO number per end customer on an invoice: the one in effect at issue.
            func.max(InvoiceLine.po_number),
        )
        .where(InvoiceLine.invoice_id == invoice.id)
        .group_by(InvoiceLine.end_customer_id, InvoiceLine.end_customer_name,
                  InvoiceLine.subscription_name, InvoiceLine.charge_type)
        .order_by(func.min(InvoiceLine.position))
    ).all()
    customers: dict[str, CustomerGroup] = {}
    for (customer_id, customer_name, subscription, charge_type, count, amount, tax, _,
         po_number) in rows:
        key = str(customer_id or NO_CUSTOMER_KEY)
        group = customers.setdefault(key, CustomerGroup(key=key, name=customer_name,
                                                        po_number=po_number))
        group.lines += count
        group.amount += Decimal(amount)
        group.tax += Decimal(tax)
        if not group.subscriptions or group.subscriptions[-1].name != subscription:
            group.subscriptions.append(SubscriptionGroup(name=subscription))
        current = group.subscriptions[-1]
        current.amount += Decimal(amount)
        current.charges.append(ChargeGroup(ChargeType(charge_type), count, Decimal(amount)))
    return list(customers.values())


# Lines are read as plain rows (attribute access like the model): an invoice may have 10,000.
LINE_COLUMNS = [
    InvoiceLine.position, InvoiceLine.end_customer_id, InvoiceLine.end_customer_name,
    InvoiceLine.subscription_name, InvoiceLine.sku, InvoiceLine.charge_type,
    InvoiceLine.description, InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.amount,
    InvoiceLine.tax_rate, InvoiceLine.tax, InvoiceLine.service_start, InvoiceLine.service_end,
    InvoiceLine.po_number,
]


def customer_lines(invoice: Invoice, key: str) -> list:
    """The lines of one end customer's group, in invoice order. Raises 404 for a key the
    invoice does not have."""
    customer_id = None if key == NO_CUSTOMER_KEY else _int_or_404(key)
    lines = db.session.execute(
        select(*LINE_COLUMNS)
        .where(InvoiceLine.invoice_id == invoice.id, InvoiceLine.end_customer_id == customer_id
               if customer_id is not None else InvoiceLine.end_customer_id.is_(None))
        .order_by(InvoiceLine.position)
    ).all()
    if not lines:
        abort(404)
    return list(lines)


@dataclass
class ChargeLines:
    charge_type: ChargeType
    amount: Decimal
    lines: list


@dataclass
class SubscriptionLines:
    name: str
    amount: Decimal
    charges: list[ChargeLines]


def nest_lines(lines: list) -> list[SubscriptionLines]:
    """Lines of one end customer (in invoice order) nested by subscription and charge type,
    with subtotals."""
    nested = []
    for name, by_subscription in groupby(lines, key=lambda line: line.subscription_name):
        charges = []
        for charge_type, by_type in groupby(by_subscription, key=lambda line: line.charge_type):
            group = list(by_type)
            charges.append(ChargeLines(charge_type, sum((x.amount for x in group), ZERO), group))
        nested.append(SubscriptionLines(name, sum((c.amount for c in charges), ZERO), charges))
    return nested


def all_lines(invoice: Invoice) -> list:
    return list(db.session.execute(
        select(*LINE_COLUMNS).where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.position)
    ))


def _int_or_404(text: str) -> int:
    try:
        return positive_int(text)
    except ValueError:
        abort(404)
