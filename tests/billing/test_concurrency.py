"""Two billing workers on one period, on PostgreSQL, with real threads: no double billing,
no gap in the numbers."""

import threading

import pytest
from sqlalchemy import select

from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.extensions import db
from tests.billing.factories import BillingFactory

pytestmark = pytest.mark.postgresql


def test_two_workers_never_double_bill(app, factory):
    billing = BillingFactory(factory)
    accounts = [billing.account(subscriptions=2) for _ in range(40)]
    results = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            results.append(run_billing(Period.parse("2026-03")))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    db.session.expire_all()
    numbers = sorted(db.session.scalars(select(Invoice.number)))
    keys = list(db.session.scalars(select(Invoice.billing_key)))
    assert len(keys) == len(set(keys)) == len(accounts)
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, len(accounts) + 1)]
    assert sum(len(r.issued) for r in results) == len(accounts)
    # Both workers did part of the work.
    assert all(r.issued for r in results)
