"""Two billing workers on one period, on PostgreSQL, with real threads: no double billing,
no gap in the numbers, and late reports written meanwhile billed exactly once."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceLine, Subscription
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


def test_late_reports_during_two_workers_runs_are_billed_once(app, factory):
    """Twenty accounts of 1 seat × 12.50 from January 1, 2026, billed for January and February.
    A change to 3 seats from February 1 is reported before the March run; while two workers
    run March, a third thread reports 5 seats from February 15 for every subscription. After
    April's run each subscription is billed its day-by-day cost: January 12.50, February
    3 × 12.50 × 14/28 + 5 × 12.50 × 14/28 = 50.00, March and April 62.50 each: 187.50."""
    billing = BillingFactory(factory)
    accounts = [billing.account(subscriptions=1) for _ in range(20)]
    for period in ("2026-01", "2026-02"):
        run_billing(Period.parse(period))
    subscription_ids = list(db.session.scalars(select(Subscription.id)))
    for subscription in db.session.scalars(select(Subscription)):
        services.change_subscription(subscription, effective_date=date(2026, 2, 1), quantity=3)
    db.session.commit()
    barrier = threading.Barrier(3)

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            run_billing(Period.parse("2026-03"))
            db.session.remove()

    def reporter() -> None:
        with app.app_context():
            barrier.wait()
            for subscription_id in subscription_ids:
                services.change_subscription(db.session.get(Subscription, subscription_id),
                                             effective_date=date(2026, 2, 15), quantity=5)
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    threads.append(threading.Thread(target=reporter))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    run_billing(Period.parse("2026-04"))
    db.session.expire_all()
    keys = list(db.session.scalars(select(Invoice.billing_key)))
    assert len(keys) == len(set(keys)) == 4 * len(accounts)
    for subscription_id in subscription_ids:
        amounts = list(db.session.scalars(select(InvoiceLine.amount).where(
            InvoiceLine.subscription_id == subscription_id)))
        assert abs(sum(amounts) - Decimal("187.50")) <= Decimal("0.005") * len(amounts)
