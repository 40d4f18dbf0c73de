"""The demo data of the public contract (SPEC §3)."""

import random
from datetime import date, timedelta

from sqlalchemy import func, select

from app.accounts.models import Account, Role, User
from app.accounts.services import count_users, create_account, create_user
from app.billing.cutover import configured_cutover, first_engine_period_start
from app.billing.po_numbers import end_customers, schedule_po_number
from app.demo import billing_data, legacy_data, payment_methods
from app.extensions import db

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - published in the README for the demo
DEMO_ACCOUNTS = [
    {
        "number": "R-100001",
        "legal_name": "Northwind Cloud Solutions",
        "country": "US",
        "region": "WA",
        "currency": "USD",
        "details": {
            "address_line1": "1200 Westlake Avenue North", "address_line2": "Suite 800",
            "city": "Seattle", "postal_code": "98109", "tax_id": "91-1144442",
            "trading_name": "Northwind Cloud",
            "billing_contact_name": "Bill Northwind",
            "billing_contact_email": "billing@northwind.example",
            "billing_contact_phone": "+1 206 555 0142",
        },
        "billing": {"customers": 14, "per_customer": (4, 6), "leave_open": 3,
                    # From the first day of the month this many months before the current
                    # one: the recent invoices print them.
                    "po_numbers": {"account": "NW-4500017", "end_customer": "AC-88412",
                                   "months_before": 3}},
        "users": [
            ("admin@northwind.example", "Nora Admin", Role.ADMIN),
            ("billing@northwind.example", "Bill Northwind", Role.BILLING),
            ("viewer@northwind.example", "Vera Viewer", Role.VIEWER),
        ],
    },
    {
        "number": "R-100002",
        "legal_name": "Contoso Partners Ltd",
        "country": "CA",
        "region": "ON",
        "currency": "CAD",
        "details": {
            "address_line1": "220 Bay Street", "address_line2": None, "city": "Toronto",
            "postal_code": "M5J 2W4", "tax_id": "123456782RT0001",
            "trading_name": "Contoso Cloud Partners",
            "billing_contact_name": "Connor Admin",
            "billing_contact_email": "admin@contoso.example",
            "billing_contact_phone": "+1 416 555 0199",
        },
        "billing": {"customers": 5, "per_customer": (3, 5), "leave_open": 2},
        "users": [("admin@contoso.example", "Connor Admin", Role.ADMIN)],
    },
]
DEMO_STAFF = [("staff@distributor.example", "Sam Staff")]


def database_is_empty() -> bool:
    return count_users() == 0


def seed_demo(today: date | None = None) -> list[User]:
    """Create the demo accounts, users, payment methods and billing history that do not exist
    yet. Returns the users created. The history is made by running the billing engine month by
    month, after the account's users and payment methods exist."""
    today = today or date.today()
    created = []
    for spec in DEMO_ACCOUNTS:
        account = db.session.scalar(select(Account).where(Account.number == spec["number"]))
        new_account = account is None
        if new_account:
            account = create_account(
                number=spec["number"],
                legal_name=spec["legal_name"],
                country=spec["country"],
                region=spec["region"],
                currency=spec["currency"],
                **spec["details"],
            )
        users = []
        for email, name, role in spec["users"]:
            user = db.session.scalar(select(User).where(User.email == email))
            if user is None:
                user = create_user(
                    email=email, name=name, password=DEMO_PASSWORD, role=role, account=account
                )
                created.append(user)
            users.append(user)
        if new_account:
            # After the users and the methods: the demo's payments are made by one of the
            # users with the methods.
            payment_methods.seed_payment_methods(account, users, today)
            _seed_billing(account, spec["billing"], today)
    for email, name in DEMO_STAFF:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            created.append(
                create_user(email=email, name=name, password=DEMO_PASSWORD, role=Role.STAFF,
                            account=None)
            )
    return created


def _seed_billing(account: Account, plan: dict, today: date) -> None:
    rng = random.Random(account.number)
    products = billing_data.ensure_catalog()
    billing_data.build_subscriptions(
        rng, account, products, customers=plan["customers"], per_customer=plan["per_customer"],
        first_start=date(2016, 6, 1), today=today, daily_usage=True,
    )
    db.session.commit()
    cutover = configured_cutover()
    if "po_numbers" in plan:
        _seed_po_numbers(account, plan["po_numbers"], today, cutover)
    legacy_data.import_demo_history(account, cutover)
    billing_data.bill_history([account.id], billing_data.months_between(cutover, today),
                              reports=billing_data.late_reports(account, today))
    billing_data.pay_history(rng, account, leave_open=plan["leave_open"], today=today)
    billing_data.grant_demo_credit(account, today)
    db.session.commit()


def _seed_po_numbers(account: Account, plan: dict, today: date, cutover: date) -> None:
    """An account default PO number and one for the account's first end customer (by name),
    set — as if on that day — from the first day of the month `months_before` the current
    one."""
    start = today.replace(day=1)
    for _ in range(plan["months_before"]):
        start = (start - timedelta(days=1)).replace(day=1)
    start = max(start, cutover)
    schedule_po_number(account.id, end_customer=None, number=plan["account"],
                       effective_from=start, today=start)
    schedule_po_number(account.id, end_customer=end_customers(account.id)[0],
                       number=plan["end_customer"], effective_from=start, today=start)
    db.session.commit()


def create_bulk_accounts(accounts: int, first_start: date, today: date,
                         seed: int = 0) -> list[int]:
    """`accounts` more accounts of about 100 subscriptions each (usage recorded monthly rather
    than daily), with nothing billed yet. Returns their ids."""
    products = billing_data.ensure_catalog()
    start_number = 200001 + (db.session.scalar(
        select(func.count()).select_from(Account).where(Account.number.like("R-2%"))) or 0)
    rng = random.Random(seed or accounts)
    ids = []
    for offset in range(accounts):
        number = start_number + offset
        account = create_account(
            number=f"R-{number}", legal_name=f"Bench Reseller {number}",
            country="US", region=rng.choice(["WA", "NY", "TX"]), currency="USD",
            address_line1="1 Bench Way", city="Springfield", postal_code="00001", tax_id=None,
        )
        billing_data.build_subscriptions(
            rng, account, products, customers=10, per_customer=(8, 12), first_start=first_start,
            today=today, daily_usage=False,
        )
        ids.append(account.id)
        db.session.commit()
    return ids


def seed_bulk(accounts: int, months: int, today: date | None = None,
              progress=None) -> list[int]:
    """Benchmark data: `accounts` accounts of about 100 subscriptions each, billed by the engine
    for the last `months` months (from the cutover month at the earliest), all paid but the
    latest two. Returns the account ids."""
    today = today or date.today()
    first = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    ids = create_bulk_accounts(accounts, first, today)
    # The engine bills from the cutover month on; earlier months are the legacy system's.
    first_billed = max(first, first_engine_period_start(configured_cutover()))
    billing_data.bill_history(ids, billing_data.months_between(first_billed, today), progress)
    rng = random.Random(months)
    for account_id in ids:
        billing_data.pay_history(rng, db.session.get(Account, account_id), leave_open=2,
                                 today=today)
        db.session.commit()
    return ids
