"""The billing run on the database: issuing, numbering, tax, idempotency, resuming."""

import random
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.billing import engine
from app.billing.engine import BillingError, check_period, run_billing
from app.billing.models import Invoice, InvoiceLine, InvoiceStatus
from app.billing.rating import Period
from app.events.models import OutboxEvent
from app.extensions import db
from tests.billing.factories import BillingFactory


@pytest.fixture
def billing(factory):
    return BillingFactory(factory)


def invoices() -> list[Invoice]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invoice).order_by(Invoice.number)))


def snapshot() -> list[tuple]:
    """What was billed, independent of row ids."""
    rows = db.session.execute(
        select(Invoice.number, Invoice.billing_key, Invoice.total, Invoice.tax_total,
               func.count(InvoiceLine.id))
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .group_by(Invoice.id).order_by(Invoice.number)
    )
    return [tuple(row) for row in rows]


def test_a_run_issues_one_invoice_per_account(billing):
    billing.tax()
    first, second = billing.account(), billing.account(subscriptions=1)
    result = run_billing(Period.parse("2026-03"))
    assert len(result.issued) == 2
    [a, b] = invoices()
    assert (a.account_id, b.account_id) == (first.id, second.id)
    assert (a.number, b.number) == ("INV-2026-000001", "INV-2026-000002")
    # 1 + 2 + 3 seats × 12.50 = 75.00; tax 10.1 % per line: 1.26 + 2.53 + 3.79
    assert (a.subtotal, a.tax_total, a.total) == (
        Decimal("75.00"), Decimal("7.58"), Decimal("82.58"))
    assert a.status == InvoiceStatus.OPEN
    assert (a.issue_date, a.due_date) == (date(2026, 3, 1), date(2026, 3, 31))
    assert a.bill_to_name == first.legal_name
    assert a.bill_to_address.splitlines()[0] == "1 Main Street"


def test_rerunning_a_period_changes_nothing(billing):
    billing.account()
    run_billing(Period.parse("2026-03"))
    before = snapshot()
    result = run_billing(Period.parse("2026-03"))
    assert result.issued == [] and result.already_billed == 1
    assert snapshot() == before


def test_exempt_accounts_pay_no_tax(billing):
    billing.tax()
    billing.account(tax_exempt=True)
    run_billing(Period.parse("2026-03"))
    [invoice] = invoices()
    assert invoice.tax_total == Decimal("0.00") and invoice.tax_exempt


def test_the_bill_to_is_a_snapshot(billing):
    account = billing.account()
    run_billing(Period.parse("2026-03"))
    account.legal_name = "Renamed Ltd"
    db.session.commit()
    run_billing(Period.parse("2026-04"))
    assert [i.bill_to_name for i in invoices()][0] != "Renamed Ltd"
    assert invoices()[1].bill_to_name == "Renamed Ltd"


def test_invoice_issued_goes_to_the_outbox(billing):
    billing.account()
    run_billing(Period.parse("2026-03"))
    [event] = db.session.scalars(select(OutboxEvent)).all()
    assert event.event_type == "invoice.issued"
    assert event.payload["invoice_number"] == "INV-2026-000001"
    assert event.payload["total"] == "75.00"


def test_accounts_with_nothing_to_bill_get_no_invoice(billing):
    billing.account(subscriptions=0)
    result = run_billing(Period.parse("2026-03"))
    assert result.nothing_to_bill == 1 and invoices() == []


def test_numbers_are_gapless_per_year(billing):
    for _ in range(3):
        billing.account(subscriptions=1, start=date(2025, 1, 1))
    for period in ("2025-11", "2025-12", "2026-01", "2026-02"):
        run_billing(Period.parse(period))
    numbers = [i.number for i in invoices()]
    assert numbers == [f"INV-2025-{n:06d}" for n in range(1, 7)] + [
        f"INV-2026-{n:06d}" for n in range(1, 7)
    ]


def test_a_crash_part_way_is_finished_by_running_again(billing, monkeypatch):
    accounts = [billing.account(subscriptions=2) for _ in range(5)]
    clean = _clean_run_snapshot(billing, accounts)

    real = engine.issue_invoice
    calls = {"n": 0}

    def crash_on_the_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "issue_invoice", crash_on_the_third)
    with pytest.raises(RuntimeError):
        run_billing(Period.parse("2026-03"))
    db.session.rollback()
    assert len(invoices()) == 2
    monkeypatch.setattr(engine, "issue_invoice", real)
    run_billing(Period.parse("2026-03"))
    assert [row[1:] for row in snapshot()] == clean


def _clean_run_snapshot(billing, accounts) -> list[tuple]:
    """Bill the accounts once, note what was billed, and undo it."""
    run_billing(Period.parse("2026-03"))
    result = [row[1:] for row in snapshot()]
    db.session.execute(InvoiceLine.__table__.delete())
    db.session.execute(OutboxEvent.__table__.delete())
    db.session.execute(Invoice.__table__.delete())
    from app.billing.models import DocumentSequence

    db.session.execute(DocumentSequence.__table__.delete())
    db.session.commit()
    return result


def test_periods_before_the_cutover_or_in_the_future_are_refused():
    cutover = date(2018, 4, 2)
    with pytest.raises(BillingError, match="before the cutover"):
        check_period(Period.parse("2018-03"), cutover, date(2026, 11, 25))
    with pytest.raises(BillingError, match="not started"):
        check_period(Period.parse("2026-12"), cutover, date(2026, 11, 25))
    check_period(Period.parse("2018-04"), cutover, date(2026, 11, 25))


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.sampled_from(["2026-01", "2026-02", "2026-03"]), min_size=1,
                     max_size=8), seed=st.integers(0, 1000))
def test_every_account_is_billed_once_per_period_whatever_the_runs(billing, runs, seed):
    db.session.execute(InvoiceLine.__table__.delete())
    db.session.execute(OutboxEvent.__table__.delete())
    db.session.execute(Invoice.__table__.delete())
    db.session.commit()
    if not billing.products:
        for _ in range(3):
            billing.account(subscriptions=2, start=date(2025, 12, 1))
    rng = random.Random(seed)
    for period in runs:
        ids = list(db.session.scalars(select(engine.Account.id)))
        rng.shuffle(ids)
        run_billing(Period.parse(period), account_ids=ids)
    keys = [i.billing_key for i in invoices()]
    assert len(keys) == len(set(keys)) == 3 * len(set(runs))
