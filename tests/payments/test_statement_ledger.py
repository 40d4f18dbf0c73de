"""The statement reads payments, returns and credit from the ledger: each is a row with a
running balance, the closing balance is what the account owes, and aging uses what the ledger
had applied to each invoice by the statement's end. Each kind of row is named in plain words on
the page, in the CSV and in the PDF."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.billing.statement import aging, build_statement
from app.credit.services import (
    account_balance,
    apply_credit,
    issue_credit_note,
    reverse_credit_application,
)
from app.extensions import db
from app.payments.models import PaymentStatus
from app.payments.services import create_payment, fail_payment, return_payment
from app.reconcile import check_all
from tests.billing.test_routes import pdf_text


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


@pytest.fixture
def every_kind(billing):
    """A quarter with each kind of row: an invoice a month (12.50), a card payment, an ACH
    payment overpaid and returned R29, a payment the gateway never made (failed), a credit
    note, and credit applied and taken off again (no rows)."""
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))
    account.auto_apply_credit = False
    for period in ("2026-01", "2026-02", "2026-03"):
        run_billing(Period.parse(period))
    jan, feb, mar = db.session.scalars(select(Invoice).order_by(Invoice.issue_date))
    card = create_payment(account_id=account.id, currency="USD", method_label="Visa •••• 4242",
                          allocations=[(jan, Decimal("12.50"))], received_on=date(2026, 1, 20))
    ach = create_payment(account_id=account.id, currency="USD", method_label="ACH •••• 5335",
                         allocations=[(feb, Decimal("12.50"))], amount=Decimal("15.00"),
                         received_on=date(2026, 2, 10), status=PaymentStatus.PROCESSING)
    return_payment(ach, "R29", on=date(2026, 2, 13))
    lost = create_payment(account_id=account.id, currency="USD", method_label="ACH •••• 6789",
                          allocations=[(mar, Decimal("12.50"))], received_on=date(2026, 3, 5),
                          status=PaymentStatus.UNKNOWN, idempotency_key="lost")
    fail_payment(lost, "The payment gateway did not take the payment; you were not charged.",
                 on=date(2026, 3, 6))
    note = issue_credit_note(account, Decimal("4.00"), "Seat removed late",
                             issue_date=date(2026, 3, 10))
    (applied,) = apply_credit(mar, Decimal("4.00"), on=date(2026, 3, 11))
    reverse_credit_application(applied, on=date(2026, 3, 12))
    db.session.commit()
    return account, (jan, feb, mar), (card, ach, lost), note


def test_each_row_kind_with_its_running_balance_and_the_aging(every_kind):
    account, (jan, feb, mar), (card, ach, lost), note = every_kind
    statement = build_statement(account, date(2026, 1, 1), date(2026, 3, 31))
    assert [(r.day, r.label, r.reference, r.description, r.debit, r.credit, r.balance)
            for r in statement.rows] == [
        (date(2026, 1, 1), "Invoice", jan.number, "Billing period January 2026",
         Decimal("12.50"), 0, Decimal("12.50")),
        (date(2026, 1, 20), "Payment", card.reference, "Visa •••• 4242", 0, Decimal("12.50"),
         Decimal("0.00")),
        (date(2026, 2, 1), "Invoice", feb.number, "Billing period February 2026",
         Decimal("12.50"), 0, Decimal("12.50")),
        (date(2026, 2, 10), "Payment", ach.reference, "ACH •••• 5335", 0, Decimal("15.00"),
         Decimal("-2.50")),
        (date(2026, 2, 13), "Payment returned (R29 Not authorised by your company)",
         ach.reference, "ACH •••• 5335", Decimal("15.00"), 0, Decimal("12.50")),
        (date(2026, 3, 1), "Invoice", mar.number, "Billing period March 2026",
         Decimal("12.50"), 0, Decimal("25.00")),
        (date(2026, 3, 5), "Payment", lost.reference, "ACH •••• 6789", 0, Decimal("12.50"),
         Decimal("12.50")),
        (date(2026, 3, 6), "Payment failed", lost.reference,
         "The payment gateway did not take the payment; you were not charged.",
         Decimal("12.50"), 0, Decimal("25.00")),
        (date(2026, 3, 10), "Credit note", note.number, "Seat removed late", 0,
         Decimal("4.00"), Decimal("21.00")),
    ]
    assert [(r.kind, r.detail) for r in statement.rows][4] == (
        "Payment returned", "R29 Not authorised by your company")
    assert statement.closing == account_balance(account) == Decimal("21.00")
    # March 31: February (due March 3) unpaid again after its return, 28 days late; March
    # (due March 31) unpaid after its payment failed and its credit came off.
    assert dict(statement.aging) == {
        "Current": Decimal("12.50"), "1–30 days": Decimal("12.50"), "31–60 days": 0,
        "61–90 days": 0, "Over 90 days": 0}
    # Between the payment and its return February was paid; the next day it was not.
    assert dict(aging(account, date(2026, 2, 12)))["Current"] == Decimal("0.00")
    assert dict(aging(account, date(2026, 2, 13)))["Current"] == Decimal("12.50")
    assert check_all() == []


def test_the_page_csv_and_pdf_name_each_row(every_kind, factory, login):
    account, _, (_, ach, lost), _ = every_kind
    client = login(factory.user(Role.VIEWER, account=account))
    query = "?from=2026-02-01&to=2026-03-31"
    for headers in ({}, {"HX-Request": "true"}):
        page = client.get(f"/billing/statement{query}", headers=headers).get_data(as_text=True)
        assert ('<td data-label="Type" role="cell">Payment returned (R29 Not authorised by '
                "your company)</td>") in page
        assert '<td data-label="Type" role="cell">Payment failed</td>' in page
    csv = client.get(f"/billing/statement.csv{query}").get_data(as_text=True)
    assert (f"2026-02-13,Payment returned (R29 Not authorised by your company),{ach.reference},"
            "ACH •••• 5335,15.00,,12.50,USD") in csv
    assert (f"2026-03-06,Payment failed,{lost.reference},The payment gateway did not take the "
            "payment; you were not charged.,12.50,,25.00,USD") in csv
    text = pdf_text(client.get(f"/billing/statement.pdf{query}").data)
    lines = text.splitlines()
    returned = next(i for i, line in enumerate(lines) if "Payment returned" in line)
    assert ach.reference in lines[returned] and "$15.00" in lines[returned]
    assert lines[returned + 1].strip() == "R29 Not authorised by your company"
    assert any("Payment failed" in line and lost.reference in line for line in lines)
