"""`flask payment-keys rotate`: re-encrypt stored secrets with the newest key of
PAYMENTS_ENCRYPTION_KEYS, so that older keys can be dropped from the setting."""

import click
from flask import Blueprint

from app.extensions import db
from app.payments.gateways import get_gateway

bp = Blueprint("payment_keys", __name__, cli_group="payment-keys")


@bp.cli.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored bank account number with the first key of
    PAYMENTS_ENCRYPTION_KEYS (run it after putting a new key in front)."""
    count = get_gateway().rotate_encryption()
    db.session.commit()
    click.echo(f"{count} stored account numbers re-encrypted with the newest key.")
