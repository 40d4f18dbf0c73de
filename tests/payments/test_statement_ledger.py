"""The statement reads payments, returns and credit from the ledger: each is a row with a
running balance, the closing balance is what the account owes, and aging uses what the ledger
had applied to each invoice by the statement's end."""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.billing.statement import build_statement
from app.credit.services import account_balance, apply_credit, issue_credit_note
from app.extensions import db
from app.payments.models import PaymentStatus
from app.payments.services import create_payment, return_payment


def test_payments_returns_and_credit_are_rows_with_a_running_balance(billing):
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))  # 12.50 a month
    account.auto_apply_credit = False
    for period in ("2026-01", "2026-02", "2026-03"):
        run_billing(Period.parse(period))
    jan, feb, mar = db.session.scalars(select(Invoice).order_by(Invoice.issue_date))
    create_payment(account_id=account.id, currency="USD", method_label="Visa •••• 4242",
                   allocations=[(jan, Decimal("12.50"))], amount=Decimal("15.00"),
                   received_on=date(2026, 1, 20))
    ach = create_payment(account_id=account.id, currency="USD", method_label="ACH •••• 2227",
                         allocations=[(feb, Decimal("12.50"))], received_on=date(2026, 2, 10),
                         status=PaymentStatus.PROCESSING)
    return_payment(ach, "R01", on=date(2026, 2, 13))
    issue_credit_note(account, Decimal("4.00"), "Seat removed late", issue_date=date(2026, 2, 20))
    apply_credit(mar, Decimal("6.50"), on=date(2026, 3, 2))  # 2.50 overpaid + 4.00 note
    db.session.commit()

    statement = build_statement(account, date(2026, 1, 1), date(2026, 3, 31))
    assert [(r.label, r.debit, r.credit, r.balance) for r in statement.rows] == [
        ("Invoice", Decimal("12.50"), 0, Decimal("12.50")),
        ("Payment", 0, Decimal("15.00"), Decimal("-2.50")),
        ("Invoice", Decimal("12.50"), 0, Decimal("10.00")),
        ("Payment", 0, Decimal("12.50"), Decimal("-2.50")),
        ("Payment returned (R01 Insufficient funds)", Decimal("12.50"), 0, Decimal("10.00")),
        ("Credit note", 0, Decimal("4.00"), Decimal("6.00")),
        ("Invoice", Decimal("12.50"), 0, Decimal("18.50")),
    ]
    assert statement.closing == account_balance(account) == Decimal("18.50")
    # On March 31: February (due Mar 3) unpaid after its return, 28 days late; March 6.00 due.
    assert dict(statement.aging)["1–30 days"] == Decimal("12.50")
    assert dict(statement.aging)["Current"] == Decimal("6.00")
    # Before the credit was applied to March, all of March was still due on March 1.
    assert dict(build_statement(account, date(2026, 1, 1), date(2026, 3, 1)).aging)[
        "Current"] == Decimal("25.00")


def test_the_statement_csv_lists_the_return(billing, factory, login):
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))
    run_billing(Period.parse("2026-01"))
    invoice = db.session.scalar(select(Invoice))
    ach = create_payment(account_id=account.id, currency="USD", method_label="ACH •••• 2227",
                         allocations=[(invoice, Decimal("12.50"))], received_on=date(2026, 1, 9),
                         status=PaymentStatus.PROCESSING)
    return_payment(ach, "R01", on=date(2026, 1, 14))
    db.session.commit()
    client = login(factory.user(Role.VIEWER, account=account))
    body = client.get("/billing/statement.csv?from=2026-01-01&to=2026-01-31").get_data(
        as_text=True)
    assert (f"2026-01-14,Payment returned (R01 Insufficient funds),{ach.reference},"
            "ACH •••• 2227,12.50,,") in body
