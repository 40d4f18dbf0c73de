"""The demo's historical invoices: 18 months before the cutover, written in the legacy CSV
format and imported through the same importer an operator uses."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import Account
from app.billing.legacy import COLUMNS, import_rows
from app.billing.models import Product, Subscription
from app.demo.billing_data import TAX_RATES, months_between
from app.extensions import db
from app.money import line_tax, round_money


def legacy_csv(account: Account, cutover: date, months: int = 18) -> str:
    """A legacy export of the account's monthly invoices for the months before the cutover."""
    first = cutover.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    rate = next((Decimal(r) for c, reg, _, r in TAX_RATES
                 if (c, reg) == (account.country, account.region)), Decimal(0))
    subscriptions = [(product.name, sub) for sub, product in select_subscriptions(account)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    last_month = (cutover.replace(day=1) - timedelta(days=1))
    for index, period in enumerate(months_between(first, last_month), start=1):
        line_number = 0
        number = f"L{period.start:%y%m}-{account.number[-4:]}-{index:03d}"
        for name, sub in subscriptions:
            if sub.start_date > period.start or sub.quantity == 0:
                continue
            line_number += 1
            amount = round_money(sub.quantity * sub.unit_price)
            writer.writerow([
                account.number, number, period.start.isoformat(),
                (period.start + timedelta(days=30)).isoformat(), account.currency, "paid",
                line_number, f"{name} - {sub.quantity} x monthly", sub.quantity,
                f"{sub.unit_price.normalize():f}", f"{amount:.2f}", f"{line_tax(amount, rate):.2f}",
            ])
    return out.getvalue()


def select_subscriptions(account: Account):
    return db.session.execute(
        select(Subscription, Product).join(Product)
        .where(Subscription.account_id == account.id)
        .order_by(Subscription.id)
    ).all()


def import_demo_history(account: Account, cutover: date) -> int:
    report = import_rows(csv.reader(io.StringIO(legacy_csv(account, cutover))), cutover=cutover)
    return len(report.imported)
