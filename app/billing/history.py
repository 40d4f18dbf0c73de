"""Reading historical (pre-cutover) invoices, scoped to one account."""

import math
from dataclasses import dataclass

from flask import abort
from sqlalchemy import func, select

from app.billing.models import HistoricalInvoice, HistoricalInvoiceLine
from app.extensions import db

PAGE_SIZE = 25


@dataclass(frozen=True)
class HistoryPage:
    invoices: list[HistoricalInvoice]
    count: int
    page: int
    pages: int


def list_historical(account_id: int, page: int) -> HistoryPage:
    count = db.session.scalar(select(func.count()).select_from(HistoricalInvoice).where(
        HistoricalInvoice.account_id == account_id)) or 0
    pages = max(1, math.ceil(count / PAGE_SIZE))
    page = min(max(page, 1), pages)
    invoices = db.session.scalars(
        select(HistoricalInvoice).where(HistoricalInvoice.account_id == account_id)
        .order_by(HistoricalInvoice.invoice_date.desc(), HistoricalInvoice.number)
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return HistoryPage(list(invoices), count, page, pages)


def get_historical_or_404(account_id: int, number: str) -> HistoricalInvoice:
    """The account's historical invoice; 404 for another account's number too."""
    invoice = db.session.scalar(select(HistoricalInvoice).where(
        HistoricalInvoice.account_id == account_id, HistoricalInvoice.number == number))
    if invoice is None:
        abort(404)
    return invoice


def historical_lines(invoice: HistoricalInvoice) -> list[HistoricalInvoiceLine]:
    return list(db.session.scalars(
        select(HistoricalInvoiceLine).where(HistoricalInvoiceLine.invoice_id == invoice.id)
        .order_by(HistoricalInvoiceLine.line_number)
    ))
