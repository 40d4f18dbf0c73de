"""Billing set-up operations (catalog, end customers, subscriptions, usage) used by the demo
data, the ERP and tests. Services flush; callers commit.

A change, cancellation or usage record may be reported long after its effective date. Each
marks its subscription (`rebill_from`, the earliest date reported since the last billing run)
so that the next run re-rates the days already invoiced (app.billing.corrections)."""

from datetime import date
from decimal import Decimal

from sqlalchemy import case, update

from app.billing.cutover import configured_cutover, first_engine_arrears_start
from app.billing.models import (
    BillingCycle,
    ChargeModel,
    EndCustomer,
    OneTimeCharge,
    Product,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
    TaxRate,
    UsageRecord,
)
from app.errors import DomainError
from app.extensions import db
from app.formatting import medium_date


def mark_for_rebilling(subscription_id: int, effective_date: date) -> None:
    """Have the next billing run re-rate the subscription from `effective_date`. One UPDATE,
    so that it locks the row: a billing run re-rating the subscription waits for this
    transaction, or this one for the run's."""
    db.session.execute(
        update(Subscription).where(Subscription.id == subscription_id)
        .values(rebill_from=case(
            (Subscription.rebill_from.is_(None), effective_date),
            (Subscription.rebill_from > effective_date, effective_date),
            else_=Subscription.rebill_from))
        .execution_options(synchronize_session=False)
    )


def create_product(*, sku: str, name: str, vendor: str, charge_model: ChargeModel, unit: str,
                   list_price: Decimal) -> Product:
    product = Product(sku=sku, name=name, vendor=vendor, charge_model=charge_model, unit=unit,
                      list_price=list_price)
    db.session.add(product)
    db.session.flush()
    return product


def create_end_customer(account_id: int, name: str) -> EndCustomer:
    customer = EndCustomer(account_id=account_id, name=name)
    db.session.add(customer)
    db.session.flush()
    return customer


def create_subscription(*, customer: EndCustomer, product: Product, quantity: int,
                        unit_price: Decimal, start_date: date,
                        cycle: BillingCycle = BillingCycle.MONTHLY) -> Subscription:
    subscription = Subscription(
        account_id=customer.account_id, end_customer_id=customer.id, product_id=product.id,
        quantity=quantity, unit_price=unit_price, cycle=cycle, start_date=start_date,
        status=SubscriptionStatus.ACTIVE,
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription


def change_subscription(subscription: Subscription, *, effective_date: date, quantity: int,
                        unit_price: Decimal | None = None) -> SubscriptionChange:
    """A new quantity (and price) from `effective_date`. Raises DomainError before the start
    or after the end of the subscription."""
    if effective_date <= subscription.start_date or (
        subscription.end_date is not None and effective_date > subscription.end_date
    ):
        raise DomainError("A change must fall within the subscription's service.")
    if quantity < 0:
        raise DomainError("A quantity cannot be negative.")
    change = SubscriptionChange(
        subscription_id=subscription.id, effective_date=effective_date, quantity=quantity,
        unit_price=unit_price if unit_price is not None else subscription.unit_price,
    )
    db.session.add(change)
    db.session.flush()
    mark_for_rebilling(subscription.id, effective_date)
    db.session.expire(subscription, ["rebill_from"])
    return change


def cancel_subscription(subscription: Subscription, *, last_day: date) -> None:
    """End the service after `last_day`; the unused days are credited on the next invoice."""
    if last_day < subscription.start_date:
        raise DomainError("A subscription cannot end before it starts.")
    previous_end = subscription.end_date
    subscription.end_date = last_day
    subscription.status = SubscriptionStatus.CANCELLED
    db.session.flush()
    # The first day whose billing changes: the day after the earlier of the two last days.
    mark_for_rebilling(subscription.id, min(last_day, previous_end or last_day))
    db.session.expire(subscription, ["rebill_from"])


def record_usage(subscription: Subscription, usage_date: date, quantity: Decimal) -> None:
    """A day of metered usage, billed in arrears (re-rated when its month was invoiced)."""
    db.session.add(UsageRecord(subscription_id=subscription.id, usage_date=usage_date,
                               quantity=quantity))
    db.session.flush()
    mark_for_rebilling(subscription.id, usage_date)


def add_one_time_charge(*, account_id: int, description: str, amount: Decimal,
                        charge_date: date, customer: EndCustomer | None = None) -> OneTimeCharge:
    """A fee billed on the next invoice (as an adjustment when the month of its date was
    already invoiced). Raises DomainError for a fee dated before the engine's first arrears
    month: that is the legacy system's history."""
    earliest = first_engine_arrears_start(configured_cutover())
    if charge_date < earliest:
        raise DomainError(
            f"A fee dated before {medium_date(earliest)} belongs to the legacy billing "
            "system's history (before the cutover); it cannot be billed now.")
    charge = OneTimeCharge(account_id=account_id, end_customer_id=customer.id if customer else None,
                           description=description, amount=amount, charge_date=charge_date)
    db.session.add(charge)
    db.session.flush()
    return charge


def set_tax_rate(*, country: str, region: str, name: str, rate: Decimal,
                 valid_from: date) -> TaxRate:
    tax_rate = TaxRate(country=country, region=region, name=name, rate=rate,
                       valid_from=valid_from)
    db.session.add(tax_rate)
    db.session.flush()
    return tax_rate
