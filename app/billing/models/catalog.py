"""Catalog, end customers, subscriptions with dated changes, usage, one-time fees, tax rates."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import utcnow
from app.extensions import db, enum_column


class ChargeModel(enum.StrEnum):
    PER_SEAT = "per_seat"
    USAGE = "usage"
    ONE_TIME = "one_time"


class BillingCycle(enum.StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    vendor: Mapped[str] = mapped_column(String(100))
    charge_model: Mapped[ChargeModel] = mapped_column(enum_column(ChargeModel))
    unit: Mapped[str] = mapped_column(String(20))  # "seat", "GB", "hour" …
    list_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))


class EndCustomer(db.Model):
    """A reseller's own customer, for whom it buys subscriptions."""

    __tablename__ = "end_customers"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_end_customers_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ends_after_start"),
        Index("ix_subscriptions_rebill", "account_id", "rebill_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    end_customer_id: Mapped[int] = mapped_column(ForeignKey("end_customers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    # The quantity and price at the start; later values come from dated changes.
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    cycle: Mapped[BillingCycle] = mapped_column(enum_column(BillingCycle))
    start_date: Mapped[date]
    end_date: Mapped[date | None]  # the last day of service
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_column(SubscriptionStatus), default=SubscriptionStatus.ACTIVE
    )
    # The earliest effective date of a change, cancellation or usage reported since the
    # billing run last re-rated the subscription; None when nothing is waiting. The run
    # re-rates every day it already invoiced and clears this (app.billing.corrections).
    rebill_from: Mapped[date | None]

    product: Mapped[Product] = relationship(lazy="joined")
    end_customer: Mapped[EndCustomer] = relationship()
    changes: Mapped[list["SubscriptionChange"]] = relationship(
        order_by="SubscriptionChange.effective_date", back_populates="subscription"
    )


class SubscriptionChange(db.Model):
    """A change of quantity and/or price from `effective_date` on."""

    __tablename__ = "subscription_changes"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    effective_date: Mapped[date]
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscription: Mapped[Subscription] = relationship(back_populates="changes")


class UsageRecord(db.Model):
    """One day of metered usage of a subscription."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("subscription_id", "usage_date", name="uq_usage_records_subscription_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    usage_date: Mapped[date]
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))


class OneTimeCharge(db.Model):
    """A fee billed once, on the invoice after its date (setup, migration, training …)."""

    __tablename__ = "one_time_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    end_customer_id: Mapped[int | None] = mapped_column(ForeignKey("end_customers.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    charge_date: Mapped[date]
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)

    end_customer: Mapped[EndCustomer | None] = relationship()


class TaxRate(db.Model):
    """The sales tax rate of a jurisdiction (country and state or province) from a date on."""

    __tablename__ = "tax_rates"
    __table_args__ = (
        UniqueConstraint("country", "region", "valid_from", name="uq_tax_rates_jurisdiction"),
        CheckConstraint("rate >= 0 AND rate < 1", name="rate_is_a_fraction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 5))
    valid_from: Mapped[date]
