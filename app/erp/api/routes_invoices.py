"""Invoices issued in the ERP (app.billing.erp_invoices)."""

import calendar
from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints

from app.billing.erp_invoices import ErpInvoice, ErpInvoiceError, ErpLine, post_erp_invoice
from app.credit.services import lock_account
from app.erp.api.errors import ApiError, FieldErrors
from app.erp.api.framework import endpoint
from app.erp.api.lookups import (
    PORTAL_NUMBER,
    PORTAL_NUMBER_SENTENCE,
    document_number_taken,
    get_account_or_404,
)
from app.erp.api.schemas import (
    Currency,
    Day,
    DecimalOut,
    DocumentNumber,
    Money,
    Quantity,
    RequestModel,
    ResponseModel,
    SignedMoney,
    Text,
    UnitPrice,
)

MAX_LINES = 10_000
PeriodText = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
                       Field(examples=["2026-03"])]


class InvoiceLineIn(RequestModel):
    description: Text(300)
    quantity: Quantity
    unit_price: UnitPrice
    amount: SignedMoney = Field(description="quantity × unit_price, rounded half-up to the "
                                            "cent.")
    tax: SignedMoney


class InvoiceIn(RequestModel):
    number: DocumentNumber
    period: PeriodText | None = Field(None, description="The month billed; without it, the "
                                                        "invoice covers its issue date.")
    issue_date: Day
    due_date: Day
    currency: Currency
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=MAX_LINES)
    subtotal: Money = Field(description="The sum of the lines' amounts.")
    tax: Money = Field(description="The sum of the lines' tax.")
    total: Money = Field(description="subtotal + tax.")


class InvoiceOut(ResponseModel):
    number: str
    account_number: str
    status: str
    issue_date: Day
    due_date: Day
    currency: str
    subtotal: DecimalOut
    tax: DecimalOut
    total: DecimalOut
    credit_applied: DecimalOut
    balance_due: DecimalOut
    lines: int


def _period(body: InvoiceIn) -> tuple[date, date, str]:
    if body.period is None:
        return body.issue_date, body.issue_date, body.issue_date.strftime("%Y-%m")
    year, month = (int(part) for part in body.period.split("-"))
    return (date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]),
            body.period)


@endpoint("POST", "/accounts/<account_number>/invoices", body=InvoiceIn, response=InvoiceOut,
          status=201, errors=(409,), tag="Invoices", summary="Post an invoice issued in the ERP")
def create_invoice(body: InvoiceIn, account_number: str) -> InvoiceOut:
    """An invoice the ERP issued, stored as issued with the account's bill-to. Each line's
    quantity × unit price must give its amount, and the lines must add up to the subtotal and
    tax, and those to the total, to the cent (400 naming the field). A number already used
    answers 409. The account's credit is applied when its auto-apply setting is on."""
    account = get_account_or_404(account_number)
    if PORTAL_NUMBER.fullmatch(body.number):
        raise FieldErrors({"number": PORTAL_NUMBER_SENTENCE})
    start, end, key = _period(body)
    lines = [ErpLine(description=line.description, quantity=line.quantity,
                     unit_price=line.unit_price, amount=line.amount, tax=line.tax)
             for line in body.lines]
    draft = ErpInvoice(number=body.number, period_start=start, period_end=end, period_key=key,
                       issue_date=body.issue_date, due_date=body.due_date,
                       currency=body.currency, lines=lines, subtotal=body.subtotal,
                       tax=body.tax, total=body.total)
    lock_account(account.id)
    if document_number_taken(body.number):
        raise ApiError(409, f"A document numbered {body.number} already exists; nothing was "
                       "changed.")
    try:
        invoice = post_erp_invoice(account, draft)
    except ErpInvoiceError as error:
        raise FieldErrors(error.fields) from None
    return InvoiceOut(number=invoice.number, account_number=account.number,
                      status=invoice.status.value, issue_date=invoice.issue_date,
                      due_date=invoice.due_date, currency=invoice.currency,
                      subtotal=invoice.subtotal, tax=invoice.tax_total, total=invoice.total,
                      credit_applied=invoice.credit_applied, balance_due=invoice.balance_due,
                      lines=invoice.line_count)
