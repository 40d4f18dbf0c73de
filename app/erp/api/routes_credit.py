"""Credit notes issued by the ERP."""

from app.credit.services import credit_balance, issue_credit_note, lock_account
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
    PositiveMoney,
    RequestModel,
    ResponseModel,
    Text,
)


class CreditNoteIn(RequestModel):
    number: DocumentNumber
    amount: PositiveMoney
    currency: Currency
    reason: Text(300)
    issued_on: Day


class CreditNoteOut(ResponseModel):
    number: str
    account_number: str
    amount: DecimalOut
    currency: str
    reason: str
    issued_on: Day
    credit_balance: DecimalOut


@endpoint("POST", "/accounts/<account_number>/credit-notes", body=CreditNoteIn,
          response=CreditNoteOut, status=201, errors=(409,), tag="Credit",
          summary="Issue a credit note")
def create_credit_note(body: CreditNoteIn, account_number: str) -> CreditNoteOut:
    """A credit note the ERP issued: the account gets its amount as credit, in the account's
    currency. A number already used answers 409."""
    account = get_account_or_404(account_number)
    if body.currency != account.currency:
        raise FieldErrors({"currency": f"Account {account.number} is billed in "
                                       f"{account.currency}; send {account.currency}."})
    if PORTAL_NUMBER.fullmatch(body.number):
        raise FieldErrors({"number": PORTAL_NUMBER_SENTENCE})
    lock_account(account.id)
    if document_number_taken(body.number):
        raise ApiError(409, f"A document numbered {body.number} already exists; nothing was "
                       "changed.")
    note = issue_credit_note(account, body.amount, body.reason, issue_date=body.issued_on,
                             number=body.number)
    return CreditNoteOut(number=note.number, account_number=account.number, amount=note.amount,
                         currency=note.currency, reason=note.reason, issued_on=note.issue_date,
                         credit_balance=credit_balance(account))
