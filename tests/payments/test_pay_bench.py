"""The pay flow's benchmark client pays through the real pages (CSRF on, as served): a smoke
test of `bench/pay.py`, not a performance test."""

from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.payments.models import Payment, PaymentStatus
from bench.pay import STEPS, FlowResult, make_payers, run_flows
from tests.browser.conftest import serve
from tests.conftest import make_config


def test_the_bench_clients_pay_through_the_pages(tmp_path):
    url = f"sqlite:///{tmp_path / 'pay.sqlite3'}"
    payers = make_payers(url, tmp_path, 2)
    portal = create_app(make_config(url, tmp_path / "search-index", WTF_CSRF_ENABLED=True,
                                    RATELIMIT_ENABLED=False))
    result = FlowResult()
    with serve(portal) as base_url:
        run_flows(int(base_url.rsplit(":", 1)[1]), payers, 1.5, result)
    assert (result.unexpected, result.errors) == ([], [])
    assert result.flows > 0
    assert all(len(result.latencies_ms[step]) == result.flows for step in STEPS)
    with portal.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment).where(
            Payment.status == PaymentStatus.SUCCEEDED)) == result.flows
        db.session.remove()
