"""PostgreSQL, real threads: eight confirmations of one draft at once make one payment and one
charge; two drafts racing for one invoice never over-pay it, and the loser is charged nothing."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice, InvoiceStatus
from app.errors import DomainError
from app.extensions import db
from app.payments import pay
from app.payments.gateways.sandbox_models import SandboxCharge
from app.payments.models import Payment
from app.reconcile import check_all
from tests.payments.paying import TODAY, add_card, give_credit, make_reseller

pytestmark = pytest.mark.postgresql


def race(app, work, count: int) -> list:
    """Run `work(n)` in `count` threads released together, each in its own session; what each
    returned, or the message of the DomainError it raised."""
    outcomes, barrier, lock = [], threading.Barrier(count), threading.Lock()

    def run(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcome = work(n)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                outcome = error.message
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == count, "a thread did not finish"
    return outcomes


@pytest.fixture
def reseller(billing, factory):
    return make_reseller(billing, factory)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_eight_confirmations_of_one_draft_make_one_payment(app, reseller):
    give_credit(reseller.account, "12.50")
    card = add_card(reseller.account, reseller.payer)
    account_id = reseller.account.id
    selections = [(invoice.id, Decimal("37.50")) for invoice in reseller.invoices[:2]]
    draft = pay.open_draft(account_id, reseller.payer.id)
    pay.review_draft(draft, pay.plan_payment(reseller.account, selections, apply_credit=True,
                                             method_id=card.id, today=TODAY))
    db.session.commit()
    key = draft.key

    def confirm(_: int) -> int:
        return pay.confirm_draft(account_id, key, today=TODAY).payment.id

    outcomes = race(app, confirm, 8)
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert outcomes == [payment.id] * 8
    assert (count(Payment), count(SandboxCharge)) == (1, 1)
    assert payment.amount == Decimal("62.50")
    assert db.session.scalar(select(SandboxCharge.amount)) == Decimal("62.50")
    assert [db.session.get(Invoice, i).status for i, _ in selections] == [InvoiceStatus.PAID] * 2
    assert check_all() == []


def test_two_drafts_racing_for_one_invoice_never_over_pay_it(app, reseller):
    card = add_card(reseller.account, reseller.payer)
    account_id, invoice_id = reseller.account.id, reseller.invoices[0].id
    keys = []
    for _ in range(2):
        draft = pay.open_draft(account_id, reseller.payer.id)
        pay.review_draft(draft, pay.plan_payment(
            reseller.account, [(invoice_id, Decimal("37.50"))], apply_credit=False,
            method_id=card.id, today=TODAY))
        keys.append(draft.key)
    db.session.commit()

    def confirm(n: int) -> str:
        return pay.confirm_draft(account_id, keys[n], today=TODAY).outcome

    outcomes = race(app, confirm, 2)
    assert sorted(outcomes) == sorted(["succeeded", pay.REVIEW_AGAIN])
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice_id)
    assert (invoice.amount_paid, invoice.status) == (Decimal("37.50"), InvoiceStatus.PAID)
    assert (count(Payment), count(SandboxCharge)) == (1, 1)
    assert check_all() == []
