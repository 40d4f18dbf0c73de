"""Payment gateways: the interface (`base`), the built-in `sandbox`, and `get_gateway()`, which
gives the one chosen by the `PAYMENT_GATEWAY` setting (default `sandbox`)."""

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app

from app.config import DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY
from app.payments.gateways.base import PaymentGateway
from app.payments.gateways.encryption import FieldEncryptor, parse_keys
from app.payments.gateways.sandbox import SandboxGateway


def _sandbox(config: Mapping[str, Any]) -> PaymentGateway:
    return SandboxGateway(FieldEncryptor.from_config(config))


GATEWAYS: dict[str, Callable[[Mapping[str, Any]], PaymentGateway]] = {"sandbox": _sandbox}


def init_app(app: Flask) -> None:
    """Check the payment settings at start, so a mistake stops the server rather than a
    payment: a known gateway, well-formed encryption keys, and not the development key in
    production. Raises RuntimeError."""
    if app.config["PAYMENT_GATEWAY"] not in GATEWAYS:
        raise RuntimeError(f"PAYMENT_GATEWAY must be one of: {', '.join(sorted(GATEWAYS))}.")
    keys = parse_keys(app.config["PAYMENTS_ENCRYPTION_KEYS"])
    if app.config["REQUIRE_SECRET_KEY"] and DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY in keys:
        raise RuntimeError(
            "Set PAYMENTS_ENCRYPTION_KEYS to your own key to run in production "
            "(see README: Configuration)."
        )
    app.extensions["payment_gateway"] = GATEWAYS[app.config["PAYMENT_GATEWAY"]](app.config)


def get_gateway() -> PaymentGateway:
    """The application's payment gateway (its state, if any, is in the database session)."""
    return current_app.extensions["payment_gateway"]
