"""Billing history of the demo: a catalog, end customers and subscriptions, then the billing
engine run month by month from the cutover to the current month, and payments of all but the
latest invoices through the pay flow's services, with the account's payment methods.
Deterministic (a seeded random generator)."""

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from app.accounts.models import Account, Role, User
from app.billing import services
from app.billing.cutover import configured_cutover, first_engine_arrears_start
from app.billing.engine import run_billing
from app.billing.models import (
    BillingCycle,
    ChargeModel,
    EndCustomer,
    Invoice,
    InvoiceStatus,
    Product,
    Subscription,
    SubscriptionChange,
    TaxRate,
    UsageRecord,
)
from app.billing.rating import Period
from app.credit.services import issue_credit_note
from app.extensions import db
from app.payments import methods
from app.payments.gateways.business_days import add_business_days
from app.payments.gateways.sandbox import ACH_SETTLEMENT_BUSINESS_DAYS
from app.payments.models import PaymentStatus
from app.payments.pay import PAY_ROLES, pay_invoices
from app.payments.services import create_payment, settle_payment

PS, USAGE = ChargeModel.PER_SEAT, ChargeModel.USAGE
CATALOG = [
    ("MS-M365-BB", "Microsoft 365 Business Basic", "Microsoft", PS, "seat", "6.00"),
    ("MS-M365-BS", "Microsoft 365 Business Standard", "Microsoft", PS, "seat", "12.50"),
    ("MS-M365-BP", "Microsoft 365 Business Premium", "Microsoft", PS, "seat", "22.00"),
    ("MS-M365-E3", "Microsoft 365 E3", "Microsoft", PS, "seat", "36.00"),
    ("MS-EXO-P1", "Exchange Online (Plan 1)", "Microsoft", PS, "seat", "4.00"),
    ("MS-TEAMS-ESS", "Microsoft Teams Essentials", "Microsoft", PS, "seat", "4.00"),
    ("MS-D365-BC", "Dynamics 365 Business Central Essentials", "Microsoft", PS, "seat", "70.00"),
    ("MS-W365-BUS", "Windows 365 Business", "Microsoft", PS, "seat", "31.00"),
    ("AZ-PLAN", "Azure plan consumption", "Microsoft", USAGE, "meter unit", "0.0875"),
    ("AZ-BACKUP-GB", "Azure Backup storage", "Microsoft", USAGE, "GB", "0.0224"),
    ("ACR-CPC", "Acronis Cyber Protect Cloud", "Acronis", PS, "workload", "9.50"),
    ("BD-GZ-BS", "Bitdefender GravityZone Business Security", "Bitdefender", PS, "endpoint",
     "28.00"),
    ("VEEAM-M365", "Veeam Backup for Microsoft 365", "Veeam", PS, "user", "24.00"),
    ("PP-ESS", "Proofpoint Essentials", "Proofpoint", PS, "user", "3.50"),
]
ANNUAL_SKUS = {"BD-GZ-BS", "VEEAM-M365"}
TAX_RATES = [
    ("US", "WA", "Washington sales tax", "0.101"),
    ("US", "NY", "New York sales tax", "0.08875"),
    ("US", "TX", "Texas sales tax", "0.0825"),
    ("CA", "ON", "Ontario HST", "0.13"),
    ("CA", "BC", "British Columbia GST + PST", "0.12"),
]
END_CUSTOMERS = [
    "Adatum Corporation", "Alpine Ski House", "Bellows College", "Blue Yonder Airlines",
    "City Power & Light", "Coho Winery", "Fabrikam, Inc.", "Fourth Coffee",
    "Graphic Design Institute", "Humongous Insurance", "Litware, Inc.", "Lucerne Publishing",
    "Margie's Travel", "Tailspin Toys", "Trey Research", "Wingtip Toys", "Woodgrove Bank",
    "VanArsdel, Ltd.", "Northridge Dental", "Proseware, Inc.",
]
CAD_RATE = Decimal("1.35")
FOUR_PLACES = Decimal("0.0001")


def months_between(first: date, last: date) -> list[Period]:
    periods, day = [], first.replace(day=1)
    while day <= last:
        periods.append(Period.parse(f"{day:%Y-%m}"))
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return periods


def ensure_catalog() -> dict[str, Product]:
    """The demo catalog and tax rates (created once)."""
    products = {p.sku: p for p in db.session.scalars(select(Product))}
    for sku, name, vendor, model, unit, price in CATALOG:
        if sku not in products:
            products[sku] = services.create_product(
                sku=sku, name=name, vendor=vendor, charge_model=model, unit=unit,
                list_price=Decimal(price),
            )
    if db.session.scalar(select(TaxRate.id).limit(1)) is None:
        for country, region, name, rate in TAX_RATES:
            services.set_tax_rate(country=country, region=region, name=name,
                                  rate=Decimal(rate), valid_from=date(2000, 1, 1))
    return products


def _price(product: Product, currency: str) -> Decimal:
    price = product.list_price * (CAD_RATE if currency == "CAD" else 1)
    return price.quantize(FOUR_PLACES)


def build_subscriptions(
    rng: random.Random,
    account: Account,
    products: dict[str, Product],
    *,
    customers: int,
    per_customer: tuple[int, int],
    first_start: date,
    today: date,
    daily_usage: bool,
) -> int:
    """End customers with subscriptions, dated changes, cancellations, usage and one-time fees,
    inserted in bulk. Returns the number of subscriptions."""
    names = rng.sample(END_CUSTOMERS, customers)
    db.session.execute(insert(EndCustomer), [{"account_id": account.id, "name": n} for n in names])
    customer_ids = list(db.session.scalars(
        select(EndCustomer.id).where(EndCustomer.account_id == account.id)
    ))
    span = (today - first_start).days
    subscriptions = []
    for customer_id in customer_ids:
        for product in rng.sample(list(products.values()), rng.randint(*per_customer)):
            start = first_start + timedelta(days=rng.randint(0, max(span - 60, 1)))
            if start < date(2018, 4, 1) or product.sku in ANNUAL_SKUS:
                start = start.replace(day=1)
            usage = product.charge_model == ChargeModel.USAGE
            subscriptions.append({
                "account_id": account.id, "end_customer_id": customer_id,
                "product_id": product.id, "quantity": 0 if usage else rng.randint(1, 60),
                "unit_price": _price(product, account.currency),
                "cycle": BillingCycle.ANNUAL if product.sku in ANNUAL_SKUS
                else BillingCycle.MONTHLY,
                "start_date": start, "status": "active",
                # Seats move and some subscriptions end, all after the cutover.
                "end_date": (today - timedelta(days=rng.randint(20, 400)))
                if rng.random() < 0.08 and not usage else None,
            })
    for row in subscriptions:
        if row["end_date"] is not None and row["end_date"] <= row["start_date"]:
            row["end_date"] = None
        if row["end_date"] is not None:
            row["status"] = "cancelled"
    db.session.execute(insert(Subscription), subscriptions)
    rows = db.session.execute(
        select(Subscription.id, Subscription.start_date, Subscription.end_date,
               Subscription.quantity, Subscription.unit_price, Product.charge_model)
        .join(Product).where(Subscription.account_id == account.id)
    ).all()
    changes, usage = [], []
    for sub_id, start, end, quantity, price, model in rows:
        if model == ChargeModel.USAGE:
            usage += _usage_rows(rng, sub_id, max(start, date(2018, 3, 1)),
                                 min(end or today, today - timedelta(days=1)), daily_usage)
            continue
        earliest = max(start, date(2018, 5, 1)) + timedelta(days=1)
        latest = min(end or today, today) - timedelta(days=1)
        if latest <= earliest:
            continue
        for day in sorted(rng.sample(range((latest - earliest).days), min(
                rng.randint(0, 3), (latest - earliest).days))):
            quantity = max(1, quantity + rng.choice([-3, -1, 1, 2, 5]))
            changes.append({"subscription_id": sub_id,
                            "effective_date": earliest + timedelta(days=day),
                            "quantity": quantity, "unit_price": price})
    if changes:
        db.session.execute(insert(SubscriptionChange), changes)
    for chunk in range(0, len(usage), 5000):
        db.session.execute(insert(UsageRecord), usage[chunk:chunk + 5000])
    # No fee before the engine's first month: that is the legacy system's history.
    earliest_fee = max(first_start, first_engine_arrears_start(configured_cutover()))
    for _ in range(max(1, customers // 4)):
        services.add_one_time_charge(
            account_id=account.id,
            customer=db.session.get(EndCustomer, rng.choice(customer_ids)),
            description=rng.choice(["Tenant migration", "Onboarding and setup",
                                    "Security assessment", "Training session"]),
            amount=Decimal(rng.choice(["150.00", "250.00", "480.00", "1200.00"])),
            charge_date=today - timedelta(days=rng.randint(5, (today - earliest_fee).days)),
        )
    return len(rows)


def _usage_rows(rng, sub_id, first: date, last: date, daily: bool) -> list[dict]:
    rows, day = [], first
    step = timedelta(days=1)
    while day <= last:
        if daily or day.day == 15:
            scale = 30 if not daily else 1
            rows.append({"subscription_id": sub_id, "usage_date": day,
                         "quantity": Decimal(rng.randint(200, 4000) * scale) / 100})
        day += step
    return rows


def bill_history(account_ids: list[int], periods: list[Period],
                 progress: Callable[[int], None] | None = None,
                 reports: dict[str, Callable[[], None]] | None = None) -> None:
    """Run the billing engine period by period, as the monthly runs would have. `reports`:
    what was reported just before the run of a period (by its key), e.g. late changes."""
    for period in periods:
        if reports and period.key in reports:
            reports[period.key]()
            db.session.commit()
        run_billing(period, account_ids=account_ids)
        if progress:
            progress(1)


def late_reports(account: Account, today: date) -> dict[str, Callable[[], None]]:
    """Two reports that arrive late, as real ones do: a seat increase from the first day of
    the month three months before `today`'s, and a cancellation with the 20th of that month
    as its last day, both reported only after that month and the next were invoiced. The
    invoice of the month after carries their adjustment lines (SPEC §12). Two monthly seat
    subscriptions running since before that month, with no change from it on, are chosen;
    nothing is reported when the account has fewer."""
    month = (today.replace(day=1) - timedelta(days=62)).replace(day=1)
    reported_before = (month + timedelta(days=62)).replace(day=1)
    changed_since = select(SubscriptionChange.subscription_id).where(
        SubscriptionChange.effective_date >= month)
    candidates = list(db.session.scalars(
        select(Subscription).join(Product)
        .where(Subscription.account_id == account.id, Product.charge_model == PS,
               Subscription.cycle == BillingCycle.MONTHLY, Subscription.start_date < month,
               Subscription.end_date.is_(None), Subscription.id.not_in(changed_since))
        .order_by(Subscription.id).limit(2)))
    if len(candidates) < 2:
        return {}
    grown, cancelled = candidates

    def report() -> None:
        quantity = grown.changes[-1].quantity if grown.changes else grown.quantity
        services.change_subscription(grown, effective_date=month, quantity=quantity + 5,
                                     unit_price=grown.changes[-1].unit_price if grown.changes
                                     else grown.unit_price)
        services.cancel_subscription(cancelled, last_day=month.replace(day=20))

    return {reported_before.strftime("%Y-%m"): report}


# How a payment received outside the portal is labelled (an account with no usable method).
OFFLINE_PAYMENT_LABEL = "Bank transfer"


def _payer(account: Account) -> User | None:
    """The user the demo's payments are made by: the account's first billing or admin user."""
    return db.session.scalar(
        select(User).where(User.account_id == account.id, User.role.in_(PAY_ROLES))
        .order_by(User.role != Role.BILLING, User.id).limit(1)
    )


def _pay(rng: random.Random, account: Account, invoice: Invoice, amount: Decimal, day: date,
         today: date, payer: User | None) -> None:
    """Pay `amount` of `invoice` on `day` through the pay flow with one of the account's usable
    methods (a bank payment whose settlement day has come by `today` is settled), or, when the
    account has none, record it as received without a method."""
    usable = methods.usable_methods(account.id, day)
    if payer is None or not usable:
        create_payment(account_id=account.id, currency=account.currency,
                       allocations=[(invoice, amount)], method_label=OFFLINE_PAYMENT_LABEL,
                       received_on=day)
        return
    method = rng.choice(usable)
    payment = pay_invoices(account, payer.id, [(invoice.id, amount)], method_id=method.id,
                           today=day).payment
    settles_on = add_business_days(day, ACH_SETTLEMENT_BUSINESS_DAYS)
    if payment.status == PaymentStatus.PROCESSING and settles_on <= today:
        settle_payment(payment, on=settles_on)


def pay_history(rng: random.Random, account: Account, *, leave_open: int, today: date) -> None:
    """Pay every invoice but the latest `leave_open`; the oldest of those is paid in part.
    Each payment goes through the pay flow with the account's usable methods, when it has any
    (see `_pay`)."""
    invoices = list(db.session.scalars(
        select(Invoice).where(Invoice.account_id == account.id,
                              Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.issue_date)
    ))
    payer = _payer(account)
    to_pay = invoices[:-leave_open] if leave_open else invoices
    for invoice in to_pay:
        day = invoice.issue_date + timedelta(days=rng.randint(3, 25))
        _pay(rng, account, invoice, invoice.balance_due, day, today, payer)
    if leave_open and len(invoices) >= leave_open:
        oldest_open = invoices[-leave_open]
        _pay(rng, account, oldest_open,
             (oldest_open.balance_due / 2).quantize(Decimal("0.01")),
             oldest_open.due_date - timedelta(days=2), today, payer)


def grant_demo_credit(account: Account, today: date) -> None:
    """A credit note issued after the latest invoice, so the account has a credit balance to
    apply (SPEC §3); auto-apply uses it on the next invoice issued."""
    amount = Decimal("125.00") * (CAD_RATE if account.currency == "CAD" else 1)
    issue_credit_note(account, amount.quantize(Decimal("0.01")),
                      "Service credit for a Microsoft 365 outage", issue_date=today)
