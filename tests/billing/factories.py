"""Billing test data: a product catalog and accounts with subscriptions."""

from datetime import date
from decimal import Decimal

from app.billing import services
from app.billing.models import BillingCycle, ChargeModel
from app.extensions import db


class BillingFactory:
    def __init__(self, factory) -> None:
        self.factory = factory
        self.products = {}

    def product(self, sku="M365-BS", model=ChargeModel.PER_SEAT, price="12.50"):
        if sku not in self.products:
            self.products[sku] = services.create_product(
                sku=sku, name=f"Product {sku}", vendor="Microsoft", charge_model=model,
                unit="seat", list_price=Decimal(price),
            )
        return self.products[sku]

    def tax(self, country="US", region="WA", rate="0.101"):
        services.set_tax_rate(country=country, region=region, name="Sales tax",
                              rate=Decimal(rate), valid_from=date(2000, 1, 1))
        db.session.commit()

    def account(self, subscriptions=3, start=date(2026, 1, 1), **fields):
        """An account with `subscriptions` monthly seat subscriptions of one end customer."""
        account = self.factory.account(
            address_line1="1 Main Street", city="Seattle", postal_code="98101", **fields
        )
        customer = services.create_end_customer(account.id, f"Customer of {account.number}")
        for index in range(subscriptions):
            services.create_subscription(
                customer=customer, product=self.product(), quantity=index + 1,
                unit_price=Decimal("12.50"), start_date=start, cycle=BillingCycle.MONTHLY,
            )
        db.session.commit()
        return account
