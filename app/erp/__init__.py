"""Integration with the back-office ERP: delivering the outbox's events (app.events) as signed
webhooks."""

from flask import Blueprint

bp = Blueprint("erp", __name__, cli_group="erp")

from app.erp import cli  # noqa: E402, F401
