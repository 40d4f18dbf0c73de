"""ACH settlements and returns reported by the ERP: the same consequences as the gateway's
own settle and return events (app.payments.settlement)."""

from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy import select

from app.accounts.models import Account
from app.erp.api.errors import ApiError, FieldErrors
from app.erp.api.framework import endpoint
from app.erp.api.schemas import Day, RequestModel, ResponseModel
from app.extensions import db
from app.payments.gateways.base import MethodKind
from app.payments.models import Payment, PaymentStatus
from app.payments.services import lock_payment
from app.payments.settlement import return_ach_payment, settle_ach_payment

ReturnCodeText = Annotated[str, StringConstraints(pattern=r"^R[0-9]{2}$"),
                           Field(examples=["R01"])]


class SettlementIn(RequestModel):
    settled_on: Day


class ReturnIn(RequestModel):
    return_code: ReturnCodeText
    returned_on: Day


class PaymentOut(ResponseModel):
    reference: str
    account_number: str
    status: str
    settled_on: Day | None
    returned_on: Day | None
    return_code: str | None
    changed: bool = Field(description="false when the payment was already in this state "
                                      "(a repeated report changes nothing).")
    method_disabled: bool = Field(description="The bank account was turned off by this "
                                              "return.")


def _ach_payment_or_404(reference: str) -> Payment:
    """The payment with this reference, locked. Raises ApiError: 404 when there is none, 409
    when it was not made by ACH."""
    found = db.session.scalar(select(Payment).where(Payment.reference == reference))
    if found is None:
        raise ApiError(404, f"No payment has the reference {reference}.")
    payment = lock_payment(found.id)
    if payment.method is None or payment.method.kind != MethodKind.ACH:
        raise ApiError(409, f"Payment {reference} was not made by ACH; only ACH payments "
                       "settle or come back.")
    return payment


def _out(payment: Payment, *, changed: bool, method_disabled: bool = False) -> PaymentOut:
    return PaymentOut(reference=payment.reference, account_number=payment_account(payment),
                      status=payment.status.value, settled_on=payment.settled_on,
                      returned_on=payment.returned_on, return_code=payment.return_code,
                      changed=changed, method_disabled=method_disabled)


def payment_account(payment: Payment) -> str:
    return db.session.get(Account, payment.account_id).number


@endpoint("POST", "/payments/<reference>/settlement", body=SettlementIn, response=PaymentOut,
          errors=(409,), tag="Payments", summary="Report an ACH settlement")
def settle(body: SettlementIn, reference: str) -> PaymentOut:
    """The ACH payment settled: it becomes succeeded. Reported again: 200, nothing changes.
    A failed or returned payment cannot settle (409)."""
    payment = _ach_payment_or_404(reference)
    if payment.status == PaymentStatus.SUCCEEDED:
        return _out(payment, changed=False)
    if payment.status not in (PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN):
        raise ApiError(409, f"Payment {reference} is {payment.status.value}; it cannot "
                       "settle.")
    if body.settled_on < payment.received_on:
        raise FieldErrors({"settled_on": f"Payment {reference} was made on "
                                         f"{payment.received_on}; enter that day or later."})
    settle_ach_payment(payment, on=body.settled_on)
    return _out(payment, changed=True)


@endpoint("POST", "/payments/<reference>/return", body=ReturnIn, response=PaymentOut,
          errors=(409,), tag="Payments", summary="Report an ACH return")
def return_(body: ReturnIn, reference: str) -> PaymentOut:
    """The bank sent the ACH payment back with an R-code: the payment is reversed, its
    invoices reopen, and R02, R03, R04, R29 (and codes the portal does not know) turn the bank
    account off. The same return reported again: 200, nothing changes. A failed payment, or
    one returned with another code, cannot be returned (409)."""
    payment = _ach_payment_or_404(reference)
    if payment.status == PaymentStatus.RETURNED and payment.return_code == body.return_code:
        return _out(payment, changed=False)
    if payment.status not in (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED,
                              PaymentStatus.UNKNOWN):
        raise ApiError(409, f"Payment {reference} is {payment.status.value}"
                       + (f" with {payment.return_code}" if payment.return_code else "")
                       + "; it cannot be returned.")
    if body.returned_on < payment.received_on:
        raise FieldErrors({"returned_on": f"Payment {reference} was made on "
                                          f"{payment.received_on}; enter that day or later."})
    _, disabled = return_ach_payment(payment, body.return_code, on=body.returned_on)
    return _out(payment, changed=True, method_disabled=disabled)
