"""The inbound ERP API (SPEC §13): tokens, JSON errors, CSRF and sessions kept away, each
endpoint's success, field errors, 404s, state conflicts, tenants and all-or-nothing requests,
Idempotency-Key, and the pull feed."""

import hashlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import create_app
from app.billing.models import CreditNote, Invoice, InvoiceLine, SubscriptionChange
from app.erp.models import ErpApiToken, IdempotencyRecord
from app.erp.tokens import create_token, revoke_token
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger.models import LedgerEntry
from app.payments.models import PaymentMethod, PaymentStatus
from app.reconcile import check_all
from tests.conftest import IsolatedClient, _clear_tables, make_config
from tests.erp.api_helpers import API, seed


@pytest.fixture
def data(app, factory, monkeypatch):
    return seed(app, monkeypatch, factory)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def credit_note(**changes):
    return {"number": "ERP-CN-1", "amount": "25.00", "currency": "USD",
            "reason": "Service credit", "issued_on": "2026-11-01", **changes}


def erp_invoice(**changes):
    return {"number": "ERP-INV-1", "period": "2026-10", "issue_date": "2026-11-01",
            "due_date": "2026-12-01", "currency": "USD",
            "lines": [{"description": "Consulting", "quantity": "3", "unit_price": "10.005",
                       "amount": "30.02", "tax": "3.00"},
                      {"description": "Discount", "quantity": "1", "unit_price": "-5",
                       "amount": "-5.00", "tax": "-0.50"}],
            "subtotal": "25.02", "tax": "2.50", "total": "27.52", **changes}


# Tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-token",
    "Bearer erp_0123456789abcdef_" + "A" * 43, "Token {token}", "Bearer {token}x",
])
def test_without_a_valid_token_the_answer_is_401_json(client, data, header):
    headers = {} if header is None else {"Authorization": header.format(token=data.token)}
    response = client.get(f"{API}/events", headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(client, data):
    assert client.get(f"{API}/events", headers=data.headers).status_code == 200
    revoke_token(data.token.split("_")[1])
    db.session.commit()
    assert client.get(f"{API}/events", headers=data.headers).status_code == 401


def test_the_token_is_stored_hashed_and_its_use_noted(client, app):
    token, text = create_token("ERP")
    db.session.commit()
    _, prefix, secret = text.split("_", 2)
    row = db.session.get(ErpApiToken, token.id)
    stored = " ".join(str(value) for value in (row.name, row.prefix, row.secret_sha256))
    assert secret not in stored and text not in stored
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert row.last_used_at is None
    client.get(f"{API}/events", headers={"Authorization": f"Bearer {text}"})
    db.session.expire_all()
    assert db.session.get(ErpApiToken, token.id).last_used_at is not None


def test_token_commands(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["erp", "token", "create", "--name", "ERP production"])
    assert created.exit_code == 0, created.output
    text = created.output.split()[-1]
    assert text.startswith("erp_")
    prefix = text.split("_")[1]
    assert prefix in runner.invoke(args=["erp", "token", "list"]).output
    assert runner.invoke(args=["erp", "token", "revoke", prefix]).exit_code == 0
    assert "revoked" in runner.invoke(args=["erp", "token", "list"]).output
    assert runner.invoke(args=["erp", "token", "revoke", "nope"]).exit_code != 0


# Errors and the browser's rules ------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/nothing-here", 404), ("GET", "", 404), ("POST", "/events", 405),
    ("DELETE", "/accounts/R-1/credit-notes", 405), ("GET", "/payments/x/settlement", 405),
])
def test_unknown_urls_and_methods_answer_json(client, data, method, path, status):
    response = client.open(f"{API}{path}", method=method, headers=data.headers)
    assert response.status_code == status
    assert response.is_json and response.json["error"]
    anonymous = client.open(f"{API}{path}", method=method)
    assert anonymous.status_code in (401, 404, 405) and anonymous.is_json


@pytest.mark.parametrize(("body", "content_type", "status", "field"), [
    (b"{not json", "application/json", 400, None),
    (b"[]", "application/json", 400, "body"),
    (b'{"number": "A"}', "text/plain", 415, None),
    (b'{"number": "A\\u0000B", "amount": "1", "currency": "USD", "reason": "x", '
     b'"issued_on": "2026-11-01"}', "application/json", 400, "number"),
    (b'{"number": "A", "amount": "1", "currency": "USD", "reason": "x\\u0000", '
     b'"issued_on": "2026-11-01"}', "application/json", 400, "reason"),
    (b'{"number": "A", "amount": 1e400, "currency": "USD", "reason": "x", '
     b'"issued_on": "2026-11-01"}', "application/json", 400, "amount"),
    (b'{"number": "A", "amount": "99999999999999999999", "currency": "USD", "reason": "x", '
     b'"issued_on": "2026-11-01"}', "application/json", 400, "amount"),
    (b'{"number": "A", "amount": "1", "currency": "USD", "reason": "x", '
     b'"issued_on": "2026-02-30"}', "application/json", 400, "issued_on"),
])
def test_bad_bodies_get_4xx_json(client, data, body, content_type, status, field):
    response = client.post(f"{API}/accounts/{data.a.account.number}/credit-notes", data=body,
                           content_type=content_type, headers=data.headers)
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["fields"]
    assert count(CreditNote) == 0


def test_a_huge_body_is_413_json(client, data, app):
    body = b'{"x": "' + b"a" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}'
    response = client.post(f"{API}/accounts/{data.a.account.number}/credit-notes", data=body,
                           content_type="application/json", headers=data.headers)
    assert response.status_code == 413 and response.is_json


def test_the_openapi_document_is_public_and_describes_everything(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "Event.invoice.issued" in document["components"]["schemas"]
    operation = document["paths"]["/accounts/{account_number}/credit-notes"]["post"]
    assert {"201", "400", "401", "404", "409", "415", "422"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    amount = document["components"]["schemas"]["CreditNoteIn"]["properties"]["amount"]
    assert amount["type"] == "string"


@pytest.fixture
def csrf_app(app, search_index_dir, tmp_path_factory):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    sqlite = url.startswith("sqlite")
    if sqlite:
        url = f"sqlite:///{tmp_path_factory.mktemp('csrf-erp') / 'portal.sqlite3'}"
    application = create_app(make_config(url, search_index_dir, WTF_CSRF_ENABLED=True))
    application.test_client_class = IsolatedClient
    if sqlite:
        from flask_migrate import upgrade
        with application.app_context():
            upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_csrf_does_not_apply_and_a_session_never_authenticates(app, csrf_app):
    from app.accounts.models import Role
    from app.accounts.services import create_account, create_user
    from tests.conftest import PASSWORD
    with csrf_app.app_context():
        account = create_account(number="R-800001", legal_name="Csrf", country="US",
                                 region="WA", currency="USD")
        user = create_user(email="staff-csrf@example.test", name="Staff", password=PASSWORD,
                           role=Role.STAFF, account=None)
        _, text = create_token("ERP")
        db.session.commit()
        email = user.email
        try:
            client = csrf_app.test_client()
            url = f"{API}/accounts/{account.number}/credit-notes"
            response = client.post(url, json=credit_note(),
                                   headers={"Authorization": f"Bearer {text}"})
            assert response.status_code == 201, response.json
            assert "Set-Cookie" not in response.headers
            browser = csrf_app.test_client()
            login_page = browser.get("/login")
            assert login_page.status_code == 200
            signed_in = browser.post("/login", data={"email": email, "password": PASSWORD,
                                                     "csrf_token": _csrf(login_page)})
            assert signed_in.status_code == 303
            for method, path in (("GET", "/events"), ("POST", "/accounts/R-800001/credit-notes")):
                answer = browser.open(f"{API}{path}", method=method,
                                      json=credit_note(number="ERP-CN-2"))
                assert answer.status_code == 401 and answer.is_json
        finally:
            db.session.rollback()
            _clear_tables()


def _csrf(page) -> str:
    import re
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                     page.get_data(as_text=True)).group(1)


# Credit notes ------------------------------------------------------------------------------


def test_a_credit_note_credits_its_account_only(client, data):
    url = f"{API}/accounts/{data.a.account.number}/credit-notes"
    response = client.post(url, json=credit_note(), headers=data.headers)
    assert response.status_code == 201, response.json
    assert response.json["number"] == "ERP-CN-1"
    assert response.json["credit_balance"] == "25.00"
    note = db.session.scalar(select(CreditNote))
    assert note.account_id == data.a.account.id and note.amount == Decimal("25.00")
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.account_id == data.b.account.id, LedgerEntry.credit_note_id.is_not(None))
    ) == 0
    again = client.post(url, json=credit_note(amount="1.00"), headers=data.headers)
    assert again.status_code == 409
    other = client.post(f"{API}/accounts/{data.b.account.number}/credit-notes",
                        json=credit_note(), headers=data.headers)
    assert other.status_code == 409
    assert count(CreditNote) == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"amount": "0"}, "amount"), ({"amount": "-1.00"}, "amount"), ({"amount": "1.005"}, "amount"),
    ({"amount": 12.5}, "amount"), ({"currency": "CAD"}, "currency"), ({"reason": ""}, "reason"),
    ({"number": "CN-2026-000001"}, "number"), ({"number": "a b"}, "number"),
    ({"issued_on": "01/11/2026"}, "issued_on"), ({"extra": 1}, "extra"),
])
def test_credit_note_field_errors(client, data, changes, field):
    response = client.post(f"{API}/accounts/{data.a.account.number}/credit-notes",
                           json=credit_note(**changes), headers=data.headers)
    assert response.status_code == 400
    assert set(response.json["fields"]) == {field}
    assert count(CreditNote) == 0


def test_credit_note_for_an_unknown_account_is_404(client, data):
    response = client.post(f"{API}/accounts/R-000000/credit-notes", json=credit_note(),
                           headers=data.headers)
    assert response.status_code == 404 and response.is_json


# ACH settlement and returns ----------------------------------------------------------------


def test_settlement_then_repeat_then_return(client, data):
    settle = f"{API}/payments/{data.ach.reference}/settlement"
    first = client.post(settle, json={"settled_on": "2026-11-05"}, headers=data.headers)
    assert first.status_code == 200 and first.json["changed"] is True
    assert first.json["status"] == "succeeded"
    events = count(OutboxEvent)
    repeat = client.post(settle, json={"settled_on": "2026-11-05"}, headers=data.headers)
    assert repeat.status_code == 200 and repeat.json["changed"] is False
    assert count(OutboxEvent) == events
    returned = client.post(f"{API}/payments/{data.ach.reference}/return",
                           json={"return_code": "R02", "returned_on": "2026-11-06"},
                           headers=data.headers)
    assert returned.status_code == 200 and returned.json["method_disabled"] is True
    db.session.expire_all()
    invoice = db.session.get(Invoice, data.a.invoices[0].id)
    assert invoice.amount_paid == Decimal("0.00")
    assert db.session.get(PaymentMethod, data.ach.method_id).status.value == "disabled"
    assert db.session.scalar(select(OutboxEvent.event_type).order_by(OutboxEvent.id.desc())
                             .limit(1)) in ("payment.returned", "payment_method.disabled")
    assert check_all() == []
    again = client.post(f"{API}/payments/{data.ach.reference}/return",
                        json={"return_code": "R02", "returned_on": "2026-11-06"},
                        headers=data.headers)
    assert again.status_code == 200 and again.json["changed"] is False
    other_code = client.post(f"{API}/payments/{data.ach.reference}/return",
                             json={"return_code": "R01", "returned_on": "2026-11-06"},
                             headers=data.headers)
    assert other_code.status_code == 409
    late_settle = client.post(settle, json={"settled_on": "2026-11-07"}, headers=data.headers)
    assert late_settle.status_code == 409


def test_an_r01_return_keeps_the_bank_account(client, data):
    response = client.post(f"{API}/payments/{data.ach.reference}/return",
                           json={"return_code": "R01", "returned_on": "2026-11-03"},
                           headers=data.headers)
    assert response.status_code == 200 and response.json["method_disabled"] is False
    db.session.expire_all()
    assert db.session.get(PaymentMethod, data.ach.method_id).status.value == "verified"


@pytest.mark.parametrize("action", ["settlement", "return"])
def test_card_payments_and_unknown_references(client, data, action):
    body = {"settled_on": "2026-11-05"} if action == "settlement" else \
        {"return_code": "R01", "returned_on": "2026-11-05"}
    card = client.post(f"{API}/payments/{data.card.reference}/{action}", json=body,
                       headers=data.headers)
    assert card.status_code == 409 and "ACH" in card.json["message"]
    unknown = client.post(f"{API}/payments/PAY-NOPE/{action}", json=body, headers=data.headers)
    assert unknown.status_code == 404
    bad = client.post(f"{API}/payments/{data.ach.reference}/{action}",
                      json={**body, **({"settled_on": "2020-01-01"} if action == "settlement"
                                       else {"return_code": "X1"})}, headers=data.headers)
    assert bad.status_code == 400
    db.session.expire_all()
    assert db.session.get(type(data.ach), data.ach.id).status == PaymentStatus.PROCESSING


# Invoices issued in the ERP ----------------------------------------------------------------


def test_an_erp_invoice_is_issued_with_its_lines_and_event(client, data):
    data.a.account.auto_apply_credit = True
    db.session.commit()
    client.post(f"{API}/accounts/{data.a.account.number}/credit-notes",
                json=credit_note(amount="10.00"), headers=data.headers)
    response = client.post(f"{API}/accounts/{data.a.account.number}/invoices",
                           json=erp_invoice(), headers=data.headers)
    assert response.status_code == 201, response.json
    assert response.json["credit_applied"] == "10.00"
    assert response.json["balance_due"] == "17.52"
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "ERP-INV-1"))
    assert invoice.bill_to_name == data.a.account.legal_name
    assert invoice.total == Decimal("27.52")
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine).where(
        InvoiceLine.invoice_id == invoice.id)) == 2
    issued = db.session.scalar(select(OutboxEvent).where(
        OutboxEvent.event_type == "invoice.issued").order_by(OutboxEvent.id.desc()).limit(1))
    assert issued.payload["invoice_number"] == "ERP-INV-1"
    assert check_all() == []
    result = app_cli(client).invoke(args=["billing", "check"])
    assert result.exit_code == 0, result.output
    duplicate = client.post(f"{API}/accounts/{data.b.account.number}/invoices",
                            json=erp_invoice(), headers=data.headers)
    assert duplicate.status_code == 409


def app_cli(client):
    return client.application.test_cli_runner()


@pytest.mark.parametrize(("changes", "field"), [
    ({"total": "27.53"}, "total"), ({"subtotal": "25.00"}, "subtotal"), ({"tax": "2.00"}, "tax"),
    ({"currency": "CAD"}, "currency"), ({"due_date": "2026-10-01"}, "due_date"),
    ({"period": "2026-13"}, "period"), ({"lines": []}, "lines"),
    ({"number": "INV-2026-000001"}, "number"),
])
def test_erp_invoice_field_errors(client, data, changes, field):
    before = (count(Invoice), count(OutboxEvent))
    response = client.post(f"{API}/accounts/{data.a.account.number}/invoices",
                           json=erp_invoice(**changes), headers=data.headers)
    assert response.status_code == 400, response.json
    assert field in response.json["fields"]
    assert (count(Invoice), count(OutboxEvent)) == before


def test_erp_invoice_line_that_does_not_multiply_names_the_line(client, data):
    body = erp_invoice()
    body["lines"][0]["amount"] = "30.00"
    response = client.post(f"{API}/accounts/{data.a.account.number}/invoices", json=body,
                           headers=data.headers)
    assert response.status_code == 400
    assert "lines.0.amount" in response.json["fields"]


# Subscriptions -----------------------------------------------------------------------------


def test_subscription_change_in_the_past_is_recorded(client, data):
    url = (f"{API}/accounts/{data.a.account.number}/subscriptions/"
           f"{data.a.subscription.id}/changes")
    response = client.post(url, json={"effective_date": "2026-02-10", "unit_price": "11.00"},
                           headers=data.headers)
    assert response.status_code == 201, response.json
    assert response.json["quantity"] == data.a.subscription.quantity
    change = db.session.scalar(select(SubscriptionChange))
    assert change.unit_price == Decimal("11.00")


@pytest.mark.parametrize(("body", "field"), [
    ({"effective_date": "2025-12-01", "quantity": 3}, "effective_date"),
    ({"effective_date": "2026-02-10"}, "quantity"),
    ({"effective_date": "2026-02-10", "quantity": -1}, "quantity"),
    ({"effective_date": "2026-02-10", "quantity": 2**40}, "quantity"),
    ({"effective_date": "2026-02-10", "quantity": "3"}, "quantity"),
])
def test_subscription_change_field_errors(client, data, body, field):
    url = (f"{API}/accounts/{data.a.account.number}/subscriptions/"
           f"{data.a.subscription.id}/changes")
    response = client.post(url, json=body, headers=data.headers)
    assert response.status_code == 400 and field in response.json["fields"]
    assert count(SubscriptionChange) == 0


def test_another_accounts_subscription_is_404(client, data):
    for action, body in (("changes", {"effective_date": "2026-02-10", "quantity": 1}),
                         ("cancellation", {"last_day": "2026-10-31"})):
        url = (f"{API}/accounts/{data.b.account.number}/subscriptions/"
               f"{data.a.subscription.id}/{action}")
        assert client.post(url, json=body, headers=data.headers).status_code == 404
    db.session.expire_all()
    assert db.session.get(type(data.a.subscription), data.a.subscription.id).end_date is None


def test_cancellation(client, data):
    url = (f"{API}/accounts/{data.a.account.number}/subscriptions/"
           f"{data.a.subscription.id}/cancellation")
    early = client.post(url, json={"last_day": "2025-01-01"}, headers=data.headers)
    assert early.status_code == 400 and "last_day" in early.json["fields"]
    response = client.post(url, json={"last_day": "2026-10-31"}, headers=data.headers)
    assert response.status_code == 200 and response.json["status"] == "cancelled"


# Nothing half-applied ----------------------------------------------------------------------


def test_a_failure_mid_request_leaves_nothing(client, data, monkeypatch):
    from app.billing import erp_invoices

    def explode(invoice):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(erp_invoices, "auto_apply_credit", explode)
    before = (count(Invoice), count(InvoiceLine), count(OutboxEvent))
    response = client.post(f"{API}/accounts/{data.a.account.number}/invoices",
                           json=erp_invoice(), headers={**data.headers,
                                                        "Idempotency-Key": "k-fail"})
    assert response.status_code == 500 and response.is_json
    assert (count(Invoice), count(InvoiceLine), count(OutboxEvent)) == before
    assert count(IdempotencyRecord) == 0


# Idempotency-Key ---------------------------------------------------------------------------


def test_the_same_key_replays_and_another_request_is_refused(client, data):
    url = f"{API}/accounts/{data.a.account.number}/credit-notes"
    headers = {**data.headers, "Idempotency-Key": "erp-42"}
    first = client.post(url, json=credit_note(), headers=headers)
    replay = client.post(url, json=credit_note(), headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json == first.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(CreditNote) == 1
    other = client.post(url, json=credit_note(amount="2.00"), headers=headers)
    assert other.status_code == 422 and other.is_json
    assert count(CreditNote) == 1


def test_an_error_is_replayed_too_and_keys_are_per_token(client, data):
    url = f"{API}/accounts/{data.a.account.number}/credit-notes"
    headers = {**data.headers, "Idempotency-Key": "erp-43"}
    first = client.post(url, json=credit_note(currency="CAD"), headers=headers)
    assert first.status_code == 400
    replay = client.post(url, json=credit_note(currency="CAD"), headers=headers)
    assert replay.status_code == 400 and replay.headers["Idempotent-Replayed"] == "true"
    _, other_token = create_token("second ERP")
    db.session.commit()
    fresh = client.post(url, json=credit_note(), headers={
        "Authorization": f"Bearer {other_token}", "Idempotency-Key": "erp-43"})
    assert fresh.status_code == 201


@pytest.mark.parametrize("key", ["", " x", "x" * 256, "é", "a\tb"])
def test_a_malformed_key_is_400(client, data, key):
    response = client.post(f"{API}/accounts/{data.a.account.number}/credit-notes",
                           json=credit_note(), headers={**data.headers,
                                                        "Idempotency-Key": key})
    assert response.status_code == 400 and count(CreditNote) == 0


def test_expired_keys_are_purged(client, data, app):
    from datetime import timedelta

    from app.erp.api.idempotency import KEY_LIFETIME, purge_expired_keys
    client.post(f"{API}/accounts/{data.a.account.number}/credit-notes", json=credit_note(),
                headers={**data.headers, "Idempotency-Key": "old"})
    record = db.session.scalar(select(IdempotencyRecord))
    record.created_at -= KEY_LIFETIME + timedelta(minutes=1)
    db.session.commit()
    assert purge_expired_keys() == 1


# The pull feed -----------------------------------------------------------------------------


def test_the_feed_pages_in_order_with_a_cursor(client, data):
    total = count(OutboxEvent)
    assert total >= 6
    seen, cursor = [], 0
    while True:
        page = client.get(f"{API}/events?after={cursor}&limit=4", headers=data.headers).json
        seen += [event["id"] for event in page["events"]]
        assert len(page["events"]) <= 4
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    ids = list(db.session.scalars(select(OutboxEvent.event_id).order_by(OutboxEvent.id)))
    assert seen == ids
    last = client.get(f"{API}/events?after={page['next_cursor']}", headers=data.headers).json
    assert last["events"] == [] and last["next_cursor"] == page["next_cursor"]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "after=-1", "after=x",
                                   "after=99999999999999999999", "limit=1.5"])
def test_feed_query_errors(client, data, query):
    response = client.get(f"{API}/events?{query}", headers=data.headers)
    assert response.status_code == 400 and response.json["fields"]
