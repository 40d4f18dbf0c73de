"""Subscription changes and cancellations reported by the ERP, with their effective dates
(possibly in the past): recorded through app.billing.services; the billing engine prices
them."""

from pydantic import Field
from sqlalchemy import select

from app.billing.models import Subscription, SubscriptionChange
from app.billing.services import cancel_subscription, change_subscription
from app.erp.api.errors import FieldErrors
from app.erp.api.framework import endpoint
from app.erp.api.lookups import get_account_or_404, get_subscription_or_404
from app.erp.api.schemas import Day, DecimalOut, RequestModel, ResponseModel, UnitPrice
from app.extensions import db
from app.web import MAX_INT


class ChangeIn(RequestModel):
    effective_date: Day
    quantity: int | None = Field(None, ge=0, le=MAX_INT)
    unit_price: UnitPrice | None = None


class ChangeOut(ResponseModel):
    subscription_id: int
    account_number: str
    effective_date: Day
    quantity: int
    unit_price: DecimalOut


class CancellationIn(RequestModel):
    last_day: Day


class CancellationOut(ResponseModel):
    subscription_id: int
    account_number: str
    status: str
    last_day: Day


def quantity_on(subscription: Subscription, day) -> int:
    """The quantity in effect on `day`: the latest change effective by then, else the
    starting quantity."""
    latest = db.session.scalar(
        select(SubscriptionChange.quantity).where(
            SubscriptionChange.subscription_id == subscription.id,
            SubscriptionChange.effective_date <= day)
        .order_by(SubscriptionChange.effective_date.desc(), SubscriptionChange.id.desc())
        .limit(1))
    return subscription.quantity if latest is None else latest


@endpoint("POST", "/accounts/<account_number>/subscriptions/<int:subscription_id>/changes",
          body=ChangeIn, response=ChangeOut, status=201, tag="Subscriptions",
          summary="Report a subscription change")
def report_change(body: ChangeIn, account_number: str, subscription_id: int) -> ChangeOut:
    """A new quantity and/or unit price from `effective_date`, which may be in the past: it
    must fall after the subscription's start and not after its last day."""
    account = get_account_or_404(account_number)
    subscription = get_subscription_or_404(account, subscription_id)
    problems = {}
    if body.quantity is None and body.unit_price is None:
        problems["quantity"] = "Send a new quantity, a new unit_price, or both."
    if body.effective_date <= subscription.start_date:
        problems["effective_date"] = (f"The subscription started on {subscription.start_date};"
                                      " enter a later date.")
    elif subscription.end_date is not None and body.effective_date > subscription.end_date:
        problems["effective_date"] = (f"The subscription ended on {subscription.end_date}; "
                                      "enter that day or earlier.")
    if problems:
        raise FieldErrors(problems)
    quantity = body.quantity if body.quantity is not None \
        else quantity_on(subscription, body.effective_date)
    change = change_subscription(subscription, effective_date=body.effective_date,
                                 quantity=quantity, unit_price=body.unit_price)
    return ChangeOut(subscription_id=subscription.id, account_number=account.number,
                     effective_date=change.effective_date, quantity=change.quantity,
                     unit_price=change.unit_price)


@endpoint("POST",
          "/accounts/<account_number>/subscriptions/<int:subscription_id>/cancellation",
          body=CancellationIn, response=CancellationOut, tag="Subscriptions",
          summary="Report a subscription cancellation")
def report_cancellation(body: CancellationIn, account_number: str, subscription_id: int
                        ) -> CancellationOut:
    """The subscription ends after `last_day` (possibly in the past; not before its start).
    Reporting it again moves the last day."""
    account = get_account_or_404(account_number)
    subscription = get_subscription_or_404(account, subscription_id)
    if body.last_day < subscription.start_date:
        raise FieldErrors({"last_day": f"The subscription started on "
                                       f"{subscription.start_date}; enter that day or later."})
    cancel_subscription(subscription, last_day=body.last_day)
    return CancellationOut(subscription_id=subscription.id, account_number=account.number,
                           status=subscription.status.value, last_day=subscription.end_date)
