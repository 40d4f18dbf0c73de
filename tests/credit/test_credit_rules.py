"""Credit services as tables: what the account owes, and the refusals word for word."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing.engine import run_billing
from app.billing.models import CreditNote, Invoice
from app.billing.rating import Period
from app.billing.transitions import InvoiceStateError, void_invoice
from app.credit.services import (
    CreditError,
    account_balance,
    apply_credit,
    create_credit,
    issue_credit_note,
    reverse_credit_application,
)
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger.models import CreditSource
from app.payments.services import create_payment

DAY = date(2026, 3, 5)


@pytest.fixture
def account(billing):
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))  # 37.50 a month
    account.auto_apply_credit = False
    return account


def invoices_of(account) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                   .order_by(Invoice.issue_date)))


def test_the_balance_counts_only_the_accounts_open_invoices(account, billing):
    """March 37.50 part-paid 7.50 and credited 5.00; April 37.50 voided; May 37.50 paid; 10.00
    of credit of which 5.00 is spent. Another account owes 12.50 a month."""
    theirs = billing.account(subscriptions=1, start=date(2026, 1, 1))
    for period in ("2026-03", "2026-04", "2026-05"):
        run_billing(Period.parse(period))
    march, april, may = invoices_of(account)
    void_invoice(april)
    create_credit(account, Decimal("10.00"), CreditSource.CREDIT_NOTE, effective_on=DAY,
                  reference="CN-1")
    apply_credit(march, Decimal("5.00"), on=DAY)
    for invoice, amount in ((march, "7.50"), (may, "37.50")):
        create_payment(account_id=account.id, currency="USD", method_label="Visa",
                       allocations=[(invoice, Decimal(amount))], received_on=DAY)
    assert account_balance(account) == Decimal("20.00")  # 37.50 − 5.00 − 7.50 − 5.00 credit
    assert account_balance(theirs) == Decimal("37.50")  # 3 × 12.50


def test_a_reversed_application_cannot_be_reversed_again(account):
    run_billing(Period.parse("2026-03"))
    (march,) = invoices_of(account)
    create_credit(account, Decimal("10.00"), CreditSource.CREDIT_NOTE, effective_on=DAY,
                  reference="CN-1")
    (application,) = apply_credit(march, Decimal("10.00"), on=DAY)
    reversal = reverse_credit_application(application, on=DAY)
    for entry in (application, reversal):
        with pytest.raises(CreditError,
                           match=r"^That credit application cannot be reversed\.$"):
            reverse_credit_application(entry, on=DAY)


def test_credit_stays_on_an_invoice_with_a_payment(account):
    run_billing(Period.parse("2026-03"))
    (march,) = invoices_of(account)
    create_credit(account, Decimal("10.00"), CreditSource.CREDIT_NOTE, effective_on=DAY,
                  reference="CN-1")
    (application,) = apply_credit(march, Decimal("10.00"), on=DAY)
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(march, Decimal("0.01"))], received_on=DAY)
    with pytest.raises(InvoiceStateError, match=rf"^Invoice {march.number} has a payment on "
                       r"it; its credit stays applied\.$"):
        reverse_credit_application(application, on=DAY)
    assert march.credit_applied == Decimal("10.00")


def test_credit_pays_only_open_invoices_in_the_accounts_currency(account):
    run_billing(Period.parse("2026-03"))
    (march,) = invoices_of(account)
    create_credit(account, Decimal("50.00"), CreditSource.CREDIT_NOTE, effective_on=DAY,
                  reference="CN-1")
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(march, Decimal("37.50"))], received_on=DAY)
    with pytest.raises(InvoiceStateError, match=rf"^Invoice {march.number} is paid; it cannot "
                       r"take credit\.$"):
        apply_credit(march, Decimal("1.00"), on=DAY)
    account.currency = "EUR"  # the invoice stays in dollars
    with pytest.raises(CreditError, match=r"^Credit can only pay invoices in the account's "
                       r"currency\.$"):
        apply_credit(march, Decimal("1.00"), on=DAY)


def test_credit_notes_and_credit_refuse_zero_word_for_word(account):
    with pytest.raises(CreditError, match=r"^A credit note must be more than zero\.$"):
        issue_credit_note(account, Decimal("0.00"), "Nothing", issue_date=DAY)
    with pytest.raises(CreditError, match=r"^Credit must be more than zero\.$"):
        create_credit(account, Decimal("0.00"), CreditSource.CREDIT_NOTE, effective_on=DAY,
                      reference="CN-0")
    assert db.session.scalar(select(CreditNote.id)) is None


def test_a_credit_note_names_its_invoice_and_applying_credit_is_an_event(account):
    run_billing(Period.parse("2026-03"))
    (march,) = invoices_of(account)
    for_march = issue_credit_note(account, Decimal("4.00"), "Late seat", issue_date=DAY,
                                  invoice=march)
    goodwill = issue_credit_note(account, Decimal("6.00"), "Goodwill", issue_date=DAY)
    assert (for_march.invoice_id, goodwill.invoice_id) == (march.id, None)
    with pytest.raises(CreditError, match=r"^The account does not have that much credit\.$"):
        apply_credit(march, Decimal("10.01"), on=DAY)
    apply_credit(march, Decimal("10.00"), on=DAY)
    event = db.session.scalar(select(OutboxEvent).where(
        OutboxEvent.event_type == "credit.applied"))
    assert (event.account_id, event.payload) == (account.id, {
        "invoice_number": march.number, "amount": "10.00", "currency": "USD"})
