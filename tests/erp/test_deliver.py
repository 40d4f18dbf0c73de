"""Delivering the outbox: Standard Webhooks signatures, a local receiver on 127.0.0.1, backoff
on a fake clock, dead letters and replay, leases, the commands, and two deliverers at once."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.erp.deliver import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    LEASE,
    MAX_ATTEMPTS,
    POLL_INTERVAL,
    REQUEST_TIMEOUT,
    Deliverer,
    WebhookConfigError,
    backoff_delay,
    replay_dead_events,
    signed_headers,
    signer,
)
from app.events.models import DeliveryState, OutboxEvent
from app.events.schemas import CreditApplied
from app.events.services import record_event
from app.extensions import db
from tests.erp.receiver import SECRET, Receiver

# The Standard Webhooks reference vector (standard-webhooks repository, Python library tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def longest(low: float, high: float) -> float:
    return high


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_events(factory, count: int = 1) -> list[str]:
    account = factory.account()
    ids = [record_event(CreditApplied(invoice_number=f"INV-{n}", amount=Decimal("35.00"),
                                      currency="USD"), account_id=account.id).event_id
           for n in range(count)]
    db.session.commit()
    return ids


def stored(event_id: str) -> OutboxEvent:
    db.session.expire_all()
    return db.session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == event_id))


def make_deliverer(receiver: Receiver, clock: Clock, **options) -> Deliverer:
    # The stored events are "due" from their creation time; start the clock after them.
    clock.now = max(clock.now, datetime.now(UTC) + timedelta(seconds=1))
    return Deliverer(receiver.url, SECRET, clock=clock, jitter=longest, **options)


def test_the_standard_webhooks_vector_signs_to_its_known_signature():
    at = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    headers = signed_headers(signer(VECTOR_SECRET), VECTOR_ID, VECTOR_PAYLOAD, at)
    assert headers["webhook-id"] == VECTOR_ID
    assert headers["webhook-timestamp"] == str(VECTOR_TIMESTAMP)
    assert headers["webhook-signature"] == VECTOR_SIGNATURE
    # One byte of the payload changed: another signature.
    other = signed_headers(signer(VECTOR_SECRET), VECTOR_ID, VECTOR_PAYLOAD + " ", at)
    assert other["webhook-signature"] != VECTOR_SIGNATURE


@pytest.mark.parametrize("secret", [None, "", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!"])
def test_a_missing_or_malformed_secret_is_refused(secret):
    with pytest.raises(WebhookConfigError):
        signer(secret)


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 12, 40])
def test_backoff_is_capped_exponential_with_full_jitter(failures):
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1))
    assert backoff_delay(failures, longest) == ceiling
    assert backoff_delay(failures, lambda low, high: low) == timedelta(0)
    assert timedelta(0) <= backoff_delay(failures) <= ceiling


def test_a_due_event_is_delivered_signed_once(factory, clock):
    [event_id] = make_events(factory)
    with Receiver() as receiver:
        deliverer = make_deliverer(receiver, clock)
        result = deliverer.deliver_due()
        again = deliverer.deliver_due()
    assert (result.delivered, result.retrying, result.dead, again.attempted) == (1, 0, 0, 0)
    assert receiver.ids == {event_id: 1} and receiver.bad_signatures == 0
    [body] = receiver.received
    event = stored(event_id)
    assert body == {"id": event_id, "type": "credit.applied", "version": 1,
                    "occurred_at": event.created_at.isoformat(),
                    "account_number": event.account_number,
                    "data": {"invoice_number": "INV-0", "amount": "35.00", "currency": "USD"}}
    assert (event.state, event.delivered_at, event.attempts) == (
        DeliveryState.DELIVERED, clock.now, 1)


def test_a_receiver_with_another_secret_refuses_the_signature(factory, clock):
    make_events(factory)
    with Receiver(secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=") as receiver:
        result = make_deliverer(receiver, clock).deliver_due()
    assert (receiver.bad_signatures, result.retrying) == (1, 1)


def test_a_500_is_retried_after_the_backoff(factory, clock):
    [event_id] = make_events(factory)
    with Receiver() as receiver:
        receiver.statuses = [500, 503]
        deliverer = make_deliverer(receiver, clock)
        assert deliverer.deliver_due().retrying == 1
        event = stored(event_id)
        assert (event.attempts, event.next_attempt_at) == (1, clock.now + BACKOFF_BASE)
        assert event.last_error.startswith("HTTP 500")

        clock.advance(BACKOFF_BASE - timedelta(seconds=1))
        assert deliverer.deliver_due().attempted == 0  # not due yet
        clock.advance(timedelta(seconds=1))
        assert deliverer.deliver_due().retrying == 1
        assert stored(event_id).next_attempt_at == clock.now + 2 * BACKOFF_BASE

        clock.advance(2 * BACKOFF_BASE)
        assert deliverer.deliver_due().delivered == 1
    assert receiver.ids == {event_id: 3}
    event = stored(event_id)
    assert (event.state, event.attempts, event.last_error) == (DeliveryState.DELIVERED, 3, None)


def test_an_unreachable_erp_is_retried(factory, clock):
    [event_id] = make_events(factory)
    with Receiver() as receiver:
        url = receiver.url
    deliverer = Deliverer(url, SECRET, clock=clock, jitter=longest)
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    assert deliverer.deliver_due().retrying == 1
    assert stored(event_id).last_error.startswith("ConnectError")


def test_the_last_failed_attempt_dead_letters_and_replay_delivers(factory, clock):
    [event_id, other_id] = make_events(factory, 2)
    with Receiver() as receiver:
        receiver.statuses = [500] * (2 * MAX_ATTEMPTS)
        deliverer = make_deliverer(receiver, clock)
        results = []
        for _ in range(MAX_ATTEMPTS):
            results.append(deliverer.deliver_due())
            clock.advance(BACKOFF_CAP)
        assert [r.dead for r in results] == [0] * (MAX_ATTEMPTS - 1) + [2]
        assert deliverer.deliver_due().attempted == 0  # dead letters are not sent
        event = stored(event_id)
        assert (event.state, event.attempts, event.dead_at) == (
            DeliveryState.DEAD, MAX_ATTEMPTS, clock.now - BACKOFF_CAP)
        assert receiver.ids == {event_id: MAX_ATTEMPTS, other_id: MAX_ATTEMPTS}

        receiver.statuses = []
        assert replay_dead_events(event_id, now=clock.now) == 1
        db.session.commit()
        assert deliverer.deliver_due().delivered == 1
        assert (stored(event_id).state, stored(other_id).state) == (
            DeliveryState.DELIVERED, DeliveryState.DEAD)
        assert replay_dead_events(now=clock.now) == 1
        db.session.commit()
        assert deliverer.deliver_due().delivered == 1
    assert receiver.ids == {event_id: MAX_ATTEMPTS + 1, other_id: MAX_ATTEMPTS + 1}


def test_events_committed_before_a_crash_are_delivered_after_it(factory, clock):
    ids = make_events(factory, 3)
    db.session.remove()  # the process that wrote them is gone
    with Receiver() as receiver:
        assert make_deliverer(receiver, clock).deliver_due().delivered == 3
    assert receiver.ids == dict.fromkeys(ids, 1)


def test_a_crashed_deliverers_lease_runs_out(factory, clock):
    [event_id] = make_events(factory)
    with Receiver() as receiver:
        crashed = make_deliverer(receiver, clock)
        claim = crashed.claim_next()  # … and the process dies before it sends
        other = make_deliverer(receiver, clock)
        assert other.deliver_due().attempted == 0  # held by the lease
        clock.advance(LEASE)
        assert other.deliver_due().delivered == 1
        # The first deliverer comes back with a failure: the event stays delivered.
        assert crashed.settle(claim, "HTTP 500") is None
    assert stored(event_id).state == DeliveryState.DELIVERED
    assert receiver.ids == {event_id: 1}


def test_limit_bounds_one_pass(factory, clock):
    make_events(factory, 3)
    with Receiver() as receiver:
        deliverer = make_deliverer(receiver, clock)
        assert deliverer.deliver_due(limit=2).delivered == 2
        assert deliverer.deliver_due(limit=2).delivered == 1


def test_deliver_without_a_url_sends_nothing_and_says_so(app, factory):
    [event_id] = make_events(factory)
    result = app.test_cli_runner().invoke(args=["erp", "deliver"])
    assert result.exit_code == 0
    assert ("ERP_WEBHOOK_URL is not set and no stand-in ERP runs: nothing was sent; 1 events "
            "wait") in result.output
    assert stored(event_id).state == DeliveryState.PENDING


def test_the_deliver_command_posts_and_replay_refuses_what_is_not_dead(app, factory,
                                                                        monkeypatch):
    [event_id] = make_events(factory)
    with Receiver() as receiver:
        monkeypatch.setitem(app.config, "ERP_WEBHOOK_URL", receiver.url)
        monkeypatch.setitem(app.config, "ERP_WEBHOOK_SECRET", None)
        refused = app.test_cli_runner().invoke(args=["erp", "deliver"])
        assert refused.exit_code == 2 and "ERP_WEBHOOK_SECRET" in refused.output
        monkeypatch.setitem(app.config, "ERP_WEBHOOK_SECRET", SECRET)
        result = app.test_cli_runner().invoke(args=["erp", "deliver", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "1 delivered, 0 to retry later, 0 dead-lettered." in result.output
    assert receiver.ids == {event_id: 1}
    runner = app.test_cli_runner()
    delivered = runner.invoke(args=["erp", "replay", "--event", event_id])
    assert delivered.exit_code == 2 and "is delivered, not dead-lettered" in delivered.output
    assert runner.invoke(args=["erp", "replay", "--event", "evt_nothing"]).exit_code == 2
    assert runner.invoke(args=["erp", "replay"]).exit_code == 2
    nothing = runner.invoke(args=["erp", "replay", "--dead"])
    assert nothing.exit_code == 0 and "0 dead-lettered events are due again." in nothing.output


def test_the_replay_command_puts_dead_events_back(app, factory):
    [event_id] = make_events(factory)
    event = stored(event_id)
    event.state, event.attempts, event.dead_at = DeliveryState.DEAD, MAX_ATTEMPTS, event.created_at
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["erp", "replay", "--event", event_id])
    assert result.exit_code == 0 and "1 dead-lettered events are due again." in result.output
    event = stored(event_id)
    assert (event.state, event.attempts, event.dead_at) == (DeliveryState.PENDING, 0, None)


@pytest.mark.postgresql
def test_two_deliverers_never_send_one_event_twice(app, factory):
    ids = make_events(factory, 60)
    results = []
    barrier = threading.Barrier(2)

    def deliverer(receiver: Receiver) -> None:
        with app.app_context():
            worker = Deliverer(receiver.url, SECRET)
            barrier.wait()
            results.append(worker.deliver_due())
            worker.close()
            db.session.remove()

    with Receiver(delay=0.005) as receiver:
        threads = [threading.Thread(target=deliverer, args=(receiver,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert receiver.ids == dict.fromkeys(ids, 1)
    assert sorted(r.delivered for r in results) == sorted(r.attempted for r in results)
    assert sum(r.delivered for r in results) == len(ids)
    assert all(r.delivered for r in results)  # both took part
    db.session.expire_all()
    assert set(db.session.scalars(select(OutboxEvent.state))) == {DeliveryState.DELIVERED}


def test_the_readme_quotes_the_delivery_constants():
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert f"none within {REQUEST_TIMEOUT:g} seconds" in readme
    assert f"up to {BACKOFF_BASE.total_seconds():g} seconds × 2^(failures − 1)" in readme
    assert f"never more than {BACKOFF_CAP.total_seconds() / 3600:g} hours" in readme
    assert f"the {MAX_ATTEMPTS}th failed attempt dead-letters" in readme
    assert f"checks every {POLL_INTERVAL:g} seconds" in readme
    assert f"a {LEASE.total_seconds() / 60:g}-minute lease" in readme
