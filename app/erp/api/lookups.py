"""Loading what a URL names, for the API's views: each raises ApiError (404) when there is
no such thing (a subscription of another account included)."""

import re

from sqlalchemy import select

from app.accounts.models import Account
from app.billing.models import CreditNote, Invoice, Subscription
from app.erp.api.errors import ApiError
from app.extensions import db

# The portal's own document numbers ("INV-2026-000042", "CN-2026-000007"): the ERP's numbers
# may not take this form, or a later number of the portal's gapless sequence would collide.
PORTAL_NUMBER = re.compile(r"(INV|CN)-[0-9]{4}-[0-9]{6}", re.IGNORECASE)
PORTAL_NUMBER_SENTENCE = ("Numbers of the form INV-YYYY-NNNNNN or CN-YYYY-NNNNNN are the "
                          "portal's own; send the ERP's number.")


def get_account_or_404(account_number: str) -> Account:
    """The account with this number. Raises ApiError (404)."""
    account = db.session.scalar(select(Account).where(Account.number == account_number))
    if account is None:
        raise ApiError(404, f"No account has the number {account_number}.")
    return account


def get_subscription_or_404(account: Account, subscription_id: int) -> Subscription:
    """The account's subscription with this id. Raises ApiError (404), also when the
    subscription belongs to another account."""
    subscription = db.session.scalar(select(Subscription).where(
        Subscription.id == subscription_id, Subscription.account_id == account.id))
    if subscription is None:
        raise ApiError(404, f"Account {account.number} has no subscription {subscription_id}.")
    return subscription


def document_number_taken(number: str) -> bool:
    """Whether an invoice or credit note already has this number (numbers are unique across
    accounts: they are printed on the documents)."""
    return (db.session.scalar(select(Invoice.id).where(Invoice.number == number)) is not None
            or db.session.scalar(select(CreditNote.id).where(CreditNote.number == number))
            is not None)
