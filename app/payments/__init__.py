"""Payments (SPEC §8): payment methods, the pay flow, receipts, ACH settlement and returns.
The gateway (`gateways/`) is behind an interface; the sandbox is the built-in one."""

from flask import Blueprint

bp = Blueprint("payments", __name__, url_prefix="/billing", cli_group="payments")

from app.payments import cli, method_routes, routes, settlement_routes  # noqa: E402, F401
