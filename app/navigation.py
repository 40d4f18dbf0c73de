"""The site's navigation, decided once in Python (templates only draw it): the main menu for
the signed-in user's role, and the sub-navigation of the Billing and Account sections
(SPEC §11)."""

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_login import current_user

from app.accounts.models import Role

BILLING_BLUEPRINTS = ("billing", "payments", "credit")
# (endpoint, label, endpoints it covers by prefix)
BILLING_PAGES = (
    ("billing.invoice_list", "Invoices", ("billing.invoice",)),
    ("billing.history", "History", ("billing.histor",)),
    ("billing.statement", "Statement", ("billing.statement",)),
    ("payments.payment_list", "Payments", ("payments.payment_list", "payments.receipt",
                                           "payments.pay", "payments.retry")),
    ("payments.method_list", "Payment methods", ("payments.method", "payments.new_",
                                                 "payments.verify", "payments.card",
                                                 "payments.remove", "payments.make_default")),
    ("credit.overview", "Credit", ("credit.",)),
    ("billing.po_numbers", "PO numbers", ("billing.po_numbers",)),
)

ACCOUNT_BLUEPRINTS = ("changes", "users", "audit")
# The Account section's pages: (endpoint, label, endpoints it covers by prefix, roles).
EVERY_ACCOUNT_ROLE = (Role.ADMIN, Role.BILLING, Role.VIEWER)
ACCOUNT_PAGES = (
    ("changes.company", "Company", ("changes.company", "changes.billing_contact"),
     EVERY_ACCOUNT_ROLE),
    ("changes.request_list", "Changes", ("changes.request_", "changes.new_request",
                                         "changes.edit_", "changes.validate_",
                                         "changes.upload_", "changes.remove_",
                                         "changes.download_", "changes.review",
                                         "changes.cancel_"), EVERY_ACCOUNT_ROLE),
    ("users.user_list", "Users", ("users.",), (Role.ADMIN,)),
    ("audit.audit_log", "Audit log", ("audit.",), (Role.ADMIN,)),
)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


def _endpoint() -> str:
    return request.endpoint or ""


def main_nav() -> list[NavItem]:
    endpoint = _endpoint()
    items = []
    if current_user.is_authenticated and not current_user.is_staff:
        items.append(NavItem("Dashboard", url_for("dashboard.index"),
                             endpoint == "dashboard.index"))
        items.append(NavItem("Billing", url_for("billing.invoice_list"),
                             request.blueprint in BILLING_BLUEPRINTS))
        items.append(NavItem("Account", url_for(ACCOUNT_PAGES[0][0]),
                             request.blueprint in ACCOUNT_BLUEPRINTS))
    if current_user.is_authenticated and current_user.is_staff:
        items.append(NavItem("Content insights", url_for("kb.insights"),
                             endpoint == "kb.insights"))
    items.append(NavItem("Help", url_for("kb.index"),
                         endpoint.startswith(("kb.", "search.")) and endpoint != "kb.insights"))
    return items


def billing_nav() -> list[NavItem]:
    """The Billing sub-navigation, on billing pages of a signed-in reseller only."""
    if not current_user.is_authenticated or request.blueprint not in BILLING_BLUEPRINTS:
        return []
    endpoint = _endpoint()
    return [NavItem(label, url_for(target), endpoint.startswith(covers))
            for target, label, covers in BILLING_PAGES]


def account_nav() -> list[NavItem]:
    """The Account sub-navigation, on account pages of a reseller: the pages their role
    opens."""
    if not current_user.is_authenticated or current_user.is_staff \
            or request.blueprint not in ACCOUNT_BLUEPRINTS:
        return []
    endpoint = _endpoint()
    return [NavItem(label, url_for(target), endpoint.startswith(covers))
            for target, label, covers, roles in ACCOUNT_PAGES if current_user.role in roles]


@dataclass(frozen=True)
class SectionNav:
    label: str
    items: list[NavItem]


def section_nav() -> SectionNav | None:
    """The sub-navigation of the section the page belongs to, if it has one."""
    for label, items in (("Billing", billing_nav()), ("Account", account_nav())):
        if items:
            return SectionNav(label, items)
    return None


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        return {"main_nav": main_nav, "section_nav": section_nav}
