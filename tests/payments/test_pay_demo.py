"""The demo's payments go through the pay flow with the account's usable methods: a bank
payment whose settlement day has passed is settled, a CAD account never pays by ACH, and an
account without methods has its payments recorded without one."""

import random
from datetime import date

from sqlalchemy import select

from app.accounts.models import Role
from app.billing.models import Invoice, InvoiceStatus
from app.demo.billing_data import OFFLINE_PAYMENT_LABEL, pay_history
from app.extensions import db
from app.payments.gateways.base import MethodKind
from app.payments.models import Payment, PaymentDraft, PaymentMethod, PaymentStatus
from app.payments.services import processing_invoice_ids
from app.reconcile import check_all
from tests.payments.paying import add_bank_account, add_card, make_reseller

PERIODS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05")
TODAY = date(2026, 5, 20)


def payments(account) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.account_id == account.id)
                                   .order_by(Payment.received_on)))


def unpaid(account) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(
        Invoice.account_id == account.id, Invoice.status != InvoiceStatus.PAID)
        .order_by(Invoice.issue_date)))


def test_demo_payments_use_the_accounts_methods(billing, factory):
    reseller = make_reseller(billing, factory, periods=PERIODS)
    card = add_card(reseller.account, reseller.users[Role.ADMIN])
    bank = add_bank_account(reseller.account, reseller.users[Role.ADMIN])
    pay_history(random.Random(3), reseller.account, leave_open=2, today=TODAY)
    db.session.commit()

    made = payments(reseller.account)
    assert len(made) == 4  # three invoices in full, the oldest open one in part
    assert {payment.method_id for payment in made} == {card.id, bank.id}
    drafts = db.session.scalars(select(PaymentDraft).where(
        PaymentDraft.account_id == reseller.account.id)).all()
    assert sorted(draft.payment_id for draft in drafts) == sorted(p.id for p in made)
    assert {draft.user_id for draft in drafts} == {reseller.payer.id}
    assert {payment.status for payment in made} == {PaymentStatus.SUCCEEDED}
    left = unpaid(reseller.account)
    assert len(left) == 2 and left[0].status == InvoiceStatus.PARTIALLY_PAID
    assert check_all() == []


def test_a_bank_payment_settles_once_its_day_has_come(billing, factory):
    reseller = make_reseller(billing, factory, periods=PERIODS)
    bank = add_bank_account(reseller.account, reseller.users[Role.ADMIN])
    # The part payment of the April invoice is made on Wednesday April 29 (two days before
    # it is due) and settles three business days later, on Monday May 4.
    today = date(2026, 5, 1)
    pay_history(random.Random(3), reseller.account, leave_open=2, today=today)
    made = payments(reseller.account)
    assert {payment.method_id for payment in made} == {bank.id}
    *settled, last = made
    assert last.received_on == date(2026, 4, 29) and last.status == PaymentStatus.PROCESSING
    assert processing_invoice_ids(reseller.account.id) == {reseller.invoices[3].id}
    assert all(payment.status == PaymentStatus.SUCCEEDED and payment.settled_on is not None
               and payment.settled_on > payment.received_on for payment in settled)
    assert check_all() == []


def test_a_cad_account_pays_by_card_only(billing, factory):
    billing.tax(country="CA", region="ON", rate="0.13")
    reseller = make_reseller(billing, factory, periods=PERIODS, country="CA", region="ON",
                             currency="CAD")
    card = add_card(reseller.account, reseller.users[Role.ADMIN])
    pay_history(random.Random(4), reseller.account, leave_open=2, today=TODAY)
    made = payments(reseller.account)
    assert made and {payment.method_id for payment in made} == {card.id}
    kinds = set(db.session.scalars(select(PaymentMethod.kind).where(
        PaymentMethod.account_id == reseller.account.id)))
    assert kinds == {MethodKind.CARD}


def test_without_methods_payments_are_recorded_without_one(billing, factory):
    reseller = make_reseller(billing, factory, periods=PERIODS)
    pay_history(random.Random(5), reseller.account, leave_open=2, today=TODAY)
    made = payments(reseller.account)
    assert len(made) == 4
    assert {(p.method_id, p.method_label, p.status) for p in made} == {
        (None, OFFLINE_PAYMENT_LABEL, PaymentStatus.SUCCEEDED)}
    assert check_all() == []
