"""The reseller's own say over credit (SPEC §9 rule 3), as services: the auto-apply setting
(and the billing run obeying it), credit applied to chosen invoices all or nothing, the credit
on an invoice taken off whole, and the ledger the credit page shows."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.billing.transitions import InvoiceStateError, void_invoice
from app.credit.overview import (
    credit_ledger,
    last_auto_apply_change,
    open_invoices,
    reversible_invoices,
)
from app.credit.services import (
    AUTO_APPLY_CHANGED,
    CreditApplicationRefused,
    CreditError,
    apply_credit,
    apply_credit_to_invoices,
    create_credit,
    credit_balance,
    issue_credit_note,
    reverse_invoice_credit,
    set_auto_apply,
)
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import ZERO
from app.payments.models import PaymentStatus
from app.payments.services import create_payment, return_payment
from app.reconcile import check_all
from tests.credit.conftest import invoices_of

DAY = date(2026, 6, 1)


@pytest.fixture
def account(billing):
    """Auto-apply off; invoices of 37.50 for March, April and May 2026; credit notes of 30.00
    (January 15) and 50.00 (February 15)."""
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))
    account.auto_apply_credit = False
    db.session.commit()
    for period in ("2026-03", "2026-04", "2026-05"):
        run_billing(Period.parse(period))
    issue_credit_note(account, Decimal("30.00"), "Older", issue_date=date(2026, 1, 15))
    issue_credit_note(account, Decimal("50.00"), "Newer", issue_date=date(2026, 2, 15))
    db.session.commit()
    return account


def events(kind: str) -> list[OutboxEvent]:
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == kind)
                                   .order_by(OutboxEvent.id)))


def ledger_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def drawn_from(invoice: Invoice) -> list[tuple[str, Decimal]]:
    """(credit note number, amount) of each standing application on the invoice, in order."""
    applications = ledger.open_entries(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                                       LedgerEntry.invoice_id == invoice.id)
    return [(db.session.get(LedgerEntry, entry.credit_entry_id).reference, entry.amount)
            for entry in applications]


# The auto-apply setting ----------------------------------------------------------------------


@pytest.mark.parametrize(("who", "turn_on", "changed"), [
    ("admin", True, True),
    ("admin", False, False),  # already off: nothing recorded
])
def test_an_admin_sets_auto_apply_and_the_change_is_recorded(account, factory, who, turn_on,
                                                              changed):
    admin = factory.user(Role.ADMIN, account=account)
    assert set_auto_apply(account, turn_on, user=admin) is changed
    assert account.auto_apply_credit is turn_on
    recorded = events(AUTO_APPLY_CHANGED)
    if changed:
        (event,) = recorded
        assert event.account_id == account.id
        assert {k: event.payload[k] for k in ("account_number", "auto_apply", "changed_by")} \
            == {"account_number": account.number, "auto_apply": turn_on,
                "changed_by": admin.email}
        change = last_auto_apply_change(account)
        assert (change.auto_apply, change.changed_by) == (turn_on, admin.email)
    else:
        assert recorded == [] and last_auto_apply_change(account) is None


@pytest.mark.parametrize("who", ["billing", "viewer", "staff", "admin of another account"])
def test_only_an_admin_of_the_account_sets_auto_apply(account, factory, who):
    user = {
        "billing": lambda: factory.user(Role.BILLING, account=account),
        "viewer": lambda: factory.user(Role.VIEWER, account=account),
        "staff": lambda: factory.user(Role.STAFF),
        "admin of another account": lambda: factory.user(Role.ADMIN),
    }[who]()
    with pytest.raises(CreditError, match=r"^Only an admin of the account can change credit "
                                          r"auto-apply\.$") as refused:
        set_auto_apply(account, True, user=user)
    assert refused.value.status == 403
    assert account.auto_apply_credit is False and events(AUTO_APPLY_CHANGED) == []


def test_the_billing_run_obeys_the_setting_run_by_run(app, billing, factory):
    """`flask billing run` for June with auto-apply off leaves the credit alone; turned on
    again, July's invoice takes it."""
    account = billing.account(subscriptions=2, start=date(2026, 1, 1))  # 37.50 a month
    admin = factory.user(Role.ADMIN, account=account)
    issue_credit_note(account, Decimal("100.00"), "Outage", issue_date=date(2026, 5, 20))
    set_auto_apply(account, False, user=admin)
    db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["billing", "run", "--period", "2026-06"]).exit_code == 0
    (june,) = invoices_of(account)
    assert (june.credit_applied, june.status) == (ZERO, InvoiceStatus.OPEN)
    set_auto_apply(account, True, user=admin)
    db.session.commit()
    assert runner.invoke(args=["billing", "run", "--period", "2026-07"]).exit_code == 0
    db.session.expire_all()
    june, july = invoices_of(account)
    assert june.credit_applied == ZERO  # issued while off: credit is not applied afterwards
    assert (july.credit_applied, july.status) == (Decimal("37.50"), InvoiceStatus.PAID)
    assert credit_balance(account) == Decimal("62.50")
    assert check_all() == []


# Credit applied to chosen invoices ------------------------------------------------------------

M, A, Y = 0, 1, 2  # March, April, May


@pytest.mark.parametrize(("amounts", "applied", "left"), [
    # The oldest invoice takes the oldest credit first, whatever order they come in.
    ({Y: "37.50", M: "20.00"}, {M: [("CN-2026-000001", "20.00")],
                                Y: [("CN-2026-000001", "10.00"), ("CN-2026-000002", "27.50")]},
     "22.50"),
    ({A: "37.50", M: "37.50", Y: "5.00"}, {M: [("CN-2026-000001", "30.00"),
                                               ("CN-2026-000002", "7.50")],
                                           A: [("CN-2026-000002", "37.50")],
                                           Y: [("CN-2026-000002", "5.00")]}, "0.00"),
    ({A: "0.01"}, {A: [("CN-2026-000001", "0.01")]}, "79.99"),
])
def test_credit_goes_to_the_chosen_invoices_oldest_first(account, amounts, applied, left):
    invoices = invoices_of(account)
    entries = apply_credit_to_invoices(
        account, [(invoices[i], Decimal(amount)) for i, amount in amounts.items()], on=DAY)
    assert sum(entry.amount for entry in entries) == sum(Decimal(a) for a in amounts.values())
    for i, invoice in enumerate(invoices):
        expected = [(note, Decimal(amount)) for note, amount in applied.get(i, [])]
        assert drawn_from(invoice) == expected
        assert invoice.credit_applied == sum((amount for _, amount in expected), ZERO)
        assert invoice.status == (InvoiceStatus.PAID if invoice.balance_due == 0 else
                                  InvoiceStatus.PARTIALLY_PAID if expected else
                                  InvoiceStatus.OPEN)
    assert credit_balance(account) == Decimal(left)
    assert [e.payload["amount"] for e in events("credit.applied")] == [
        f"{sum(Decimal(amount) for _, amount in applied[i]):.2f}" for i in sorted(applied)]
    assert check_all() == []


@pytest.mark.parametrize(("amounts", "errors", "total_error"), [
    ({M: "37.51"}, {M: "That is more than the balance due of $37.50."}, None),
    ({M: "0.00"}, {M: "Enter an amount more than zero."}, None),
    ({M: "-1.00"}, {M: "Enter an amount more than zero."}, None),
    ({M: "1.005"}, {M: "Enter the amount to the cent."}, None),
    ({M: "0", A: "40", Y: "1.00"}, {M: "Enter an amount more than zero.",
                                    A: "That is more than the balance due of $37.50."}, None),
    ({M: "37.50", A: "37.50", Y: "5.01"}, {},
     "Together that is $80.01, more than your available credit of $80.00."),
    ({M: "40.00", A: "37.50", Y: "5.01"}, {M: "That is more than the balance due of $37.50."},
     "Together that is $82.51, more than your available credit of $80.00."),
    ({}, {}, "Enter the credit to apply to at least one invoice."),
])
def test_refused_amounts_apply_nothing_and_say_why(account, amounts, errors, total_error):
    invoices = invoices_of(account)
    before = ledger_rows()
    with pytest.raises(CreditApplicationRefused) as refused:
        apply_credit_to_invoices(
            account, [(invoices[i], Decimal(amount)) for i, amount in amounts.items()], on=DAY)
    assert refused.value.errors == {invoices[i].number: message
                                    for i, message in errors.items()}
    assert refused.value.total_error == total_error
    assert refused.value.status == 409
    assert ledger_rows() == before and events("credit.applied") == []
    assert all(invoice.credit_applied == 0 for invoice in invoices)


@pytest.mark.parametrize(("change", "message"), [
    ("paid", "Invoice {number} is paid; it cannot take credit."),
    ("void", "Invoice {number} is void; it cannot take credit."),
])
def test_an_invoice_that_is_not_open_is_named(account, change, message):
    march, april, _ = invoices_of(account)
    if change == "paid":
        create_payment(account_id=account.id, currency="USD", method_label="Visa",
                       allocations=[(march, march.balance_due)], received_on=DAY)
    else:
        void_invoice(march)
    with pytest.raises(CreditApplicationRefused) as refused:
        apply_credit_to_invoices(account, [(april, Decimal("5.00")),
                                           (march, Decimal("5.00"))], on=DAY)
    assert refused.value.errors == {march.number: message.format(number=march.number)}
    assert april.credit_applied == 0


def test_a_partially_paid_invoice_takes_credit_up_to_its_balance(account):
    march = invoices_of(account)[0]
    create_payment(account_id=account.id, currency="USD", method_label="Visa",
                   allocations=[(march, Decimal("30.00"))], received_on=DAY)
    with pytest.raises(CreditApplicationRefused):
        apply_credit_to_invoices(account, [(march, Decimal("7.51"))], on=DAY)
    apply_credit_to_invoices(account, [(march, Decimal("7.50"))], on=DAY)
    assert (march.status, march.balance_due) == (InvoiceStatus.PAID, ZERO)


def test_the_same_invoice_twice_or_another_accounts_is_refused(account, billing):
    march = invoices_of(account)[0]
    theirs = billing.account(subscriptions=1, start=date(2026, 1, 1))
    run_billing(Period.parse("2026-03"), account_ids=[theirs.id])
    (their_march,) = invoices_of(theirs)
    for chosen, message in [
        ([(march, Decimal("1.00")), (march, Decimal("2.00"))], "Each invoice can be chosen once."),
        ([(march, Decimal("1.00")), (their_march, Decimal("1.00"))],
         "Credit can only go to the account's own invoices."),
    ]:
        with pytest.raises(CreditApplicationRefused) as refused:
            apply_credit_to_invoices(account, chosen, on=DAY)
        assert (refused.value.errors, refused.value.total_error) == ({}, message)
    assert march.credit_applied == 0 and their_march.credit_applied == 0


# The credit on an invoice taken off -----------------------------------------------------------


def test_all_the_credit_on_an_invoice_comes_off_together(account):
    march, april, _ = invoices_of(account)
    apply_credit(march, Decimal("25.00"), on=DAY)  # 25.00 of the older note
    apply_credit(march, Decimal("10.00"), on=DAY)  # 5.00 of the older, 5.00 of the newer
    apply_credit(april, Decimal("3.00"), on=DAY)
    assert len(drawn_from(march)) == 3
    reversals = reverse_invoice_credit(march, on=date(2026, 6, 2))
    assert sorted(entry.amount for entry in reversals) == [Decimal("-25.00"), Decimal("-5.00"),
                                                           Decimal("-5.00")]
    assert all(entry.effective_on == date(2026, 6, 2) for entry in reversals)
    assert (march.credit_applied, march.status) == (ZERO, InvoiceStatus.OPEN)
    assert april.credit_applied == Decimal("3.00")
    assert credit_balance(account) == Decimal("77.00")
    assert [(lot.reference, left) for lot, left in ledger.credit_lots(account.id)] == [
        ("CN-2026-000001", Decimal("30.00")), ("CN-2026-000002", Decimal("47.00"))]
    (event,) = events("credit.reversed")
    assert event.payload == {"invoice_number": march.number, "amount": "35.00",
                             "currency": "USD"}
    assert reversible_invoices(account) == [april]
    assert check_all() == []


def test_an_invoice_paid_by_credit_alone_can_be_reversed(account):
    march = invoices_of(account)[0]
    apply_credit(march, Decimal("37.50"), on=DAY)
    assert march.status == InvoiceStatus.PAID and reversible_invoices(account) == [march]
    reverse_invoice_credit(march, on=DAY)
    assert march.status == InvoiceStatus.OPEN and march in open_invoices(account)


@pytest.mark.parametrize(("payment", "error", "message"), [
    ("1.00", InvoiceStateError, "Invoice {number} has a payment on it; its credit stays "
                                "applied."),
    (None, CreditError, "Invoice {number} has no credit applied to it."),
])
def test_credit_stays_on_an_invoice_with_a_payment_or_none_to_take_off(account, payment, error,
                                                                      message):
    march = invoices_of(account)[0]
    if payment:
        apply_credit(march, Decimal("10.00"), on=DAY)
        create_payment(account_id=account.id, currency="USD", method_label="Visa",
                       allocations=[(march, Decimal(payment))], received_on=DAY)
    before = ledger_rows()
    with pytest.raises(error, match=f"^{message.format(number=march.number)}$".replace(".", r"\.")):
        reverse_invoice_credit(march, on=DAY)
    assert ledger_rows() == before and events("credit.reversed") == []
    assert reversible_invoices(account) == []


def test_reversing_twice_finds_nothing_the_second_time(account):
    march = invoices_of(account)[0]
    apply_credit(march, Decimal("10.00"), on=DAY)
    reverse_invoice_credit(march, on=DAY)
    with pytest.raises(CreditError, match="has no credit applied to it"):
        reverse_invoice_credit(march, on=DAY)


# The ledger of the credit page ----------------------------------------------------------------


def test_the_ledger_names_every_movement_with_the_balance_after_it(account):
    march, april, may = invoices_of(account)
    overpaid = create_payment(account_id=account.id, currency="USD", method_label="ACH",
                              allocations=[(may, Decimal("37.50"))], amount=Decimal("45.00"),
                              received_on=date(2026, 6, 3), status=PaymentStatus.PROCESSING)
    apply_credit_to_invoices(account, [(march, Decimal("35.00"))], on=date(2026, 6, 4))
    apply_credit_to_invoices(account, [(april, Decimal("10.00"))], on=date(2026, 6, 5))
    reverse_invoice_credit(april, on=date(2026, 6, 6))
    return_payment(overpaid, "R01", on=date(2026, 6, 9))
    page = credit_ledger(account)
    got = [(row.day.isoformat(), row.kind, row.description, row.invoice_number, row.detail,
            str(row.added), str(row.used), str(row.balance)) for row in reversed(page.rows)]
    ref = overpaid.reference
    assert got == [
        ("2026-01-15", "Credit note", "Credit note CN-2026-000001", None, "Older",
         "30.00", "0.00", "30.00"),
        ("2026-02-15", "Credit note", "Credit note CN-2026-000002", None, "Newer",
         "50.00", "0.00", "80.00"),
        ("2026-06-03", "Overpayment", f"Overpayment of {ref}", None, "", "7.50", "0.00",
         "87.50"),
        ("2026-06-04", "Applied", "Applied to", march.number, "From Credit note CN-2026-000001",
         "0.00", "30.00", "57.50"),
        ("2026-06-04", "Applied", "Applied to", march.number, "From Credit note CN-2026-000002",
         "0.00", "5.00", "52.50"),
        ("2026-06-05", "Applied", "Applied to", april.number, "From Credit note CN-2026-000002",
         "0.00", "10.00", "42.50"),
        ("2026-06-06", "Reversed", "Credit taken off", april.number,
         "Back to Credit note CN-2026-000002", "10.00", "0.00", "52.50"),
        ("2026-06-09", "Taken back", f"Overpayment of {ref} taken back", None,
         "Returned R01: Insufficient funds", "0.00", "7.50", "45.00"),
    ]
    assert page.rows[0].balance == credit_balance(account) == Decimal("45.00")
    assert (page.page, page.pages, page.count) == (1, 1, 8)


@pytest.mark.parametrize(("per_page", "page", "shown", "pages"), [
    (3, 1, ["a3", "a2", "a1"], 2),
    (3, 2, ["CN-2026-000002", "CN-2026-000001"], 2),
    (3, 9, ["CN-2026-000002", "CN-2026-000001"], 2),
    (3, 0, ["a3", "a2", "a1"], 2),
    (5, 1, ["a3", "a2", "a1", "CN-2026-000002", "CN-2026-000001"], 1),
])
def test_the_ledger_is_newest_first_a_page_at_a_time(account, per_page, page, shown, pages):
    march = invoices_of(account)[0]
    for day in (1, 2, 3):
        apply_credit(march, Decimal("1.00"), on=date(2026, 6, day))
    result = credit_ledger(account, page, per_page=per_page)
    names = [f"a{row.day.day}" if row.kind == "Applied" else row.description.split()[-1]
             for row in result.rows]
    assert names == shown and result.pages == pages and result.count == 5
    balances = [row.balance for row in credit_ledger(account, 1, per_page=5).rows]
    assert balances == [Decimal("77.00"), Decimal("78.00"), Decimal("79.00"), Decimal("80.00"),
                        Decimal("30.00")]


# Hypothesis: any amounts, all or nothing -------------------------------------------------------

amount = st.one_of(st.none(), st.integers(min_value=-100, max_value=5000).map(
    lambda cents: Decimal(cents) / 100))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lots=st.lists(st.integers(min_value=1, max_value=6000), min_size=1, max_size=3),
       chosen=st.tuples(amount, amount, amount))
def test_chosen_amounts_apply_whole_or_not_at_all(account, lots, chosen):
    """Whatever credit there is and whatever amounts are typed: either every amount is applied
    (oldest invoice first, oldest credit first, no cent made or lost) or nothing is, and taking
    the credit off every invoice gives back exactly the credit there was."""
    invoices = invoices_of(account)
    for n, cents in enumerate(lots):
        create_credit(account, Decimal(cents) / 100, CreditSource.OVERPAYMENT,
                      effective_on=date(2026, 5, 20 + n), reference=f"PAY-H{n}")
    before_balance, before_rows = credit_balance(account), ledger_rows()
    pairs = [(invoice, value) for invoice, value in zip(invoices, chosen, strict=True)
             if value is not None]
    total = sum((value for _, value in pairs), ZERO)
    fits = bool(pairs) and total <= before_balance and all(
        ZERO < value <= invoice.balance_due for invoice, value in pairs)
    try:
        try:
            entries = apply_credit_to_invoices(account, pairs, on=DAY)
        except CreditApplicationRefused:
            assert not fits
            assert ledger_rows() == before_rows and credit_balance(account) == before_balance
            assert all(invoice.credit_applied == 0 for invoice in invoices)
            return
        assert fits
        assert sum(entry.amount for entry in entries) == total
        assert credit_balance(account) == before_balance - total
        for invoice, value in zip(invoices, chosen, strict=True):
            assert invoice.credit_applied == (value or ZERO)
        # Oldest credit first: the lots before the first one with credit left are used up, and
        # every lot after it is untouched.
        lots = ledger.open_entries(LedgerEntry.kind == EntryKind.CREDIT,
                                   LedgerEntry.account_id == account.id)
        held = [ledger.credit_lot_remaining(lot) for lot in lots]
        first = next((i for i, left in enumerate(held) if left > 0), len(held))
        assert all(left == lot.amount for lot, left in zip(lots[first + 1:], held[first + 1:],
                                                           strict=True))
        for invoice, value in zip(invoices, chosen, strict=True):
            if value is not None:
                reverse_invoice_credit(invoice, on=DAY)
        assert credit_balance(account) == before_balance
        assert check_all() == []
    finally:
        db.session.rollback()
