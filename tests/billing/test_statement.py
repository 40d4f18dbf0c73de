from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.billing.statement import aging, build_statement, default_range
from app.credit.services import apply_credit, create_credit, issue_credit_note
from app.extensions import db
from app.ledger.models import CreditSource, LedgerEntry
from app.ledger.services import reverse_entry
from app.payments.models import Payment, PaymentStatus
from app.payments.services import create_payment, return_payment


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


# --- the statement's rules, on documents written directly (hand-set totals and dates) ------

AS_OF = date(2026, 6, 30)
BUCKETS = ["Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days"]


class Ledger:
    """Invoices, payments and credit notes of an account, with the totals written out. Invoices
    are written directly (hand-set totals and dates); money moves through the payment and
    credit services, so the ledger holds what it would in production."""

    def __init__(self, account) -> None:
        self.account = account

    def _next(self, prefix: str) -> str:
        Ledger.serial = getattr(Ledger, "serial", 0) + 1
        return f"{prefix}-2026-{Ledger.serial:06d}"

    def invoice(self, issue: date, total: str, *, due: date | None = None,
                status: InvoiceStatus = InvoiceStatus.OPEN, credit: str = "0.00") -> Invoice:
        invoice = Invoice(
            number=self._next("INV"), account_id=self.account.id, period_start=issue,
            period_end=issue, issue_date=issue, due_date=due or issue + timedelta(days=30),
            currency="USD", bill_to_name="Bill to", bill_to_address="1 Main Street",
            tax_exempt=False, subtotal=Decimal(total), tax_total=Decimal("0.00"),
            total=Decimal(total), credit_applied=Decimal("0.00"), amount_paid=Decimal("0.00"),
            status=status, line_count=1)
        db.session.add(invoice)
        db.session.flush()
        if Decimal(credit):
            self.credit_note(issue, credit)
            apply_credit(invoice, Decimal(credit), on=issue)
        return invoice

    def payment(self, received: date, amount: str, invoice: Invoice | None = None, *,
                status: PaymentStatus = PaymentStatus.SUCCEEDED,
                returned_on: date | None = None) -> Payment:
        payment = create_payment(
            account_id=self.account.id, currency="USD",
            allocations=[(invoice, Decimal(amount))] if invoice is not None else [],
            amount=Decimal(amount), method_label="ACH •••• 6789", received_on=received,
            status=status, failure_reason="Declined" if status == PaymentStatus.FAILED else None)
        if returned_on is not None:
            return_payment(payment, "R01", on=returned_on)
        db.session.flush()
        return payment

    def credit_note(self, issue: date, amount: str):
        return issue_credit_note(self.account, Decimal(amount), "Goodwill credit",
                                 issue_date=issue)


@pytest.fixture
def ledgers(factory):
    return Ledger(factory.account()), Ledger(factory.account())


def aging_of(account, as_of=AS_OF) -> dict[str, Decimal]:
    return dict(aging(account, as_of))


def only(bucket: str, amount: str) -> dict[str, Decimal]:
    return {name: Decimal(amount) if name == bucket else Decimal("0") for name in BUCKETS}


@pytest.mark.parametrize(("days_late", "bucket"), [
    (-30, "Current"), (-1, "Current"), (0, "Current"),  # due today is not late
    (1, "1–30 days"), (30, "1–30 days"),
    (31, "31–60 days"), (60, "31–60 days"),
    (61, "61–90 days"), (90, "61–90 days"),
    (91, "Over 90 days"), (400, "Over 90 days"),
])
def test_aging_buckets_by_days_past_due(ledgers, days_late, bucket):
    mine, _ = ledgers
    mine.invoice(date(2025, 1, 1), "100.00", due=AS_OF - timedelta(days=days_late))
    assert aging_of(mine.account) == only(bucket, "100.00")


def test_statement_shows_only_its_own_account(ledgers):
    """A reseller's statement never carries another tenant's documents, before or in the
    range, nor in the aging."""
    mine, theirs = ledgers
    for ledger, scale in ((mine, 1), (theirs, 9)):  # the other tenant's figures × 9
        before = ledger.invoice(date(2026, 1, 1), f"{100 * scale}.00")
        ledger.payment(date(2026, 1, 20), f"{10 * scale}.00", before)
        ledger.credit_note(date(2026, 1, 25), f"{5 * scale}.00")
        during = ledger.invoice(date(2026, 4, 1), f"{100 * scale}.00")
        ledger.payment(date(2026, 4, 10), f"{20 * scale}.00", during)
        ledger.credit_note(date(2026, 4, 12), f"{7 * scale}.00")
    db.session.commit()

    statement = build_statement(mine.account, date(2026, 3, 1), AS_OF)
    assert statement.opening == Decimal("85.00")  # 100 − 10 − 5
    assert [(r.kind, r.debit, r.credit, r.balance) for r in statement.rows] == [
        ("Invoice", Decimal("100.00"), 0, Decimal("185.00")),
        ("Payment", 0, Decimal("20.00"), Decimal("165.00")),
        ("Credit note", 0, Decimal("7.00"), Decimal("158.00")),
    ]
    mine_numbers = {n for (n,) in db.session.execute(
        select(Invoice.number).where(Invoice.account_id == mine.account.id))}
    assert {r.reference for r in statement.rows if r.kind == "Invoice"} <= mine_numbers
    # January 1 invoice due Jan 31 (150 days late) owes 90; April 1 due May 1 (60) owes 80.
    assert aging_of(mine.account) == {
        "Current": 0, "1–30 days": 0, "31–60 days": Decimal("80.00"), "61–90 days": 0,
        "Over 90 days": Decimal("90.00")}


@pytest.mark.parametrize(("issue", "where"), [
    (date(2026, 2, 28), "opening"),  # the day before the range
    (date(2026, 3, 1), "rows"),      # the range's first day
    (date(2026, 6, 30), "rows"),     # its last day
    (date(2026, 7, 1), "neither"),   # after it
])
def test_range_boundaries(ledgers, issue, where):
    mine, _ = ledgers
    mine.invoice(issue, "40.00")
    statement = build_statement(mine.account, date(2026, 3, 1), AS_OF)
    assert statement.opening == (Decimal("40.00") if where == "opening" else 0)
    assert [r.debit for r in statement.rows] == ([Decimal("40.00")] if where == "rows" else [])
    assert statement.closing == (0 if where == "neither" else Decimal("40.00"))
    assert sum(dict(statement.aging).values()) == statement.closing


def test_void_invoices_are_nowhere(ledgers):
    mine, _ = ledgers
    mine.invoice(date(2026, 1, 1), "500.00", status=InvoiceStatus.VOID)
    mine.invoice(date(2026, 4, 1), "700.00", status=InvoiceStatus.VOID)
    mine.invoice(date(2026, 4, 2), "30.00")
    statement = build_statement(mine.account, date(2026, 3, 1), AS_OF)
    assert statement.opening == 0
    assert [r.debit for r in statement.rows] == [Decimal("30.00")]
    assert statement.closing == Decimal("30.00")
    assert aging_of(mine.account) == only("31–60 days", "30.00")  # due May 2: 59 days


# An invoice of 100 (Jan 1, due Jan 31, before the range) paid in full on Jan 15 by a payment
# that failed, is still processing, or was returned on Apr 20; and an invoice of 60 (Apr 1,
# due Jun 30) of which 25 was paid on Apr 16.
#   failed: nothing received for the first: opening 100; closing 100 + 60 − 25 = 135.
#   processing: money in flight is received (the ledger posts it at once): opening 0,
#     closing 35, only the second invoice's 35 unpaid.
#   returned: received before the range (opening 0), returned in it (a 100 debit row):
#     closing 135, the first invoice unpaid again and 150 days late.
@pytest.mark.parametrize(("status", "returned_on", "opening", "first_rows", "closing", "late"), [
    (PaymentStatus.FAILED, None, "100.00", [], "135.00", "100.00"),
    (PaymentStatus.PROCESSING, None, "0.00", [], "35.00", "0"),
    (PaymentStatus.SUCCEEDED, date(2026, 4, 20), "0.00",
     [("Payment returned (R01 Insufficient funds)", Decimal("100.00"), 0)], "135.00", "100.00"),
])
def test_what_a_payment_that_did_not_succeed_leaves_owed(ledgers, status, returned_on, opening,
                                                        first_rows, closing, late):
    mine, _ = ledgers
    early = mine.invoice(date(2026, 1, 1), "100.00", due=date(2026, 1, 31))
    second = mine.invoice(date(2026, 4, 1), "60.00", due=date(2026, 6, 30))
    mine.payment(date(2026, 1, 15), "100.00", early, status=status, returned_on=returned_on)
    mine.payment(date(2026, 4, 16), "25.00", second)
    statement = build_statement(mine.account, date(2026, 3, 1), AS_OF)
    assert statement.opening == Decimal(opening)
    assert [(r.label, r.debit, r.credit) for r in statement.rows] == [
        ("Invoice", Decimal("60.00"), 0), ("Payment", 0, Decimal("25.00")), *first_rows]
    assert statement.closing == Decimal(closing)
    assert aging_of(mine.account) == {"Current": Decimal("35.00"), "1–30 days": 0,
                                      "31–60 days": 0, "61–90 days": 0,
                                      "Over 90 days": Decimal(late)}


def test_aging_deducts_credit_applied_to_the_invoice(ledgers):
    mine, _ = ledgers
    mine.invoice(date(2026, 5, 1), "100.00", due=date(2026, 6, 15), credit="30.00")
    mine.invoice(date(2026, 5, 2), "50.00", due=date(2026, 6, 15), credit="50.00")  # settled
    assert aging_of(mine.account) == only("1–30 days", "70.00")  # 15 days late


@pytest.mark.parametrize(("received", "owed"), [
    (date(2026, 6, 29), "60.00"),
    (AS_OF, "60.00"),              # received on the as-of day counts
    (date(2026, 7, 1), "100.00"),  # the day after does not
])
def test_aging_counts_payments_received_up_to_the_as_of_day(ledgers, received, owed):
    mine, _ = ledgers
    invoice = mine.invoice(date(2026, 5, 1), "100.00", due=date(2026, 5, 31))
    mine.payment(received, "40.00", invoice)
    assert aging_of(mine.account) == only("1–30 days", owed)


def test_aging_leaves_out_invoices_issued_after_the_as_of_day(ledgers):
    mine, _ = ledgers
    mine.invoice(AS_OF, "10.00", due=AS_OF)
    mine.invoice(AS_OF + timedelta(days=1), "99.00", due=AS_OF + timedelta(days=1))
    assert aging_of(mine.account) == only("Current", "10.00")


def test_same_day_documents_read_invoices_first_then_money_as_it_moved(ledgers):
    mine, _ = ledgers
    day = date(2026, 4, 1)
    note = mine.credit_note(day, "5.00")
    invoice = mine.invoice(day, "80.00")
    payment = mine.payment(day, "30.00", invoice)
    statement = build_statement(mine.account, day, day)
    assert [(r.day, r.kind, r.reference, r.description, r.balance) for r in statement.rows] == [
        (day, "Invoice", invoice.number, "Billing period April 2026", Decimal("80.00")),
        (day, "Credit note", note.number, "Goodwill credit", Decimal("75.00")),
        (day, "Payment", payment.reference, "ACH •••• 6789", Decimal("45.00")),
    ]
    assert statement.closing == Decimal("45.00")
    assert (statement.date_from, statement.date_to, statement.currency) == (day, day, "USD")


@pytest.mark.parametrize(("today", "start"), [
    (date(2026, 11, 26), date(2025, 11, 1)),
    (date(2026, 1, 1), date(2025, 1, 1)),
    (date(2024, 3, 31), date(2023, 3, 1)),  # 365 days before March 1, 2024 is March 2, 2023
])
def test_default_range_is_the_last_twelve_months(today, start):
    assert default_range(today) == (start, today)


def test_aging_adds_up_invoices_of_a_bucket_down_to_the_cent(ledgers):
    mine, _ = ledgers
    mine.invoice(date(2026, 6, 1), "100.00", due=date(2026, 6, 20), credit="99.50")  # 0.50
    mine.invoice(date(2026, 6, 2), "20.00", due=date(2026, 6, 25))
    mine.invoice(date(2026, 6, 3), "0.01", due=date(2026, 6, 29))
    assert aging_of(mine.account) == only("1–30 days", "20.51")


def test_credit_rows_are_named_by_their_source_and_reversal(ledgers):
    """A credit note and returned credit, each taken back the next day, and an overpayment
    (its credit is inside the payment row, never a row of its own)."""
    mine, _ = ledgers
    note = mine.credit_note(date(2026, 4, 1), "10.00")
    lot = db.session.scalar(select(LedgerEntry).where(LedgerEntry.credit_note_id == note.id))
    reverse_entry(lot, effective_on=date(2026, 4, 2))
    returned = create_credit(mine.account, Decimal("3.00"), CreditSource.RETURNED_CREDIT,
                             effective_on=date(2026, 4, 3), reference="RC-1")
    reverse_entry(returned, effective_on=date(2026, 4, 4), memo="Taken back")
    mine.payment(date(2026, 4, 5), "20.00")  # nothing to pay: all of it becomes credit
    statement = build_statement(mine.account, date(2026, 4, 1), date(2026, 4, 30))
    assert [(r.day.day, r.kind, r.description, r.debit, r.credit, r.balance)
            for r in statement.rows] == [
        (1, "Credit note", "Goodwill credit", 0, Decimal("10.00"), Decimal("-10.00")),
        (2, "Credit note reversed", "Goodwill credit", Decimal("10.00"), 0, Decimal("0.00")),
        (3, "Credit", "Returned credit", 0, Decimal("3.00"), Decimal("-3.00")),
        (4, "Credit reversed", "Taken back", Decimal("3.00"), 0, Decimal("0.00")),
        (5, "Payment", "ACH •••• 6789", 0, Decimal("20.00"), Decimal("-20.00")),
    ]
    assert statement.closing == Decimal("-20.00")
