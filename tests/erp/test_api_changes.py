"""Change requests through the ERP API: read a submitted request and download its documents,
acknowledge it, decide it (approve with an effective date, reject with a reason), the errors
and states that refuse, Idempotency-Key on a decision, and the stand-in ERP answering a real
request through the API end to end."""

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.accounts.models import Account, Role
from app.changes import services
from app.changes.models import ChangeRequest, ChangeStatus, ChangeType
from app.erp.simulate import REJECTION_REASON, Decision, StandInErp
from app.erp.tokens import create_token
from app.events.models import OutboxEvent
from app.extensions import db
from tests.changes.conftest import PDF, submitted
from tests.erp.api_helpers import API
from tests.erp.receiver import SECRET

NEW_ADDRESS = {"line1": "500 Pine Street", "line2": "Floor 3", "city": "Spokane",
               "region": "WA", "postal_code": "99201"}


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    previous = app.config.get("DOCUMENTS_DIR")
    app.config["DOCUMENTS_DIR"] = tmp_path / "documents"
    yield
    app.config["DOCUMENTS_DIR"] = previous


@pytest.fixture
def admin(factory):
    account = factory.account(address_line1="1 Main Street", city="Seattle",
                              postal_code="98101", tax_id="91-1144442")
    return factory.user(Role.ADMIN, account=account)


@pytest.fixture
def headers(app) -> dict[str, str]:
    _, text = create_token("ERP tests")
    db.session.commit()
    return {"Authorization": f"Bearer {text}"}


def post(client, path: str, headers: dict, body: dict, **extra):
    return client.post(f"{API}{path}", json=body, headers={**headers, **extra})


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def test_a_submitted_request_reads_with_its_documents(client, admin, headers):
    change = submitted(ChangeType.LEGAL_NAME, admin)
    response = client.get(f"{API}/change-requests/{change.reference}", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["reference"], body["type"], body["status"], body["account_number"]) == (
        change.reference, "legal_name", "submitted", admin.account.number)
    assert body["proposed"] == {"legal_name": "Northwind Cloud Holdings Inc."}
    assert body["previous"] == {"legal_name": admin.account.legal_name}
    assert body["submitted_by"] == admin.email
    [document] = body["documents"]
    assert (document["filename"], document["content_type"], document["size"]) == (
        "certificate.pdf", "application/pdf", len(PDF))
    download = client.get(document["download"], headers=headers)
    assert download.status_code == 200
    assert download.data == PDF and download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Cache-Control"] == "no-store"
    assert client.get(document["download"]).status_code == 401


def test_drafts_unknown_references_and_other_requests_documents_are_404(client, admin,
                                                                          headers, factory):
    draft = services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    db.session.commit()
    other = submitted(ChangeType.LEGAL_NAME, factory.user(Role.ADMIN))
    change = submitted(ChangeType.LEGAL_NAME, admin)
    for path in (f"/change-requests/{draft.reference or 'CR-999999'}",
                 "/change-requests/CR-999999",
                 f"/change-requests/{change.reference}/documents/{other.documents[0].id}"):
        response = client.get(f"{API}{path}", headers=headers)
        assert response.status_code == 404 and response.is_json, path


def test_acknowledge_then_approve_applies_the_address(client, admin, headers):
    change = submitted(ChangeType.ADDRESS, admin)
    path = f"/change-requests/{change.reference}"
    first = post(client, f"{path}/acknowledge", headers, {"note": "Queued for review."})
    again = post(client, f"{path}/acknowledge", headers, {})
    assert (first.status_code, first.json["status"]) == (200, "in_review")
    assert (again.status_code, again.json["status"]) == (200, "in_review")
    assert [entry["what"] for entry in again.json["timeline"]].count("in_review") == 1
    decided = post(client, f"{path}/decision", headers, {"decision": "approve"})
    assert decided.status_code == 200, decided.json
    assert decided.json["status"] == "approved" and decided.json["applied_at"]
    account = fresh(Account, admin.account_id)
    assert (account.address_line1, account.city, account.postal_code) == (
        "500 Pine Street", "Spokane", "99201")
    refused = post(client, f"{path}/decision", headers, {"decision": "reject",
                                                         "reason": "Changed our mind."})
    assert refused.status_code == 409 and "only a request in review" in refused.json["message"]


def test_an_approval_in_the_future_waits_for_its_day(client, admin, headers):
    change = submitted(ChangeType.ADDRESS, admin)
    later = date.today() + timedelta(days=30)
    response = post(client, f"/change-requests/{change.reference}/decision", headers,
                    {"decision": "approve", "effective_date": later.isoformat()})
    assert response.status_code == 200
    assert (response.json["status"], response.json["effective_date"],
            response.json["applied_at"]) == ("approved", later.isoformat(), None)
    assert fresh(Account, admin.account_id).address_line1 == "1 Main Street"
    assert services.apply_due_changes(later) == 1


def test_a_rejection_needs_its_reason_and_keeps_the_account(client, admin, headers):
    change = submitted(ChangeType.ADDRESS, admin)
    path = f"/change-requests/{change.reference}/decision"
    no_reason = post(client, path, headers, {"decision": "reject", "reason": "  "})
    assert no_reason.status_code == 400
    assert set(no_reason.json["fields"]) == {"reason"}
    dated = post(client, path, headers, {"decision": "reject", "reason": "No.",
                                         "effective_date": "2026-12-01"})
    assert dated.status_code == 400 and set(dated.json["fields"]) == {"effective_date"}
    assert fresh(ChangeRequest, change.id).status == ChangeStatus.SUBMITTED
    rejected = post(client, path, headers, {"decision": "reject",
                                            "reason": "The lease is not signed."})
    assert (rejected.status_code, rejected.json["status"],
            rejected.json["decision_reason"]) == (200, "rejected", "The lease is not signed.")
    assert fresh(Account, admin.account_id).address_line1 == "1 Main Street"


@pytest.mark.parametrize("body", [{"decision": "maybe"}, {}, {"decision": "approve",
                                                              "effective_date": "2026-02-30"}])
def test_decision_field_errors(client, admin, headers, body):
    change = submitted(ChangeType.ADDRESS, admin)
    response = post(client, f"/change-requests/{change.reference}/decision", headers, body)
    assert response.status_code == 400 and response.json["fields"]


def test_a_cancelled_request_cannot_be_acknowledged(client, admin, headers):
    change = submitted(ChangeType.ADDRESS, admin)
    services.cancel(change, admin)
    db.session.commit()
    response = post(client, f"/change-requests/{change.reference}/acknowledge", headers, {})
    assert response.status_code == 409 and response.is_json


def test_a_decision_retried_with_its_key_has_one_effect(client, admin, headers):
    change = submitted(ChangeType.ADDRESS, admin)
    path = f"/change-requests/{change.reference}/decision"
    events = db.session.scalar(select(func.count()).select_from(OutboxEvent))
    first = post(client, path, headers, {"decision": "approve"}, **{"Idempotency-Key": "d-1"})
    retry = post(client, path, headers, {"decision": "approve"}, **{"Idempotency-Key": "d-1"})
    assert first.status_code == retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.json == first.json
    db.session.expire_all()
    # in review, approved, applied: three events, once
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == events + 3


@pytest.mark.parametrize("approve", [True, False])
def test_the_stand_in_erp_answers_a_request_through_the_api(app, admin, headers, approve):
    change = submitted(ChangeType.ADDRESS, admin)
    api = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://portal.test",
                       headers=headers)
    erp = StandInErp(api, SECRET, Decision(approve=approve, delay=0), log=lambda line: None,
                     sleep=lambda seconds: None)
    erp.server.server_close()
    erp.handle({"id": "evt_9", "type": "change_request.submitted",
                "account_number": admin.account.number,
                "data": {"reference": change.reference}})
    request = fresh(ChangeRequest, change.id)
    assert request.status == (ChangeStatus.APPROVED if approve else ChangeStatus.REJECTED)
    assert [event.what for event in request.events][-3:] == (
        ["in_review", "approved", "applied"] if approve else
        ["submitted", "in_review", "rejected"])
    assert request.decision_reason == (None if approve else REJECTION_REASON)
    expected = NEW_ADDRESS["line1"] if approve else "1 Main Street"
    assert fresh(Account, admin.account_id).address_line1 == expected
