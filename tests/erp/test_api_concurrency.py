"""On PostgreSQL with real connections: two requests with one Idempotency-Key at once have
one effect, and the pull feed never skips an event whose transaction commits after a later
one's (the out-of-order commit a plain `id > after` cursor loses)."""

import threading

import pytest
from sqlalchemy import func, select, text

from app.billing.models import CreditNote
from app.erp.tokens import create_token
from app.events.models import OutboxEvent
from app.extensions import db
from tests.conftest import IsolatedClient
from tests.erp.api_helpers import API, seed

pytestmark = pytest.mark.postgresql


def test_two_requests_with_one_key_make_one_credit_note(app, factory, monkeypatch):
    data = seed(app, monkeypatch, factory)
    url = f"{API}/accounts/{data.a.account.number}/credit-notes"
    body = {"number": "ERP-CN-9", "amount": "5.00", "currency": "USD", "reason": "Race",
            "issued_on": "2026-11-01"}
    headers = {**data.headers, "Idempotency-Key": "race-1"}
    barrier, answers = threading.Barrier(2), []
    app.test_client_class = IsolatedClient

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(url, json=body, headers=headers)
        answers.append((response.status_code, response.json))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CreditNote)) == 1
    assert sorted(status for status, _ in answers) in ([201, 201], [201, 409])
    assert all(answer == answers[0][1] for status, answer in answers if status == 201)


def test_an_event_that_commits_late_is_not_skipped(app, factory):
    account = factory.account()
    client = app.test_client()
    _, token = create_token("feed")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    engine = db.engine
    with engine.connect() as first, engine.connect() as second:
        # A takes the lower id and holds its transaction open; B takes the next and commits.
        first.execute(text(
            "INSERT INTO outbox_events (event_id, event_type, schema_version, account_id, "
            "account_number, payload, created_at, state, attempts, next_attempt_at) VALUES "
            "('evt_a', 'credit.applied', 1, :id, :n, '{\"invoice_number\": \"A\", "
            "\"amount\": \"1.00\", \"currency\": \"USD\"}', now(), 'pending', 0, now())"),
            {"id": account.id, "n": account.number})
        second.execute(text(
            "INSERT INTO outbox_events (event_id, event_type, schema_version, account_id, "
            "account_number, payload, created_at, state, attempts, next_attempt_at) VALUES "
            "('evt_b', 'credit.applied', 1, :id, :n, '{\"invoice_number\": \"B\", "
            "\"amount\": \"1.00\", \"currency\": \"USD\"}', now(), 'pending', 0, now())"),
            {"id": account.id, "n": account.number})
        second.commit()
        ids = dict(db.session.execute(select(OutboxEvent.event_id, OutboxEvent.id)).all())
        assert ids == {"evt_b": ids["evt_b"]}  # A is not visible yet

        page = client.get(f"{API}/events", headers=headers).json
        assert [event["id"] for event in page["events"]] == ["evt_b"]
        cursor = page["next_cursor"]
        first.commit()

    later = client.get(f"{API}/events?after={cursor}", headers=headers).json
    assert [event["id"] for event in later["events"]] == ["evt_a"]
    ids = dict(db.session.execute(select(OutboxEvent.event_id, OutboxEvent.id)).all())
    assert ids["evt_a"] < ids["evt_b"]  # the case a cursor on the id would lose
