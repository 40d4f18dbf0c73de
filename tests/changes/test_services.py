"""The change request lifecycle: drafts, submit, cancel, the ERP's acknowledge and decision,
and applying on the effective date; one draft and one open request per type; events, audit
entries and the timeline."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEvent
from app.changes import services
from app.changes.account_info import pending_changes, tax_certificates, update_billing_contact
from app.changes.models import ChangeRequest, ChangeStatus, ChangeType, Step
from app.events.models import OutboxEvent
from app.extensions import db
from tests.changes.conftest import TODAY, draft_of, stored_pdf, submitted


def events(kind: str) -> list[OutboxEvent]:
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == kind)
                                   .order_by(OutboxEvent.id)))


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def timeline(change: ChangeRequest) -> list[str]:
    db.session.refresh(change)
    return [event.what for event in change.events]


def in_state(status: ChangeStatus, user, kind=ChangeType.ADDRESS) -> ChangeRequest:
    """A request of `kind` brought to `status` through the services."""
    if status == ChangeStatus.DRAFT:
        return draft_of(kind, user)
    change = submitted(kind, user)
    if status == ChangeStatus.CANCELLED:
        services.cancel(change, user)
    elif status == ChangeStatus.IN_REVIEW:
        services.acknowledge_request(change)
    elif status == ChangeStatus.APPROVED:
        services.decide_request(change, approve=True, reason=None,
                                effective_date=TODAY + timedelta(days=30), today=TODAY)
    elif status == ChangeStatus.REJECTED:
        services.decide_request(change, approve=False, reason="Unreadable proof",
                                effective_date=None, today=TODAY)
    db.session.commit()
    assert change.status == status
    return change


# Drafts --------------------------------------------------------------------------------------

def test_a_draft_is_resumed_not_duplicated(admin):
    first = services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    again = services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    other_type = services.start_or_resume_draft(admin.account, ChangeType.TAX, admin)
    assert again.id == first.id != other_type.id
    assert first.reference == f"CR-{first.id:06d}"
    assert (first.status, first.step) == (ChangeStatus.DRAFT, Step.SCOPE)


def test_the_database_refuses_a_second_draft_of_a_type(admin):
    services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    db.session.commit()
    db.session.add(ChangeRequest(account_id=admin.account_id, type=ChangeType.ADDRESS,
                                 status=ChangeStatus.DRAFT, parts=[], proposed={},
                                 previous={}))
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_invalid_values_are_kept_in_the_draft_with_their_errors(admin):
    draft = services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    services.choose_parts(draft, ["address"])
    typed = {"line1": "500 Pine Street", "line2": "", "city": "Spokane", "region": "WA",
             "postal_code": "9920"}
    errors = services.save_values(draft, typed)
    assert set(errors) == {"postal_code"}
    assert draft.proposed == typed  # nothing typed is lost
    assert draft.step == Step.VALUES  # it does not move on
    assert services.save_values(draft, {**typed, "postal_code": "99201"}) == {}
    assert draft.step == Step.DOCUMENTS


@pytest.mark.parametrize(("kind", "parts", "values", "field"), [
    (ChangeType.LEGAL_NAME, ["legal_name"], {"legal_name": ""}, "legal_name"),
    (ChangeType.ADDRESS, ["address"], {"line1": "1 Main Street", "line2": "", "city": "Seattle",
                                       "region": "WA", "postal_code": "98101"}, "line1"),
    (ChangeType.TAX, ["tax_id"], {"tax_id": "91-1144442"}, "tax_id"),
    (ChangeType.TAX, ["tax_exempt"], {"tax_exempt": "no"}, "tax_exempt"),
])
def test_a_value_that_changes_nothing_is_an_error(admin, kind, parts, values, field):
    draft = services.start_or_resume_draft(admin.account, kind, admin)
    services.choose_parts(draft, parts)
    assert field in services.save_values(draft, values)


def test_tax_requires_one_part_at_least(admin):
    draft = services.start_or_resume_draft(admin.account, ChangeType.TAX, admin)
    assert services.choose_parts(draft, []) == {"parts": "Choose at least one thing to change."}
    assert services.choose_parts(draft, ["tax_id", "bogus"]) == {}
    assert draft.parts == ["tax_id"]


@pytest.mark.parametrize(("kind", "parts", "values", "needs_document"), [
    (ChangeType.LEGAL_NAME, ["legal_name"], {"legal_name": "New Name LLC"}, True),
    (ChangeType.ADDRESS, ["address"], {"line1": "2 Pine St", "line2": "", "city": "Seattle",
                                       "region": "WA", "postal_code": "98101"}, False),
    (ChangeType.TAX, ["tax_exempt"], {"tax_exempt": "yes"}, True),
    (ChangeType.TAX, ["tax_id"], {"tax_id": "04-2103594"}, False),
])
def test_which_requests_need_a_document(admin, kind, parts, values, needs_document):
    draft = services.start_or_resume_draft(admin.account, kind, admin)
    services.choose_parts(draft, parts)
    assert services.save_values(draft, values) == {}
    assert services.documents_required(draft) is needs_document
    if needs_document:
        with pytest.raises(services.IncompleteRequest) as missing:
            services.finish_documents(draft)
        assert missing.value.step == Step.DOCUMENTS
    else:
        services.finish_documents(draft)
        assert draft.step == Step.REVIEW


# Submit --------------------------------------------------------------------------------------

def test_submit_snapshots_the_account_and_records_the_event_and_audit(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    assert change.status == ChangeStatus.SUBMITTED
    assert change.previous == {"line1": "1 Main Street", "line2": "", "city": "Seattle",
                               "region": "WA", "postal_code": "98101"}
    assert (change.submitted_by_id, change.submitted_ip) == (admin.id, "192.0.2.7")
    [event] = events("change_request.submitted")
    data = event.payload
    assert (data["reference"], data["change_type"], data["status"]) == (
        change.reference, "address", "submitted")
    assert data["changes"] == ["address_line1", "address_line2", "city", "region",
                               "postal_code"]
    assert (data["proposed_address_line1"], data["previous_address_line1"]) == (
        "500 Pine Street", "1 Main Street")
    assert (data["proposed_legal_name"], data["proposed_tax_exempt"]) == (None, None)
    assert data["submitted_by"] == admin.email and data["country"] == "US"
    [entry] = audits("change_request.submitted")
    assert (entry.actor_user_id, entry.details["reference"]) == (admin.id, change.reference)
    assert timeline(change) == ["draft", "submitted"]


def test_submitted_documents_travel_with_their_checksums(admin):
    change = submitted(ChangeType.LEGAL_NAME, admin)
    [document] = change.documents
    data = events("change_request.submitted")[0].payload
    assert (data["document_names"], data["document_sizes"], data["document_sha256"]) == (
        [document.filename], [document.size], [document.sha256])
    assert data["proposed_legal_name"] == "Northwind Cloud Holdings Inc."


@pytest.mark.parametrize("missing", ["values", "document", "attestation"])
def test_submit_refuses_an_incomplete_draft(admin, missing):
    draft = services.start_or_resume_draft(admin.account, ChangeType.LEGAL_NAME, admin)
    services.choose_parts(draft, ["legal_name"])
    if missing != "values":
        services.save_values(draft, {"legal_name": "New Name LLC"})
    if missing != "document":
        services.add_document(draft, stored_pdf(), admin)
    if missing != "attestation":
        services.attest(draft, admin)
    with pytest.raises(services.IncompleteRequest) as refused:
        services.submit(draft, admin, None)
    step = {"values": Step.VALUES, "document": Step.DOCUMENTS, "attestation": Step.REVIEW}
    assert refused.value.step == step[missing]
    assert draft.status == ChangeStatus.DRAFT and events("change_request.submitted") == []


def test_submitting_twice_makes_one_request(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    with pytest.raises(services.ChangeRequestStateError):
        services.submit(change, admin, None)
    assert len(events("change_request.submitted")) == 1


def test_one_open_request_per_type(admin):
    first = submitted(ChangeType.ADDRESS, admin)
    with pytest.raises(services.OpenRequestExists) as refused:
        services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    assert refused.value.request.id == first.id
    # Another type is fine at the same time.
    assert submitted(ChangeType.LEGAL_NAME, admin).status == ChangeStatus.SUBMITTED
    # And the database holds the rule too, whatever a service might do.
    db.session.add(ChangeRequest(account_id=admin.account_id, type=ChangeType.ADDRESS,
                                 status=ChangeStatus.IN_REVIEW, parts=[], proposed={},
                                 previous={}))
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_a_new_request_may_start_once_the_open_one_is_decided(admin):
    first = submitted(ChangeType.ADDRESS, admin)
    services.decide_request(first, approve=False, reason="Wrong ZIP", effective_date=None,
                            today=TODAY)
    db.session.commit()
    draft = services.start_or_resume_draft(admin.account, ChangeType.ADDRESS, admin)
    assert draft.id != first.id and draft.status == ChangeStatus.DRAFT


# Cancel --------------------------------------------------------------------------------------

def test_cancel_while_submitted(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    services.cancel(change, admin)
    assert change.status == ChangeStatus.CANCELLED
    [event] = events("change_request.cancelled")
    assert (event.payload["reference"], event.payload["cancelled_by"]) == (
        change.reference, admin.email)
    assert len(audits("change_request.cancelled")) == 1
    assert timeline(change)[-1] == "cancelled"


@pytest.mark.parametrize("status", [ChangeStatus.DRAFT, ChangeStatus.IN_REVIEW,
                                    ChangeStatus.APPROVED, ChangeStatus.REJECTED,
                                    ChangeStatus.CANCELLED])
def test_cancel_only_while_submitted(admin, status):
    change = in_state(status, admin)
    with pytest.raises(services.ChangeRequestStateError):
        services.cancel(change, admin)
    assert change.status == status


# The ERP's side ------------------------------------------------------------------------------

def test_acknowledge_is_idempotent(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    services.acknowledge_request(change, note="Queued for the tax team")
    services.acknowledge_request(change)
    assert change.status == ChangeStatus.IN_REVIEW
    assert len(events("change_request.in_review")) == 1
    assert timeline(change) == ["draft", "submitted", "in_review"]
    assert change.events[-1].note == "Queued for the tax team"


@pytest.mark.parametrize("status", [ChangeStatus.DRAFT, ChangeStatus.APPROVED,
                                    ChangeStatus.REJECTED, ChangeStatus.CANCELLED])
def test_acknowledge_refuses_other_states(admin, status):
    with pytest.raises(services.ChangeRequestStateError):
        services.acknowledge_request(in_state(status, admin))


@pytest.mark.parametrize("status", [ChangeStatus.DRAFT, ChangeStatus.APPROVED,
                                    ChangeStatus.REJECTED, ChangeStatus.CANCELLED])
def test_decide_refuses_other_states(admin, status):
    change = in_state(status, admin)
    with pytest.raises(services.ChangeRequestStateError):
        services.decide_request(change, approve=True, reason=None, effective_date=None,
                                today=TODAY)


def test_find_request_never_finds_a_draft(admin):
    draft = draft_of(ChangeType.ADDRESS, admin)
    assert services.find_request(draft.reference) is None
    change = services.submit(draft, admin, None)
    assert services.find_request(change.reference) is change
    assert services.find_request("CR-999999") is None


def test_a_rejection_needs_a_reason(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    with pytest.raises(services.ChangeRequestError):
        services.decide_request(change, approve=False, reason="  ", effective_date=None,
                                today=TODAY)
    services.decide_request(change, approve=False, reason="The ZIP code is not the city's",
                            effective_date=None, today=TODAY)
    assert (change.status, change.decision_reason) == (ChangeStatus.REJECTED,
                                                       "The ZIP code is not the city's")
    assert events("change_request.rejected")[0].payload["reason"] == change.decision_reason
    assert admin.account.address_line1 == "1 Main Street"


def test_deciding_a_submitted_request_acknowledges_it_first(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    services.decide_request(change, approve=True, reason=None, effective_date=None,
                            today=TODAY)
    assert timeline(change) == ["draft", "submitted", "in_review", "approved", "applied"]
    assert change.effective_date == TODAY
    assert [e.event_type for e in db.session.scalars(select(OutboxEvent)
                                                      .order_by(OutboxEvent.id))] == [
        "change_request.submitted", "change_request.in_review", "change_request.approved",
        "change_request.applied"]


@pytest.mark.parametrize("kind", list(ChangeType))
def test_an_approval_effective_today_applies_at_once(admin, kind):
    change = submitted(kind, admin)
    services.decide_request(change, approve=True, reason=None, effective_date=TODAY,
                            today=TODAY)
    account = admin.account
    db.session.refresh(account)
    expected = {
        ChangeType.LEGAL_NAME: ("legal_name", "Northwind Cloud Holdings Inc."),
        ChangeType.ADDRESS: ("address_lines", ["500 Pine Street", "Floor 3",
                                               "Spokane WA 99201", "US"]),
        ChangeType.TAX: ("tax_exempt", True),
    }[kind]
    assert getattr(account, expected[0]) == expected[1]
    assert change.applied_at is not None
    assert len(events("change_request.applied")) == 1


def test_a_future_approval_applies_on_its_effective_date_once(admin):
    change = submitted(ChangeType.ADDRESS, admin)
    effective = TODAY + timedelta(days=5)
    services.decide_request(change, approve=True, reason=None, effective_date=effective,
                            today=TODAY)
    db.session.commit()
    assert admin.account.city == "Seattle" and change.applied_at is None
    assert pending_changes(admin.account_id)[ChangeType.ADDRESS].text == (
        "Approved — takes effect on Apr 15, 2026")
    assert services.apply_due_changes(effective - timedelta(days=1)) == 0
    assert services.apply_due_changes(effective) == 1
    assert services.apply_due_changes(effective) == 0
    assert services.apply_due_changes(effective + timedelta(days=40)) == 0
    db.session.refresh(admin.account)
    assert admin.account.city == "Spokane"
    assert len(events("change_request.applied")) == 1
    assert ChangeType.ADDRESS not in pending_changes(admin.account_id)


def test_giving_up_exemption_and_certificates(admin):
    claim = submitted(ChangeType.TAX, admin)
    services.decide_request(claim, approve=True, reason=None, effective_date=None, today=TODAY)
    db.session.commit()
    assert [d.id for d in tax_certificates(admin.account)] == [claim.documents[0].id]
    give_up = submitted(ChangeType.TAX, admin, values={"tax_exempt": "no"})
    assert give_up.documents == []  # no certificate needed to give it up
    services.decide_request(give_up, approve=True, reason=None, effective_date=None,
                            today=TODAY)
    assert admin.account.tax_exempt is False
    assert tax_certificates(admin.account) == []


def test_every_action_is_audited_with_who(admin):
    change = submitted(ChangeType.LEGAL_NAME, admin)
    services.decide_request(change, approve=True, reason=None, effective_date=None,
                            today=TODAY)
    db.session.commit()
    actions = {entry.action: entry.actor_name for entry in db.session.scalars(
        select(AuditEvent).where(AuditEvent.account_id == admin.account_id))}
    assert actions == {
        "change_request.started": admin.email, "change_request.document_added": admin.email,
        "change_request.attested": admin.email, "change_request.submitted": admin.email,
        "change_request.in_review": "ERP", "change_request.approved": "ERP",
        "change_request.applied": "Partner Portal",
    }


# Billing contact -----------------------------------------------------------------------------

def test_the_billing_contact_changes_at_once(admin):
    account = admin.account
    assert update_billing_contact(account, name="Ann Payable", email="ap@example.test",
                                  phone="", user=admin)
    assert (account.billing_contact_name, account.billing_contact_phone) == ("Ann Payable",
                                                                             None)
    assert not update_billing_contact(account, name="Ann Payable", email="ap@example.test",
                                      phone=None, user=admin)
    [event] = events("account.billing_contact_changed")
    assert (event.payload["email"], event.payload["changed_by"]) == ("ap@example.test",
                                                                     admin.email)
    assert len(audits("account.billing_contact_changed")) == 1


def test_requests_count_per_account(admin, factory):
    other = factory.user(account=factory.account())
    submitted(ChangeType.ADDRESS, admin)
    submitted(ChangeType.ADDRESS, other)
    assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 2
