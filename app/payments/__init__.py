"""Payments (SPEC §8): payment methods, the pay flow, receipts, ACH settlement and returns.
The gateway (`gateways/`) is behind an interface; the sandbox is the built-in one."""

from flask import Blueprint

bp = Blueprint("payments", __name__, url_prefix="/billing", cli_group="payments")


@bp.record_once
def _tell_the_invoice_pages(state) -> None:
    """The invoice pages ask through this which invoices are "payment processing" and who may
    pay (billing does not import payments)."""
    from app.billing.invoices import InvoicePayments
    from app.payments.pay import PAY_ROLES
    from app.payments.services import processing_invoice_ids

    state.app.extensions["invoice_payments"] = InvoicePayments(
        held_invoice_ids=processing_invoice_ids, can_pay=lambda role: role in PAY_ROLES)


from app.payments import cli, method_routes, routes, settlement_routes  # noqa: E402, F401
