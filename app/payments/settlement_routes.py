"""Presenting a payment returned for insufficient funds (R01) again, from its receipt."""

from flask import url_for
from flask_login import current_user

from app.accounts.models import Role
from app.extensions import db
from app.payments import bp, settlement
from app.payments.gateways import get_gateway
from app.payments.models import Payment
from app.payments.receipts import get_payment_or_404
from app.web import current_account_id, htmx_redirect, roles_required


def receipt_url(payment: Payment) -> str:
    return url_for("payments.receipt", payment_id=payment.id)


@bp.route("/payments/<int:payment_id>/retry", methods=["POST"])
@roles_required(Role.ADMIN, Role.BILLING)
def retry_payment(payment_id: int):
    """Retry payment: charge the bank account again and show the new payment's receipt. A
    second click finds the retry the first one made."""
    payment = get_payment_or_404(current_account_id(), payment_id)
    if (later := settlement.later_attempt(payment)) is not None:
        return htmx_redirect(receipt_url(later))
    retry = settlement.retry_payment(payment, user=current_user, today=get_gateway().today())
    db.session.commit()
    return htmx_redirect(receipt_url(retry))
