"""`users-and-roles` against the code: the invitation link's lifetime, the table of what each
role may do (read from the role checks the routes and services use), and its pages."""

import re
from pathlib import Path

from app.accounts.models import Role
from app.accounts.users import ACCOUNT_ROLES, INVITATION_LIFETIME
from app.credit.routes import APPLIERS
from app.payments.method_routes import MANAGERS
from app.payments.pay import PAY_ROLES

ARTICLE = (Path(__file__).parents[2] / "content/articles/users-and-roles.md").read_text()
ADMINS = (Role.ADMIN,)
EVERYONE = ACCOUNT_ROLES

# Each row of the article's table, and the roles the code lets do it.
ALLOWED = {
    "Read invoices, statements, payments and credit": EVERYONE,
    "Pay open invoices, retry a returned payment": PAY_ROLES,
    "Add a card, verify a bank account, choose the default method, remove a method": MANAGERS,
    "Add a US bank account (and accept the ACH debit authorisation)": ADMINS,
    "Apply credit to invoices, and take an application back": APPLIERS,
    "Turn credit auto-apply on or off": ADMINS,
    "Invite users, change roles, deactivate and reactivate users": ADMINS,
    "Read the audit log": ADMINS,
}


def table() -> dict[str, dict[str, str]]:
    rows = re.findall(r"^\| (.+?) \| (Yes|No) \| (Yes|No) \| (Yes|No) \|$", ARTICLE, re.M)
    return {what: dict(zip(("admin", "billing", "viewer"), answers, strict=True))
            for what, *answers in rows}


def test_the_roles_table_says_what_the_code_allows():
    expected = {what: {role.value: "Yes" if role in roles else "No" for role in ACCOUNT_ROLES}
                for what, roles in ALLOWED.items()}
    assert table() == expected


def test_the_invitation_lifetime_is_the_constant():
    days = INVITATION_LIFETIME.days
    assert INVITATION_LIFETIME.total_seconds() == days * 86400
    assert re.findall(r"for \*\*(\d+) days\*\*", ARTICLE) == [str(days)]


def test_the_article_names_the_pages_it_explains(app):
    pages = re.search(r"^pages: \[(.*)\]$", ARTICLE, re.M).group(1).split(", ")
    endpoints = set(app.view_functions)
    assert set(pages) <= endpoints
    assert {"users.user_list", "users.invite", "auth.signup", "audit.audit_log"} <= set(pages)
