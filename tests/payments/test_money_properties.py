"""Hypothesis on the database: whatever sequence of billing, payments (whole, partial, over,
processing), settlements, failures, returns, credit notes, credit applications and reversals
happens, no cent is created or lost, and every stored figure equals the ledger."""

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.billing.engine import bill_account
from app.billing.models import CreditNote, Invoice, InvoiceStatus
from app.billing.rating import Period
from app.billing.statement import build_statement
from app.credit.services import (
    account_balance,
    apply_credit,
    credit_balance,
    issue_credit_note,
    reverse_credit_application,
)
from app.errors import DomainError
from app.extensions import db
from app.ledger.models import EntryKind, LedgerEntry
from app.money import ZERO
from app.payments.models import Payment, PaymentStatus
from app.payments.services import create_payment, fail_payment, return_payment, settle_payment
from app.reconcile import check_all
from tests.billing.factories import BillingFactory
from tests.conftest import _clear_tables

DAY = date(2026, 6, 1)
PERIODS = [f"2026-{month:02d}" for month in range(1, 13)]
cents = st.integers(min_value=1, max_value=9000)
index = st.integers(min_value=0, max_value=7)
operations = st.lists(st.one_of(
    st.tuples(st.just("bill")),
    st.tuples(st.just("pay"), index, cents, st.integers(0, 4000),
              st.sampled_from([PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING,
                               PaymentStatus.FAILED])),
    st.tuples(st.just("pay_two"), index, index, cents, cents),
    st.tuples(st.sampled_from(["settle", "fail", "return"]), index),
    st.tuples(st.just("credit_note"), cents),
    st.tuples(st.just("apply"), index, cents),
    st.tuples(st.just("reverse"), index),
), min_size=3, max_size=16)


def money(value: int) -> Decimal:
    return Decimal(value) / 100


def pick(rows: list, position: int):
    return rows[position % len(rows)] if rows else None


class Run:
    def __init__(self, factory) -> None:
        self.billing = BillingFactory(factory)
        self.billing.tax()
        self.account = self.billing.account(subscriptions=3, start=date(2026, 1, 1))
        self.periods = iter(PERIODS)

    def invoices(self) -> list[Invoice]:
        return list(db.session.scalars(select(Invoice).order_by(Invoice.id)))

    def payments(self) -> list[Payment]:
        return list(db.session.scalars(select(Payment).order_by(Payment.id)))

    def share(self, invoice: Invoice, amount: Decimal) -> Decimal:
        """Mostly an amount the invoice can take; sometimes one it must refuse."""
        due = invoice.balance_due
        return min(amount, due) if due > ZERO and amount % 3 else amount

    def do(self, op: tuple) -> None:
        name, *args = op
        account = self.account
        if name == "bill":
            period = next(self.periods, None)
            if period:
                bill_account(account.id, Period.parse(period))
        elif name == "pay" and (invoice := pick(self.invoices(), args[0])):
            share = self.share(invoice, money(args[1]))
            create_payment(account_id=account.id, currency="USD", method_label="Card",
                           allocations=[(invoice, share)], received_on=DAY,
                           amount=share + money(args[2]), status=args[3])
        elif name == "pay_two" and len(invoices := self.invoices()) > 1:
            first, second = pick(invoices, args[0]), pick(invoices, args[1])
            create_payment(account_id=account.id, currency="USD", method_label="ACH",
                           allocations=[(first, self.share(first, money(args[2]))),
                                        (second, self.share(second, money(args[3])))],
                           received_on=DAY, status=PaymentStatus.PROCESSING)
        elif name in ("settle", "fail", "return") and (payment := pick(self.payments(),
                                                                        args[0])):
            if name == "settle":
                settle_payment(payment, on=DAY)
            elif name == "fail":
                fail_payment(payment, "Declined", on=DAY)
            else:
                return_payment(payment, "R01", on=DAY)
        elif name == "credit_note":
            issue_credit_note(account, money(args[0]), "Correction", issue_date=DAY)
        elif name == "apply" and (invoice := pick(self.invoices(), args[0])):
            available = credit_balance(account)
            amount = min(self.share(invoice, money(args[1])), available) if available else \
                money(args[1])
            apply_credit(invoice, amount, on=DAY)
        elif name == "reverse":
            applications = list(db.session.scalars(select(LedgerEntry).where(
                LedgerEntry.kind == EntryKind.CREDIT_APPLICATION).order_by(LedgerEntry.id)))
            if entry := pick(applications, args[0]):
                reverse_credit_application(entry, on=DAY)

    def check(self) -> None:
        assert check_all() == []
        account = self.account
        invoices = [i for i in self.invoices() if i.status != InvoiceStatus.VOID]
        for invoice in invoices:
            assert ZERO <= invoice.balance_due <= invoice.total
        holding = sum((p.amount for p in self.payments()
                       if p.status in (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED)), ZERO)
        notes = Decimal(str(db.session.scalar(select(func.sum(CreditNote.amount))) or 0))
        billed = sum((i.total for i in invoices), ZERO)
        paid = sum((i.amount_paid for i in invoices), ZERO)
        credited = sum((i.credit_applied for i in invoices), ZERO)
        # Every cent received or granted is on an invoice or in the credit balance…
        assert credit_balance(account) == notes + holding - paid - credited >= ZERO
        # … and the account owes what it was billed less what it paid and was granted.
        assert account_balance(account) == billed - holding - notes
        statement = build_statement(account, date(2025, 1, 1), date(2027, 1, 1))
        assert statement.closing == account_balance(account)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, auto_apply=st.booleans())
# Overpaid, the credit spent on the next invoice, then the payment returned.
@example(ops=[("bill",), ("pay", 0, 100, 500, PaymentStatus.SUCCEEDED), ("bill",), ("return", 0)],
         auto_apply=True)
@example(ops=[("bill",), ("bill",), ("pay_two", 0, 1, 1000, 999), ("credit_note", 700),
              ("apply", 1, 700), ("fail", 0), ("reverse", 0), ("apply", 0, 50)],
         auto_apply=False)
def test_no_sequence_creates_or_loses_a_cent(app, factory, ops, auto_apply):
    db.session.rollback()
    db.session.expunge_all()
    _clear_tables()
    run = Run(factory)
    run.account.auto_apply_credit = auto_apply
    db.session.commit()
    for op in ops:
        try:
            with db.session.begin_nested():
                run.do(op)
        except DomainError:
            pass  # a refusal changes nothing
        run.check()
    db.session.commit()
    run.check()
