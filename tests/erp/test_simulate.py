"""The stand-in ERP (`flask erp simulate`): it verifies every webhook's signature, answers a
submitted change request through the inbound API (acknowledge, then decide) with idempotency
keys, retries what a server error or a lost connection interrupted, and the provisioned
endpoint it leaves for `flask erp deliver`."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from app.billing.engine import run_billing
from app.billing.models import ChargeType, Invoice, InvoiceLine
from app.billing.rating import Period
from app.erp.deliver import Deliverer, signed_headers, signer
from app.erp.simulate import (
    API_ATTEMPTS,
    REJECTION_REASON,
    Decision,
    PortalError,
    StandInErp,
    SubscriptionReport,
    new_webhook_secret,
)
from app.erp.webhook_endpoint import delivery_target, provision_endpoint, withdraw_endpoint
from app.events.models import DeliveryState
from app.events.schemas import CreditApplied
from app.events.services import record_event
from app.extensions import db
from tests.erp.api_helpers import seed
from tests.erp.receiver import SECRET, Receiver
from tests.erp.test_deliver import stored

TODAY = date(2026, 11, 26)


class Portal:
    """The portal's inbound API as an httpx transport: records each call and answers the
    statuses it is told to (200 with the request back when told nothing)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, str | None]] = []
        self.statuses: list[int | Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.statuses.pop(0) if self.statuses else 200
        if isinstance(answer, Exception):
            raise answer
        self.calls.append((request.url.path, json.loads(request.content),
                           request.headers.get("Idempotency-Key")))
        return httpx.Response(answer, json={"status": "ok"})

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://portal.test", transport=httpx.MockTransport(self))


@pytest.fixture
def portal() -> Portal:
    return Portal()


def stand_in(portal: Portal, approve: bool = True, secret: str = SECRET) -> StandInErp:
    erp = StandInErp(portal.client(), secret, Decision(approve=approve, delay=0),
                     log=lambda line: None, today=lambda: TODAY, sleep=lambda seconds: None)
    erp.server.server_close()  # these tests call receive/handle directly
    return erp


def submitted(reference: str = "CR-000042") -> dict:
    return {"id": "evt_1", "type": "change_request.submitted", "account_number": "R-100001",
            "data": {"reference": reference, "type": "address"}}


def signed(message: dict, secret: str = SECRET, at: datetime | None = None
           ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(message)
    headers = signed_headers(signer(secret), message["id"], body, at or datetime.now(UTC))
    return body.encode(), headers


def test_a_webhook_signed_with_its_secret_is_taken(portal):
    erp = stand_in(portal)
    assert erp.receive(*signed(submitted())) == 204
    assert erp.received == [submitted()]


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "signature"])
def test_a_webhook_whose_signature_does_not_hold_is_refused(portal, tamper):
    erp = stand_in(portal)
    message = submitted()
    body, headers = signed(message, secret=new_webhook_secret() if tamper == "secret" else SECRET,
                           at=datetime.now(UTC) - timedelta(minutes=10) if tamper == "stale"
                           else None)
    if tamper == "body":
        body = body.replace(b"CR-000042", b"CR-000043")
    if tamper == "signature":
        headers["webhook-signature"] = "v1," + "A" * 44
    assert erp.receive(body, headers) == 401
    assert erp.received == [] and erp.bad_signatures == 1
    assert erp.inbox.empty()


@pytest.mark.parametrize(("approve", "decision"), [
    (True, {"decision": "approve", "effective_date": TODAY.isoformat()}),
    (False, {"decision": "reject", "reason": REJECTION_REASON}),
])
def test_a_submitted_request_is_acknowledged_then_decided(portal, approve, decision):
    stand_in(portal, approve=approve).handle(submitted("CR-000042"))
    base = "/api/erp/v1/change-requests/CR-000042"
    assert portal.calls == [
        (f"{base}/acknowledge", {"note": "Received by the stand-in ERP."}, "evt_1-acknowledge"),
        (f"{base}/decision", decision, "evt_1-decision"),
    ]


def test_other_events_get_no_answer(portal):
    stand_in(portal).handle({"id": "evt_2", "type": "payment.created", "data": {}})
    assert portal.calls == []


def test_a_server_error_or_a_lost_connection_is_retried_with_the_same_key(portal):
    portal.statuses = [503, httpx.ConnectError("refused")]
    stand_in(portal).handle(submitted())
    keys = [key for _, _, key in portal.calls]
    assert keys == ["evt_1-acknowledge", "evt_1-acknowledge", "evt_1-decision"]


def test_a_refusal_is_not_retried(portal):
    portal.statuses = [409]
    with pytest.raises(PortalError, match="answered 409"):
        stand_in(portal).handle(submitted())
    assert portal.calls == [("/api/erp/v1/change-requests/CR-000042/acknowledge",
                             {"note": "Received by the stand-in ERP."}, "evt_1-acknowledge")]


def test_an_unreachable_portal_is_given_up_after_the_last_attempt(portal):
    portal.statuses = [httpx.ConnectError("refused")] * API_ATTEMPTS
    with pytest.raises(PortalError, match="ConnectError"):
        stand_in(portal).handle(submitted())
    assert portal.calls == []


def test_the_outbox_reaches_the_stand_in_over_http_signed(app, factory, portal):
    account = factory.account()
    event_id = record_event(CreditApplied(invoice_number="INV-1", amount=Decimal("5.00"),
                                          currency="USD"), account_id=account.id).event_id
    db.session.commit()
    secret = new_webhook_secret()
    with StandInErp(portal.client(), secret, Decision(approve=True, delay=0),
                    log=lambda line: None) as erp:
        deliverer = Deliverer(erp.url, secret)
        assert deliverer.deliver_due().delivered == 1
        deliverer.close()
    assert [message["id"] for message in erp.received] == [event_id]
    assert stored(event_id).state == DeliveryState.DELIVERED


# The provisioned endpoint ---------------------------------------------------------------------


def test_the_configured_erp_comes_before_a_provisioned_endpoint(app, monkeypatch):
    assert delivery_target() is None
    provision_endpoint("http://127.0.0.1:9/webhooks", SECRET, by="flask erp simulate")
    target = delivery_target()
    assert (target.url, target.secret, target.source) == (
        "http://127.0.0.1:9/webhooks", SECRET, "flask erp simulate")
    monkeypatch.setitem(app.config, "ERP_WEBHOOK_URL", "https://erp.example/hooks")
    monkeypatch.setitem(app.config, "ERP_WEBHOOK_SECRET", "whsec_configured")
    assert delivery_target().url == "https://erp.example/hooks"


def test_a_later_stand_in_replaces_the_endpoint_and_withdrawing_an_old_one_keeps_it(app):
    provision_endpoint("http://127.0.0.1:9/first", SECRET, by="flask erp simulate")
    provision_endpoint("http://127.0.0.1:9/second", SECRET, by="flask erp simulate")
    withdraw_endpoint("http://127.0.0.1:9/first")
    assert delivery_target().url == "http://127.0.0.1:9/second"
    withdraw_endpoint("http://127.0.0.1:9/second")
    assert delivery_target() is None


def test_the_deliver_command_sends_to_the_provisioned_endpoint(app, factory):
    account = factory.account()
    event_id = record_event(CreditApplied(invoice_number="INV-2", amount=Decimal("5.00"),
                                          currency="USD"), account_id=account.id).event_id
    with Receiver() as receiver:
        provision_endpoint(receiver.url, SECRET, by="flask erp simulate")
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["erp", "deliver"])
    assert result.exit_code == 0, result.output
    assert "1 delivered" in result.output
    assert receiver.ids == {event_id: 1}


def test_simulate_refuses_to_take_a_configured_erps_events(app, monkeypatch):
    monkeypatch.setitem(app.config, "ERP_WEBHOOK_URL", "https://erp.example/hooks")
    result = app.test_cli_runner().invoke(args=["erp", "simulate"])
    assert result.exit_code == 2
    assert "ERP_WEBHOOK_URL names an ERP already" in result.output


# Late subscription data ------------------------------------------------------------------------


def test_reports_name_their_endpoint_and_body():
    change = SubscriptionReport("R-100001", 7, date(2026, 9, 1), quantity=20)
    cancellation = SubscriptionReport("R-100001", 7, date(2026, 8, 20))
    base = "/api/erp/v1/accounts/R-100001/subscriptions/7"
    assert change.call() == (f"{base}/changes",
                             {"effective_date": "2026-09-01", "quantity": 20})
    assert cancellation.call() == (f"{base}/cancellation", {"last_day": "2026-08-20"})


def test_a_report_is_sent_once_with_a_key_of_its_own(portal):
    erp = stand_in(portal)
    report = SubscriptionReport("R-100001", 7, date(2026, 9, 1), quantity=20)
    erp.report(report)
    erp.report(report)
    [first, second] = portal.calls
    assert first == second and first[2] == "report-R-100001-7-2026-09-01-20"


def test_a_backdated_change_from_the_stand_in_is_adjusted_on_the_next_invoice(app, factory,
                                                                              monkeypatch):
    data = seed(app, monkeypatch, factory)
    account, subscription = data.a.account, data.a.subscription
    march = data.a.invoices[0]
    seats = subscription.quantity
    api = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://portal.test",
                       headers=data.headers)
    erp = StandInErp(api, SECRET, Decision(approve=True, delay=0), log=lambda line: None,
                     sleep=lambda seconds: None)
    erp.server.server_close()
    erp.report(SubscriptionReport(account.number, subscription.id, date(2026, 3, 1),
                                  quantity=seats + 10))
    run_billing(Period.parse("2026-05"), account_ids=[account.id])
    may = db.session.scalar(select(Invoice).where(Invoice.account_id == account.id)
                            .order_by(Invoice.issue_date.desc()))
    adjustments = db.session.scalars(select(InvoiceLine).where(
        InvoiceLine.invoice_id == may.id, InvoiceLine.charge_type == ChargeType.ADJUSTMENT)).all()
    assert adjustments and all(line.amount > 0 for line in adjustments)
    assert any(march.number in line.description for line in adjustments)


@pytest.mark.parametrize("arguments", [
    ["--change", "R-100001", "seven", "20", "2026-09-01"],
    ["--change", "R-100001", "7", "-1", "2026-09-01"],
    ["--cancel", "R-100001", "7", "2026-02-30"],
])
def test_simulate_refuses_a_malformed_report_before_starting(app, arguments):
    result = app.test_cli_runner().invoke(args=["erp", "simulate", *arguments])
    assert result.exit_code == 2, result.output
