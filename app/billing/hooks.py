"""What other domains ask to happen before a billing run, registered at start (billing
imports none of them): e.g. account changes whose effective date has come are applied, so
the run bills with the account's current address and tax status."""

from collections.abc import Callable
from datetime import date

from flask import Flask, current_app

from app.extensions import db

BEFORE_BILLING = "billing_before_run"


def register_before_billing(app: Flask, hook: Callable[[date], object]) -> None:
    """`hook(today)` runs (and its changes are committed) at the start of every billing run."""
    app.extensions.setdefault(BEFORE_BILLING, []).append(hook)


def run_before_billing(today: date) -> None:
    for hook in current_app.extensions.get(BEFORE_BILLING, []):
        hook(today)
    db.session.commit()
