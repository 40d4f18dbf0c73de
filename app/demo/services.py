"""The demo data of the public contract (SPEC §3)."""

from sqlalchemy import select

from app.accounts.models import Account, Role, User
from app.accounts.services import count_users, create_account, create_user
from app.extensions import db

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - published in the README for the demo
DEMO_ACCOUNTS = [
    {
        "number": "R-100001",
        "legal_name": "Northwind Cloud Solutions",
        "country": "US",
        "region": "WA",
        "currency": "USD",
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
        "users": [("admin@contoso.example", "Connor Admin", Role.ADMIN)],
    },
]
DEMO_STAFF = [("staff@distributor.example", "Sam Staff")]


def database_is_empty() -> bool:
    return count_users() == 0


def seed_demo() -> list[User]:
    """Create the demo accounts and users that do not exist yet. Returns the users created."""
    created = []
    for spec in DEMO_ACCOUNTS:
        account = db.session.scalar(select(Account).where(Account.number == spec["number"]))
        if account is None:
            account = create_account(
                number=spec["number"],
                legal_name=spec["legal_name"],
                country=spec["country"],
                region=spec["region"],
                currency=spec["currency"],
            )
        for email, name, role in spec["users"]:
            if db.session.scalar(select(User).where(User.email == email)) is None:
                created.append(
                    create_user(
                        email=email, name=name, password=DEMO_PASSWORD, role=role, account=account
                    )
                )
    for email, name in DEMO_STAFF:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            created.append(
                create_user(email=email, name=name, password=DEMO_PASSWORD, role=Role.STAFF,
                            account=None)
            )
    return created
