"""The site's navigation, decided once in Python (templates only draw it): the main menu for
the signed-in user's role, and the Billing section's sub-navigation (SPEC §11)."""

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_login import current_user

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


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        return {"main_nav": main_nav, "billing_nav": billing_nav}
