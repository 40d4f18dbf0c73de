from datetime import date, timedelta
from decimal import Decimal

from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.billing.statement import build_statement
from app.extensions import db
from app.payments.services import create_payment


def test_running_balance_and_aging(billing):
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))  # 12.50 a month
    for period in ("2026-01", "2026-02", "2026-03", "2026-04"):
        run_billing(Period.parse(period))
    invoices = db.session.query(Invoice).order_by(Invoice.issue_date).all()
    create_payment(account_id=account.id, currency="USD",
                   allocations=[(invoices[0], Decimal("12.50"))], method_label="Visa",
                   received_on=date(2026, 1, 20))
    create_payment(account_id=account.id, currency="USD",
                   allocations=[(invoices[1], Decimal("5.00"))], method_label="Visa",
                   received_on=date(2026, 2, 20))
    db.session.commit()

    statement = build_statement(account, date(2026, 2, 1), date(2026, 4, 15))
    assert statement.opening == Decimal("0.00")  # January billed and paid
    assert [(r.kind, r.debit, r.credit, r.balance) for r in statement.rows] == [
        ("Invoice", Decimal("12.50"), 0, Decimal("12.50")),
        ("Payment", 0, Decimal("5.00"), Decimal("7.50")),
        ("Invoice", Decimal("12.50"), 0, Decimal("20.00")),
        ("Invoice", Decimal("12.50"), 0, Decimal("32.50")),
    ]
    assert statement.closing == Decimal("32.50")
    # On April 15: February (due Mar 3) 43 days late; March (due Mar 31) 15; April current.
    assert dict(statement.aging) == {
        "Current": Decimal("12.50"), "1–30 days": Decimal("12.50"),
        "31–60 days": Decimal("7.50"), "61–90 days": 0, "Over 90 days": 0,
    }
    assert sum(dict(statement.aging).values()) == statement.closing


def test_opening_balance_counts_what_came_before(billing):
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))  # 12.50 + 25.00
    run_billing(Period.parse("2026-01"))
    statement = build_statement(account, date(2026, 1, 2), date(2026, 1, 31))
    assert statement.opening == Decimal("37.50") and statement.rows == []
    assert statement.closing == Decimal("37.50")
    later = build_statement(account, date(2026, 1, 1) + timedelta(days=90), date(2026, 5, 1))
    assert dict(later.aging)["61–90 days"] == Decimal("37.50")
