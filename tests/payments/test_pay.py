"""The pay flow's services (app.payments.pay): plans and their refusals, credit shared oldest
invoice first, one payment per draft whatever the clicks, a declined card that leaves the draft
open, an unanswered charge, credit alone; and, for any plan, no more moved than the balances
and totals that add up to the cent."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from app.accounts.models import Role
from app.billing.models import InvoiceStatus
from app.credit.services import credit_balance
from app.extensions import db
from app.ledger.models import EntryKind, LedgerEntry
from app.payments import methods, pay
from app.payments.gateways import get_gateway
from app.payments.gateways.declines import describe_decline
from app.payments.gateways.sandbox_models import SandboxCharge
from app.payments.models import Payment, PaymentDraft, PaymentStatus
from app.payments.services import create_payment, processing_invoice_ids
from app.reconcile import check_all
from tests.payments.paying import (
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    TODAY,
    add_bank_account,
    add_card,
    give_credit,
    make_reseller,
)

D = Decimal


@pytest.fixture
def reseller(billing, factory):
    return make_reseller(billing, factory)


def charges() -> list[SandboxCharge]:
    return list(db.session.scalars(select(SandboxCharge).order_by(SandboxCharge.id)))


def plan(reseller, selections, *, apply_credit=False, method_id=None):
    return pay.plan_payment(reseller.account, selections, apply_credit=apply_credit,
                            method_id=method_id, today=TODAY)


def reviewed_draft(reseller, selections, *, apply_credit=False, method_id=None):
    draft = pay.open_draft(reseller.account.id, reseller.payer.id)
    pay.review_draft(draft, plan(reseller, selections, apply_credit=apply_credit,
                                 method_id=method_id))
    db.session.commit()
    return draft


def confirm(reseller, draft):
    result = pay.confirm_draft(reseller.account.id, draft.key, today=TODAY)
    db.session.commit()
    return result


# --- Plans ------------------------------------------------------------------------------------


def test_share_credit_fills_the_oldest_first():
    assert pay.share_credit([D("10.00"), D("20.00"), D("5.00")], D("25.00")) == [
        D("10.00"), D("15.00"), D("0")]
    assert pay.share_credit([D("10.00")], D("0.00")) == [D("0")]
    assert pay.share_credit([D("10.00"), D("1.00")], D("99.00")) == [D("10.00"), D("1.00")]


MESSAGES = {
    "none": {pay.INVOICES: "Choose at least one invoice to pay."},
    "twice": {pay.INVOICES: "Each invoice can be paid once in a payment."},
    "zero": {0: "Enter an amount more than zero."},
    "negative": {0: "Enter an amount more than zero."},
    "nan": {0: "Enter an amount more than zero."},
    "infinite": {0: "Enter an amount more than zero."},
    "cent fraction": {0: "Enter the amount in dollars and cents: at most two decimal places."},
    "above balance": {0: "Enter at most the balance due, $37.50."},
    "huge": {0: "Enter at most the balance due, $37.50."},
    "no method": {pay.METHOD: "Choose how to pay the rest."},
    "unknown method": {pay.METHOD: "That payment method cannot be used now; choose another."},
}


@pytest.mark.parametrize("case, amounts", [
    ("none", []),
    ("twice", [(0, "1.00"), (0, "2.00")]),
    ("zero", [(0, "0")]),
    ("negative", [(0, "-5.00")]),
    ("nan", [(0, "NaN")]),
    ("infinite", [(0, "Infinity")]),
    ("cent fraction", [(0, "0.001")]),
    ("above balance", [(0, "37.51")]),
    ("huge", [(0, "1e400")]),
    ("no method", [(0, "10.00")]),
    ("unknown method", [(0, "10.00")]),
])
def test_plans_refused(reseller, case, amounts):
    selections = [(reseller.invoices[i].id, D(text)) for i, text in amounts]
    method_id = 999_999 if case == "unknown method" else None
    with pytest.raises(pay.PlanInvalid) as refused:
        plan(reseller, selections, method_id=method_id)
    expected = {(reseller.invoices[key].id if isinstance(key, int) else key): message
                for key, message in MESSAGES[case].items()}
    assert refused.value.errors == expected


def test_a_plan_names_every_wrong_amount_at_once(reseller):
    first, second, third = reseller.invoices
    with pytest.raises(pay.PlanInvalid) as refused:
        plan(reseller, [(first.id, D("0")), (second.id, D("38")), (third.id, D("1.00"))])
    assert refused.value.errors == {first.id: "Enter an amount more than zero.",
                                    second.id: "Enter at most the balance due, $37.50."}


def test_another_accounts_invoice_or_method_is_refused(reseller, billing, factory):
    other = make_reseller(billing, factory, periods=("2026-03",))
    card = add_card(other.account, other.payer)
    with pytest.raises(pay.PlanInvalid) as refused:
        plan(reseller, [(other.invoices[0].id, D("1.00"))])
    assert refused.value.errors == {
        pay.INVOICES: "One of the chosen invoices is not one of your account's."}
    with pytest.raises(pay.PlanInvalid) as refused:
        plan(reseller, [(reseller.invoices[0].id, D("1.00"))], method_id=card.id)
    assert set(refused.value.errors) == {pay.METHOD}


def test_unusable_methods_are_refused(reseller):
    card = add_card(reseller.account, reseller.payer)
    methods.remove_method(card)
    db.session.commit()
    with pytest.raises(pay.PlanInvalid) as refused:
        plan(reseller, [(reseller.invoices[0].id, D("1.00"))], method_id=card.id)
    assert set(refused.value.errors) == {pay.METHOD}


def test_a_paid_invoice_has_nothing_left_to_pay(reseller):
    invoice = reseller.invoices[0]
    create_payment(account_id=invoice.account_id, currency="USD", method_label="Wire",
                   allocations=[(invoice, D("37.50"))], received_on=TODAY)
    db.session.commit()
    with pytest.raises(pay.PlanInvalid) as refused:
        plan(reseller, [(invoice.id, D("1.00"))])
    assert refused.value.errors == {invoice.id: f"{invoice.number} has nothing left to pay."}


def test_credit_goes_to_the_oldest_chosen_invoices_first(reseller):
    give_credit(reseller.account, "50.00")
    card = add_card(reseller.account, reseller.payer)
    march, april, may = reseller.invoices
    # Chosen newest first, with a part payment on April: the credit still starts with March.
    result = plan(reseller, [(may.id, D("37.50")), (april.id, D("20.00")), (march.id, D("30.00"))],
                  apply_credit=True, method_id=card.id)
    assert [(line.invoice.id, line.amount, line.credit, line.charge) for line in result.lines] == [
        (march.id, D("30.00"), D("30.00"), D("0.00")),
        (april.id, D("20.00"), D("20.00"), D("0.00")),
        (may.id, D("37.50"), D("0.00"), D("37.50")),
    ]
    assert (result.invoices_total, result.credit_applied, result.to_charge) == (
        D("87.50"), D("50.00"), D("37.50"))
    assert result.method.id == card.id


def test_credit_covering_everything_needs_no_method(reseller):
    give_credit(reseller.account, "100.00")
    result = plan(reseller, [(reseller.invoices[0].id, D("37.50"))], apply_credit=True)
    assert (result.to_charge, result.credit_applied, result.method) == (D("0"), D("37.50"), None)


def test_credit_is_used_only_when_asked(reseller):
    give_credit(reseller.account, "100.00")
    card = add_card(reseller.account, reseller.payer)
    result = plan(reseller, [(reseller.invoices[0].id, D("37.50"))], method_id=card.id)
    assert (result.credit_applied, result.to_charge) == (D("0"), D("37.50"))


# --- Confirming -------------------------------------------------------------------------------


def test_card_payment_with_credit_pays_two_invoices(reseller):
    give_credit(reseller.account, "50.00")
    card = add_card(reseller.account, reseller.payer)
    march, april, _ = reseller.invoices
    draft = reviewed_draft(reseller, [(march.id, D("37.50")), (april.id, D("30.00"))],
                           apply_credit=True, method_id=card.id)
    result = confirm(reseller, draft)

    payment = result.payment
    assert (result.outcome, result.replayed) == ("succeeded", False)
    assert (payment.status, payment.amount, payment.method_id, payment.idempotency_key) == (
        PaymentStatus.SUCCEEDED, D("17.50"), card.id, f"{draft.key}-0")
    assert [(c.amount, c.idempotency_key, c.method_reference) for c in charges()] == [
        (D("17.50"), f"{draft.key}-0", card.gateway_reference)]
    assert payment.gateway_reference == charges()[0].reference
    db.session.refresh(march)
    db.session.refresh(april)
    assert (march.status, march.credit_applied, march.amount_paid) == (
        InvoiceStatus.PAID, D("37.50"), D("0.00"))
    assert (april.status, april.credit_applied, april.amount_paid, april.balance_due) == (
        InvoiceStatus.PARTIALLY_PAID, D("12.50"), D("17.50"), D("7.50"))
    assert credit_balance(reseller.account) == 0
    assert (draft.payment_id, draft.confirmed_at is not None) == (payment.id, True)
    assert check_all() == []


def test_confirming_again_gives_the_same_payment_and_no_second_charge(reseller):
    card = add_card(reseller.account, reseller.payer)
    draft = reviewed_draft(reseller, [(reseller.invoices[0].id, D("37.50"))], method_id=card.id)
    first = confirm(reseller, draft)
    for _ in range(3):
        again = confirm(reseller, draft)
        assert again.replayed and again.payment.id == first.payment.id
    assert len(charges()) == 1
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    with pytest.raises(pay.PlanInvalid, match="confirmed already"):
        pay.review_draft(draft, plan(reseller, [(reseller.invoices[1].id, D("1.00"))],
                                     method_id=card.id))


def test_another_accounts_draft_is_not_found(reseller, billing, factory):
    other = make_reseller(billing, factory, periods=("2026-03",))
    card = add_card(reseller.account, reseller.payer)
    draft = reviewed_draft(reseller, [(reseller.invoices[0].id, D("10.00"))], method_id=card.id)
    with pytest.raises(NotFound):
        pay.confirm_draft(other.account.id, draft.key, today=TODAY)
    with pytest.raises(NotFound):
        pay.get_draft_or_404(other.account.id, draft.key)
    assert charges() == []


def test_a_draft_must_be_reviewed_before_confirming(reseller):
    draft = pay.open_draft(reseller.account.id, reseller.payer.id)
    with pytest.raises(pay.PlanInvalid) as refused:
        pay.confirm_draft(reseller.account.id, draft.key, today=TODAY)
    assert refused.value.message == pay.NOT_REVIEWED
    assert len(draft.key) >= 40 and draft.key != pay.open_draft(reseller.account.id,
                                                                reseller.payer.id).key


@pytest.mark.parametrize("number, code", [(DECLINED_CARD, "generic_decline"),
                                          (INSUFFICIENT_FUNDS_CARD, "insufficient_funds")])
def test_a_declined_card_keeps_the_draft_open_for_another_method(reseller, number, code):
    give_credit(reseller.account, "10.00")
    declined = add_card(reseller.account, reseller.payer, number)
    good = add_card(reseller.account, reseller.payer)
    invoice = reseller.invoices[0]
    draft = reviewed_draft(reseller, [(invoice.id, D("37.50"))], apply_credit=True,
                           method_id=declined.id)
    failed = confirm(reseller, draft)

    assert failed.outcome == "failed" and not failed.replayed
    assert (failed.payment.failure_reason, failed.payment.amount) == (
        describe_decline(code), D("27.50"))
    assert (draft.confirmed_at, draft.payment_id, draft.attempts) == (None, None, 1)
    db.session.refresh(invoice)
    assert (invoice.status, invoice.balance_due) == (InvoiceStatus.OPEN, D("37.50"))
    assert credit_balance(reseller.account) == D("10.00")  # no credit applied

    pay.review_draft(draft, plan(reseller, [(invoice.id, D("37.50"))], apply_credit=True,
                                 method_id=good.id))
    db.session.commit()
    paid = confirm(reseller, draft)
    assert paid.outcome == "succeeded"
    assert [c.idempotency_key for c in charges()] == [f"{draft.key}-0", f"{draft.key}-1"]
    assert [p.status for p in db.session.scalars(select(Payment).order_by(Payment.id))] == [
        PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID and credit_balance(reseller.account) == 0
    assert check_all() == []


def test_a_bank_payment_is_processing_and_holds_its_invoices(reseller):
    bank = add_bank_account(reseller.account, reseller.users[Role.ADMIN])
    march, april, _ = reseller.invoices
    draft = reviewed_draft(reseller, [(march.id, D("37.50")), (april.id, D("5.00"))],
                           method_id=bank.id)
    result = confirm(reseller, draft)
    assert (result.outcome, result.payment.amount) == ("processing", D("42.50"))
    assert processing_invoice_ids(reseller.account.id) == {march.id, april.id}
    assert charges()[0].settles_on is not None


def test_an_unanswered_charge_makes_one_unknown_payment(reseller):
    give_credit(reseller.account, "7.50")
    card = add_card(reseller.account, reseller.payer)
    invoice = reseller.invoices[0]
    draft = reviewed_draft(reseller, [(invoice.id, D("37.50"))], apply_credit=True,
                           method_id=card.id)
    get_gateway().simulate_timeout(reached_gateway=True)
    db.session.commit()
    result = confirm(reseller, draft)
    assert (result.outcome, result.payment.amount, result.payment.gateway_reference) == (
        "unknown", D("30.00"), None)
    assert processing_invoice_ids(reseller.account.id) == {invoice.id}
    again = confirm(reseller, draft)
    assert again.replayed and again.payment.id == result.payment.id
    # The gateway made the charge once, under the payment's key: reconciling finds it.
    found = get_gateway().find_charge(result.payment.idempotency_key)
    assert found is not None and len(charges()) == 1
    assert check_all() == []


def test_credit_covering_everything_is_applied_without_a_charge(reseller):
    give_credit(reseller.account, "60.00")
    march, april, _ = reseller.invoices
    draft = reviewed_draft(reseller, [(march.id, D("37.50")), (april.id, D("22.50"))],
                           apply_credit=True)
    result = confirm(reseller, draft)
    assert (result.outcome, result.payment) == ("credit", None)
    assert charges() == [] and db.session.scalar(select(func.count()).select_from(Payment)) == 0
    db.session.refresh(march)
    db.session.refresh(april)
    assert (march.status, april.balance_due) == (InvoiceStatus.PAID, D("15.00"))
    assert draft.confirmed_at is not None and confirm(reseller, draft).replayed
    assert pay.draft_credit_shares(draft) == {march.id: D("37.50"), april.id: D("22.50")}
    assert check_all() == []


def test_a_balance_that_changed_since_review_is_not_charged(reseller):
    card = add_card(reseller.account, reseller.payer)
    invoice = reseller.invoices[0]
    draft = reviewed_draft(reseller, [(invoice.id, D("37.50"))], method_id=card.id)
    create_payment(account_id=invoice.account_id, currency="USD", method_label="Wire",
                   allocations=[(invoice, D("10.00"))], received_on=TODAY)
    db.session.commit()
    with pytest.raises(pay.PlanChanged) as changed:
        pay.confirm_draft(reseller.account.id, draft.key, today=TODAY)
    assert changed.value.message == pay.REVIEW_AGAIN
    assert changed.value.errors == {invoice.id: "Enter at most the balance due, $27.50."}
    db.session.rollback()
    assert charges() == [] and draft.confirmed_at is None


def test_credit_spent_since_review_is_not_charged(reseller):
    give_credit(reseller.account, "20.00")
    card = add_card(reseller.account, reseller.payer)
    march, april, _ = reseller.invoices
    draft = reviewed_draft(reseller, [(april.id, D("37.50"))], apply_credit=True,
                           method_id=card.id)
    pay.pay_invoices(reseller.account, reseller.payer.id, [(march.id, D("5.00"))],
                     method_id=None, apply_credit=True, today=TODAY)
    db.session.commit()
    with pytest.raises(pay.PlanChanged):
        pay.confirm_draft(reseller.account.id, draft.key, today=TODAY)
    db.session.rollback()
    assert charges() == []


# --- Properties -------------------------------------------------------------------------------

amounts = st.decimals(min_value=D("-1.00"), max_value=D("60.00"), places=2,
                      allow_nan=False, allow_infinity=False)
choices = st.lists(st.tuples(st.integers(min_value=0, max_value=2), amounts), max_size=4)
CREDIT_LEVELS = ["0.01", "37.49", "500.00"]


def _property_settings(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("credit", CREDIT_LEVELS)
def test_any_plan_stays_within_the_balances_and_adds_up(reseller, credit):
    give_credit(reseller.account, credit)
    card = add_card(reseller.account, reseller.payer)
    invoices = reseller.invoices

    @_property_settings(120)
    @given(picked=choices, apply_credit=st.booleans())
    def check(picked, apply_credit):
        selections = [(invoices[i].id, amount) for i, amount in picked]
        try:
            result = plan(reseller, selections, apply_credit=apply_credit, method_id=card.id)
        except pay.PlanInvalid as refused:
            assert refused.errors
            bad = [amount for _, amount in picked if not D("0") < amount <= D("37.50")]
            ids = [i for i, _ in picked]
            assert bad or not picked or len(set(ids)) != len(ids)
            return
        lines = result.lines
        assert sorted(line.invoice.id for line in lines) == sorted(i for i, _ in selections)
        for line in lines:
            assert D("0") < line.amount <= line.invoice.balance_due
            assert D("0") <= line.credit <= line.amount
            assert line.credit + line.charge == line.amount
        # Oldest first: an invoice gets credit only when every older one got all of its amount.
        for older, newer in zip(lines, lines[1:], strict=False):
            assert older.invoice.issue_date <= newer.invoice.issue_date
            assert newer.credit == 0 or older.credit == older.amount
        available = D(credit) if apply_credit else D("0")
        assert result.credit_applied == min(available, result.invoices_total)
        assert result.invoices_total == result.credit_applied + result.to_charge
        assert result.invoices_total == sum(amount for _, amount in selections)

    check()


def test_any_confirmed_plan_moves_no_more_than_the_balances(reseller):
    give_credit(reseller.account, "45.00")
    card = add_card(reseller.account, reseller.payer)
    ids = [invoice.id for invoice in reseller.invoices]
    account_id = reseller.account.id

    @_property_settings(25)
    @given(picked=st.lists(st.tuples(st.integers(min_value=0, max_value=2),
                                     st.decimals(min_value=D("0.01"), max_value=D("37.50"),
                                                 places=2)),
                           min_size=1, max_size=3, unique_by=lambda pair: pair[0]),
           apply_credit=st.booleans())
    def check(picked, apply_credit):
        try:
            selections = [(ids[i], amount) for i, amount in picked]
            draft = pay.open_draft(account_id, reseller.payer.id)
            reviewed = plan(reseller, selections, apply_credit=apply_credit, method_id=card.id)
            pay.review_draft(draft, reviewed)
            result = pay.confirm_draft(account_id, draft.key, today=TODAY)
            db.session.flush()
            moved = db.session.execute(
                select(LedgerEntry.invoice_id, LedgerEntry.kind, LedgerEntry.amount)
                .where(LedgerEntry.kind.in_([EntryKind.ALLOCATION, EntryKind.CREDIT_APPLICATION]))
            ).all()
            for invoice_id, amount in selections:
                on_invoice = sum(a for i, _, a in moved if i == invoice_id)
                assert on_invoice == amount  # exactly what was chosen, by credit and card
            charged = sum(a for _, kind, a in moved if kind == EntryKind.ALLOCATION)
            assert charged == reviewed.to_charge == (result.payment.amount if result.payment
                                                     else D("0"))
            assert sum(a for _, kind, a in moved if kind == EntryKind.CREDIT_APPLICATION) == \
                reviewed.credit_applied <= D("45.00")
            assert check_all() == []
        finally:
            db.session.rollback()

    check()
    assert db.session.scalar(select(func.count()).select_from(PaymentDraft)) == 0
