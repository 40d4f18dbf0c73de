"""The ledger's own services, as tables: what a posting and a reversal write, what they refuse,
which entries are still standing, and the sums read from them. Amounts are written out by
hand; money is moved through the payment and credit services where the ledger's checks need
a real payment, invoice or credit entry."""

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.credit.services import (
    apply_credit,
    create_credit,
    issue_credit_note,
    reverse_credit_application,
)
from app.errors import DomainError
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.payments.models import PaymentStatus
from app.payments.services import (
    PaymentStateError,
    create_payment,
    fail_payment,
    processing_invoice_ids,
    return_payment,
    settle_payment,
)

DAY = date(2026, 3, 5)


@pytest.fixture
def account(billing):
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))  # 37.50 a month
    account.auto_apply_credit = False
    return account


@pytest.fixture
def invoice(account) -> Invoice:
    run_billing(Period.parse("2026-03"))
    return db.session.scalar(select(Invoice))


def credit(account, amount: str, on: date = DAY) -> LedgerEntry:
    return create_credit(account, Decimal(amount), CreditSource.CREDIT_NOTE, effective_on=on,
                         reference="CN-TEST", memo="Goodwill")


def entries(*where) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(*where).order_by(LedgerEntry.id)))


@pytest.mark.parametrize("amount", ["0.00", "-0.01", "-10.00"])
def test_a_posting_must_be_more_than_zero(account, amount):
    with pytest.raises(ledger.LedgerError,
                       match=rf"^A credit entry must be more than zero, not {amount}\.$"):
        ledger.post_entry(EntryKind.CREDIT, account_id=account.id, currency="USD",
                          amount=Decimal(amount), effective_on=DAY, reference="CN-1",
                          credit_source=CreditSource.CREDIT_NOTE)
    assert entries() == []


def test_a_posting_writes_every_field(account):
    entry = ledger.post_entry(EntryKind.CREDIT, account_id=account.id, currency="USD",
                              amount=Decimal("0.01"), effective_on=DAY, reference="CN-1",
                              memo="A cent", credit_source=CreditSource.RETURNED_CREDIT)
    db.session.expire_all()
    stored = db.session.get(LedgerEntry, entry.id)
    assert (stored.kind, stored.account_id, stored.currency, stored.amount, stored.effective_on,
            stored.reference, stored.memo, stored.credit_source, stored.reverses_id,
            stored.payment_id, stored.invoice_id, stored.credit_note_id,
            stored.credit_entry_id) == (
        EntryKind.CREDIT, account.id, "USD", Decimal("0.01"), DAY, "CN-1", "A cent",
        CreditSource.RETURNED_CREDIT, None, None, None, None, None)


def test_a_reversal_mirrors_the_entry(account, invoice):
    payment = create_payment(account_id=account.id, currency="USD", method_label="Visa",
                             allocations=[(invoice, Decimal("37.50"))], received_on=DAY)
    (allocation,) = entries(LedgerEntry.kind == EntryKind.ALLOCATION)
    reversal = ledger.reverse_entry(allocation, effective_on=date(2026, 3, 9), memo="Returned")
    db.session.expire_all()
    stored = db.session.get(LedgerEntry, reversal.id)
    assert (stored.kind, stored.account_id, stored.currency, stored.amount, stored.effective_on,
            stored.reference, stored.memo, stored.payment_id, stored.invoice_id,
            stored.reverses_id) == (
        EntryKind.ALLOCATION, account.id, "USD", Decimal("-37.50"), date(2026, 3, 9),
        payment.reference, "Returned", payment.id, invoice.id, allocation.id)
    assert stored.is_reversal and ledger.is_reversed(allocation)


def test_a_reversal_keeps_the_memo_and_credit_fields_unless_given_one(account, invoice):
    lot = credit(account, "20.00")
    (application,) = apply_credit(invoice, Decimal("5.00"), on=DAY)
    reversal = ledger.reverse_entry(application, effective_on=DAY)
    lot_reversal = ledger.reverse_entry(lot, effective_on=DAY)
    db.session.expire_all()
    assert (reversal.memo, reversal.credit_entry_id, reversal.amount, reversal.reference) == (
        f"Applied to {invoice.number}", lot.id, Decimal("-5.00"), invoice.number)
    assert (lot_reversal.memo, lot_reversal.credit_source, lot_reversal.credit_note_id,
            lot_reversal.amount) == ("Goodwill", CreditSource.CREDIT_NOTE, None, Decimal("-20.00"))


def test_reversal_refuses_a_reversal_a_settlement_and_a_second_reversal(account, invoice):
    lot = credit(account, "20.00")
    reversal = ledger.reverse_entry(lot, effective_on=DAY)
    with pytest.raises(ledger.LedgerError, match=rf"^Ledger entry {lot.id} is already "
                       r"reversed\.$"):
        ledger.reverse_entry(lot, effective_on=DAY)
    with pytest.raises(ledger.LedgerError, match=rf"^Ledger entry {reversal.id} cannot be "
                       r"reversed\.$"):
        ledger.reverse_entry(reversal, effective_on=DAY)
    payment = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                             allocations=[(invoice, Decimal("37.50"))], received_on=DAY,
                             status=PaymentStatus.PROCESSING)
    ledger.post_entry(EntryKind.SETTLEMENT, account_id=account.id, currency="USD",
                      amount=Decimal("37.50"), effective_on=DAY, reference=payment.reference,
                      payment_id=payment.id)
    (settlement,) = entries(LedgerEntry.kind == EntryKind.SETTLEMENT)
    with pytest.raises(ledger.LedgerError, match=rf"^Ledger entry {settlement.id} cannot be "
                       r"reversed\.$"):
        ledger.reverse_entry(settlement, effective_on=DAY)
    assert len(entries()) == 2 + 3  # the lot and its reversal; payment, allocation, settlement


def test_open_entries_are_standing_movements_oldest_first(account):
    late = credit(account, "1.00", on=date(2026, 3, 9))
    early = credit(account, "2.00", on=date(2026, 3, 1))
    same_day = credit(account, "3.00", on=date(2026, 3, 1))
    gone = credit(account, "4.00", on=date(2026, 2, 1))
    ledger.reverse_entry(gone, effective_on=DAY)
    assert ledger.open_entries(LedgerEntry.account_id == account.id) == [early, same_day, late]
    assert ledger.open_entries(LedgerEntry.kind == EntryKind.PAYMENT) == []


def test_sums_read_from_the_ledger(account, invoice, billing):
    """Two 37.50 invoices. A 10.00 credit note: 4.00 applied to March, 2.00 to April. A 35.00
    payment pays 30.00 of March (5.00 overpaid becomes credit); a 3.50 ACH payment on March
    fails; a 35.50 ACH payment pays the rest of April and settles."""
    run_billing(Period.parse("2026-04"))
    april = db.session.scalar(select(Invoice).where(Invoice.id != invoice.id))
    lot = credit(account, "10.00")
    apply_credit(invoice, Decimal("4.00"), on=DAY)
    apply_credit(april, Decimal("2.00"), on=DAY)
    paid = create_payment(account_id=account.id, currency="USD", method_label="Visa",
                          allocations=[(invoice, Decimal("30.00"))], amount=Decimal("35.00"),
                          received_on=DAY)
    ach = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                         allocations=[(invoice, Decimal("3.50"))], received_on=DAY,
                         status=PaymentStatus.PROCESSING)
    fail_payment(ach, "Declined", on=DAY)
    settled = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                             allocations=[(april, Decimal("35.50"))], received_on=DAY,
                             status=PaymentStatus.PROCESSING)
    settle_payment(settled, on=date(2026, 3, 9))
    (overpaid,) = entries(LedgerEntry.kind == EntryKind.CREDIT, LedgerEntry.payment_id == paid.id)
    other = billing.account(subscriptions=1, start=date(2026, 1, 1))
    credit(other, "99.00")

    assert (ledger.invoice_amount_paid(invoice.id), ledger.invoice_amount_paid(april.id)) == (
        Decimal("30.00"), Decimal("35.50"))
    assert (ledger.invoice_credit_applied(invoice.id),
            ledger.invoice_credit_applied(april.id)) == (Decimal("4.00"), Decimal("2.00"))
    assert (ledger.payment_received(paid.id), ledger.payment_allocated(paid.id)) == (
        Decimal("35.00"), Decimal("30.00"))
    assert (ledger.payment_received(ach.id), ledger.payment_allocated(ach.id)) == (
        Decimal("0.00"), Decimal("0.00"))  # failed: reversed
    assert (ledger.payment_received(settled.id), ledger.payment_allocated(settled.id)) == (
        Decimal("35.50"), Decimal("35.50"))  # the settlement entry is not money received twice
    assert ledger.credit_balance(account.id) == Decimal("9.00")  # 10 + 5 − 4 − 2
    assert ledger.credit_lot_remaining(lot) == Decimal("4.00")
    assert ledger.credit_lots(account.id) == [(lot, Decimal("4.00")), (overpaid, Decimal("5.00"))]
    assert ledger.credit_balance(other.id) == Decimal("99.00")


def test_settling_writes_a_settlement_entry(account, invoice):
    payment = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                             allocations=[(invoice, Decimal("37.50"))], received_on=DAY,
                             status=PaymentStatus.PROCESSING)
    settle_payment(payment, on=date(2026, 3, 9))
    (entry,) = entries(LedgerEntry.kind == EntryKind.SETTLEMENT)
    assert (entry.payment_id, entry.amount, entry.effective_on, entry.reference, entry.memo) == (
        payment.id, Decimal("37.50"), date(2026, 3, 9), payment.reference, "Settled")


def test_processing_invoices_are_the_accounts_own(account, invoice, billing):
    theirs = billing.account(subscriptions=1, start=date(2026, 1, 1))
    run_billing(Period.parse("2026-04"))
    their_invoice = db.session.scalar(select(Invoice).where(Invoice.account_id == theirs.id))
    for owner, owed in ((account, invoice), (theirs, their_invoice)):
        create_payment(account_id=owner.id, currency="USD", method_label="ACH",
                       allocations=[(owed, Decimal("1.00"))], received_on=DAY,
                       status=PaymentStatus.PROCESSING)
    assert processing_invoice_ids(account.id) == {invoice.id}
    assert processing_invoice_ids(theirs.id) == {their_invoice.id}


def test_a_returned_overpayment_takes_back_only_its_own_credit(account, invoice):
    """March 37.50 and April 37.50. A credit note of 10.00 is applied to April; an ACH payment
    of 50.00 pays March and leaves 12.50 of credit, 12.50 of which is applied to April too.
    The return takes back the overpayment and its application; the credit note's stays."""
    run_billing(Period.parse("2026-04"))
    april = db.session.scalar(select(Invoice).where(Invoice.id != invoice.id))
    note = credit(account, "10.00", on=date(2026, 3, 1))
    apply_credit(april, Decimal("10.00"), on=DAY)
    payment = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                             allocations=[(invoice, Decimal("37.50"))], amount=Decimal("50.00"),
                             received_on=DAY, status=PaymentStatus.PROCESSING)
    apply_credit(april, Decimal("12.50"), on=DAY)
    return_payment(payment, "R01", on=date(2026, 3, 9))
    assert (payment.status, payment.return_code, payment.returned_on) == (
        PaymentStatus.RETURNED, "R01", date(2026, 3, 9))
    assert april.credit_applied == Decimal("10.00")
    standing = ledger.open_entries(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION)
    assert [(e.credit_entry_id, e.amount) for e in standing] == [(note.id, Decimal("10.00"))]
    (lot_reversal,) = entries(LedgerEntry.kind == EntryKind.CREDIT,
                              LedgerEntry.reverses_id.is_not(None))
    (application_reversal,) = entries(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                                      LedgerEntry.reverses_id.is_not(None))
    assert lot_reversal.memo == "Returned R01: Insufficient funds"
    assert application_reversal.memo == f"Credit taken off {april.number}"


def test_taking_credit_off_an_invoice_is_an_event(account, invoice):
    credit(account, "10.00")
    (application,) = apply_credit(invoice, Decimal("7.25"), on=DAY)
    reversal = reverse_credit_application(application, on=date(2026, 3, 9))
    assert (reversal.memo, reversal.effective_on) == (
        f"Credit taken off {invoice.number}", date(2026, 3, 9))
    event = db.session.scalar(select(OutboxEvent).where(
        OutboxEvent.event_type == "credit.reversed"))
    assert (event.account_id, event.payload) == (account.id, {
        "invoice_number": invoice.number, "amount": "7.25", "currency": "USD"})


def test_credit_lots_leave_out_spent_and_reversed_credit(account, invoice):
    spent = credit(account, "5.00", on=date(2026, 1, 1))
    taken_back = credit(account, "7.00", on=date(2026, 1, 2))
    left = credit(account, "8.00", on=date(2026, 1, 3))
    ledger.reverse_entry(taken_back, effective_on=DAY)
    apply_credit(invoice, Decimal("5.01"), on=DAY)  # all of the oldest and a cent of the next
    assert ledger.credit_lot_remaining(spent) == Decimal("0.00")
    assert ledger.credit_lot_remaining(taken_back) == Decimal("0.00")
    assert ledger.credit_lots(account.id) == [(left, Decimal("7.99"))]
    assert ledger.credit_balance(account.id) == Decimal("7.99")


def test_a_failed_ach_payment_keeps_its_reason_everywhere(account, invoice):
    payment = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                             allocations=[(invoice, Decimal("37.50"))], received_on=DAY,
                             status=PaymentStatus.PROCESSING)
    fail_payment(payment, "Account closed", on=date(2026, 3, 9))
    assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "Account closed")
    reversals = entries(LedgerEntry.payment_id == payment.id, LedgerEntry.reverses_id.is_not(None))
    assert sorted((e.kind, e.amount, e.memo, e.effective_on) for e in reversals) == [
        (EntryKind.ALLOCATION, Decimal("-37.50"), "Failed: Account closed", date(2026, 3, 9)),
        (EntryKind.PAYMENT, Decimal("-37.50"), "Failed: Account closed", date(2026, 3, 9)),
    ]
    event = db.session.scalar(select(OutboxEvent).where(
        OutboxEvent.event_type == "payment.failed"))
    assert (event.account_id, event.payload) == (account.id, {
        "reference": payment.reference, "amount": "37.50", "currency": "USD",
        "status": "failed", "reason": "Account closed"})


def test_a_credit_notes_reversal_names_the_note(account):
    note = issue_credit_note(account, Decimal("12.00"), "Seat removed", issue_date=DAY)
    (lot,) = entries(LedgerEntry.kind == EntryKind.CREDIT)
    reversal = ledger.reverse_entry(lot, effective_on=DAY)
    db.session.expire_all()
    assert (reversal.credit_note_id, reversal.credit_source, reversal.reference, reversal.memo,
            reversal.amount) == (note.id, CreditSource.CREDIT_NOTE, note.number, "Seat removed",
                                 Decimal("-12.00"))


def test_a_transition_reads_the_payment_afresh_and_names_what_it_refuses(account, invoice):
    payment = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                             allocations=[(invoice, Decimal("37.50"))], received_on=DAY,
                             status=PaymentStatus.PROCESSING)
    # Another transaction settled it while this one held a stale copy.
    db.session.execute(text("UPDATE payments SET status = 'succeeded' WHERE id = :id"),
                       {"id": payment.id})
    with pytest.raises(PaymentStateError, match=rf"^Payment {payment.reference} is succeeded; "
                       r"it cannot become failed\.$"):
        fail_payment(payment, "Declined", on=DAY)


def test_a_payment_never_pays_another_accounts_invoice_in_the_same_currency(account, invoice,
                                                                            billing):
    theirs = billing.account(subscriptions=1, start=date(2026, 1, 1))  # also in dollars
    with pytest.raises(DomainError, match=r"^A payment can only pay invoices of its own account "
                       r"and currency\.$"):
        create_payment(account_id=theirs.id, currency="USD", method_label="Visa",
                       allocations=[(invoice, Decimal("1.00"))], received_on=DAY)
    assert invoice.amount_paid == 0 and entries() == []


def test_a_payment_reference_is_pay_and_ten_upper_case_hex_digits(account, invoice):
    payment = create_payment(account_id=account.id, currency="USD", method_label="Visa",
                             allocations=[(invoice, Decimal("1.00"))], received_on=DAY)
    assert re.fullmatch(r"PAY-[0-9A-F]{10}", payment.reference)


@pytest.mark.parametrize(("shares", "amount", "status", "message"), [
    ([], "0.00", PaymentStatus.SUCCEEDED,
     "A payment and each of its amounts must be more than zero."),
    (["0.00"], "5.00", PaymentStatus.SUCCEEDED,
     "A payment and each of its amounts must be more than zero."),
    (["-1.00"], "5.00", PaymentStatus.SUCCEEDED,
     "A payment and each of its amounts must be more than zero."),
    (["5.00"], "4.99", PaymentStatus.SUCCEEDED, "A payment cannot pay more than its amount."),
    (["1.00", "2.00"], None, PaymentStatus.SUCCEEDED,
     "Each invoice can appear once in a payment."),
    (["1.00"], None, PaymentStatus.RETURNED, "A payment cannot start returned."),
])
def test_a_payment_that_does_not_fit_is_refused_word_for_word(account, invoice, shares, amount,
                                                              status, message):
    with pytest.raises(DomainError, match=f"^{re.escape(message)}$"):
        create_payment(account_id=account.id, currency="USD", method_label="Visa",
                       allocations=[(invoice, Decimal(share)) for share in shares],
                       amount=None if amount is None else Decimal(amount), received_on=DAY,
                       status=status)
    assert invoice.amount_paid == 0 and entries() == []
