"""Two requests charging with one idempotency key at the same moment, on PostgreSQL with real
threads: one charge, and both get its answer."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.payments.gateways.encryption import FieldEncryptor
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.gateways.sandbox_models import SandboxCharge

pytestmark = pytest.mark.postgresql


@pytest.mark.parametrize("round_", range(5))
def test_one_key_charged_from_two_threads_at_once_charges_once(app, round_):
    gateway = SandboxGateway(FieldEncryptor.from_config(app.config))
    setup = gateway.begin_card_setup(customer="R-100001", return_url="https://portal.test/")
    card = gateway.tokenize_card(
        setup.reference, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123"
    )
    db.session.commit()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def pay() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(gateway.charge(card.token, Decimal("99.00"), "USD", "pay-1"))
                db.session.commit()
            except Exception as error:  # reported by the assertion below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 2
    assert results[0] == results[1]
    assert results[0].status == "succeeded"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(SandboxCharge)) == 1
