"""The account page and change request pages: every URL as every role (admin, billing, viewer,
staff, anonymous, a second tenant's admin), page and htmx fragment; uploads, downloads, the
steps' errors, re-authentication before submit and a double submit."""

import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.accounts import services as account_services
from app.accounts.models import Role, UserSession
from app.changes import services
from app.changes.documents import MAX_DOCUMENT_BYTES
from app.changes.models import ChangeRequest, ChangeStatus, ChangeType
from app.extensions import db
from tests.changes.conftest import PDF, PNG, draft_of, submitted
from tests.conftest import sign_in

HX = {"HX-Request": "true"}
ROLES = ("admin", "billing", "viewer", "staff", "anonymous", "other")


@pytest.fixture
def world(factory, admin):
    """The admin's account with a submitted address request (and its document), a legal name
    draft, users of every role; a second tenant with its own admin; staff."""
    account = admin.account
    change = submitted(ChangeType.LEGAL_NAME, admin)
    draft = draft_of(ChangeType.ADDRESS, admin)

    class World:
        pass

    World.account, World.change, World.draft = account, change, draft
    World.document = change.documents[0]
    World.users = {
        "admin": admin,
        "billing": factory.user(Role.BILLING, account=account),
        "viewer": factory.user(Role.VIEWER, account=account),
        "staff": factory.user(Role.STAFF),
        "other": factory.user(Role.ADMIN, account=factory.account(legal_name="Other Tenant")),
    }
    return World


def as_role(client, world, role):
    """A new client signed in as `role`."""
    client = client.application.test_client()
    if role != "anonymous":
        assert sign_in(client, world.users[role]).status_code == 303
    return client


def reauthenticate(client, user):
    token = db.session.scalar(select(UserSession.token).where(UserSession.user_id == user.id))
    account_services.record_reauthentication(token)
    db.session.commit()


# Every URL × every role ----------------------------------------------------------------------

READ = {"admin": 200, "billing": 200, "viewer": 200, "staff": 403, "anonymous": 302,
        "other": 404}
READ_OWN = {**READ, "other": 200}
ADMIN = {"admin": 200, "billing": 403, "viewer": 403, "staff": 403, "anonymous": 302,
         "other": 404}
ADMIN_OWN = {**ADMIN, "other": 200}

PAGES = [
    ("/account", READ_OWN),
    ("/account/changes", READ_OWN),
    ("/account/changes/{change}", READ),
    ("/account/changes/{draft}", READ),
    ("/account/changes/{change}/documents/{document}", READ),
    ("/account/changes/new?type=tax", ADMIN_OWN),
    ("/account/billing-contact", ADMIN_OWN),
    ("/account/changes/{draft}/what-changes", ADMIN),
    ("/account/changes/{draft}/values", ADMIN),
    ("/account/changes/{draft}/documents", ADMIN),
    ("/account/changes/{draft}/review", ADMIN),
    ("/account/changes/{change}/cancel", ADMIN),
]


@pytest.mark.parametrize("fragment", [False, True], ids=["page", "fragment"])
@pytest.mark.parametrize(("url", "expected"), PAGES, ids=[url for url, _ in PAGES])
def test_every_page_as_every_role(client, world, url, expected, fragment):
    url = url.format(change=world.change.id, draft=world.draft.id, document=world.document.id)
    for role in ROLES:
        response = as_role(client, world, role).get(url, headers=HX if fragment else {})
        status = expected[role]
        if role == "anonymous" and fragment:
            status = 401  # htmx is told to go to the sign-in page
        assert response.status_code == status, (role, response.status_code)
        body = response.get_data(as_text=True)
        if status == 200 and "/documents/" not in url:
            assert ("<!doctype html>" in body) is not fragment, role
            assert response.headers["Cache-Control"] == "no-store"
        if role in ("other", "staff", "anonymous"):
            assert world.account.legal_name not in body and world.change.reference not in body


POSTS = [
    "/account/billing-contact",
    "/account/changes/new?type=tax",
    "/account/changes/{draft}/what-changes",
    "/account/changes/{draft}/values",
    "/account/changes/{draft}/values/check?field=line1",
    "/account/changes/{draft}/documents",
    "/account/changes/{draft}/documents/upload",
    "/account/changes/{change_draft_doc}/documents/{draft_document}/remove",
    "/account/changes/{draft}/review",
    "/account/changes/{change}/cancel",
]


@pytest.mark.parametrize("url", POSTS)
@pytest.mark.parametrize("role", ["billing", "viewer", "staff"])
def test_only_an_admin_changes_anything(client, world, role, url):
    legal = draft_of(ChangeType.TAX, world.users["admin"])
    url = url.format(draft=world.draft.id, change=world.change.id,
                     change_draft_doc=legal.id, draft_document=legal.documents[0].id)
    before = db.session.scalar(select(func.count()).select_from(ChangeRequest))
    client = as_role(client, world, role)
    for headers in ({}, HX):
        response = client.post(url, data={"confirm": "y"}, headers=headers)
        assert response.status_code == 403
        if role != "staff":
            assert "Only an admin of your account" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == before
    db.session.expire_all()
    assert db.session.get(ChangeRequest, world.change.id).status == ChangeStatus.SUBMITTED


@pytest.mark.parametrize("url", POSTS)
def test_a_second_tenant_gets_404_for_the_first_tenants_requests(client, world, url):
    if "{" not in url:
        return
    legal = draft_of(ChangeType.TAX, world.users["admin"])
    url = url.format(draft=world.draft.id, change=world.change.id,
                     change_draft_doc=legal.id, draft_document=legal.documents[0].id)
    response = as_role(client, world, "other").post(url, data={"confirm": "y"})
    assert response.status_code == 404


def test_anonymous_posts_are_sent_to_sign_in(client, world):
    response = client.post(f"/account/changes/{world.change.id}/cancel")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# The flow ------------------------------------------------------------------------------------

def test_unknown_type_is_404(client, world):
    client = as_role(client, world, "admin")
    assert client.get("/account/changes/new?type=name").status_code == 404
    assert client.get("/account/changes/new").status_code == 404


def test_a_draft_is_resumed(client, world):
    client = as_role(client, world, "admin")
    response = client.get("/account/changes/new?type=address")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/account/changes/{world.draft.id}/review"
    response = client.get("/account/changes/new?type=address", headers=HX)
    assert response.headers["HX-Redirect"] == f"/account/changes/{world.draft.id}/review"


def test_an_open_request_of_the_type_is_named_with_a_link(client, world):
    client = as_role(client, world, "admin")
    response = client.get("/account/changes/new?type=legal-name")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'href="/account/changes/{world.change.id}"' in body
    assert "is submitted" in body
    assert client.post("/account/changes/new?type=legal-name").status_code == 409


def test_starting_an_address_change_goes_to_the_new_values(client, admin):
    sign_in(client, admin)
    page = client.get("/account/changes/new?type=address").get_data(as_text=True)
    assert ">Continue</button>" in page and "The country stays US" in page
    response = client.post("/account/changes/new?type=address")
    draft = db.session.scalar(select(ChangeRequest))
    assert response.headers["Location"] == f"/account/changes/{draft.id}/values"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<label class="field__label" for="region">State</label>' in page
    assert '<label class="field__label" for="postal_code">ZIP code</label>' in page
    assert 'hx-trigger="change, keyup changed delay:500ms"' in page
    assert '<option value="WA">Washington</option>' in page


def test_errors_are_next_to_their_fields_and_nothing_typed_is_lost(client, admin):
    sign_in(client, admin)
    client.post("/account/changes/new?type=address")
    draft = db.session.scalar(select(ChangeRequest))
    typed = {"line1": "500 Pine Street", "line2": "Floor 3", "city": "Spokane",
             "region": "WA", "postal_code": "9920x"}
    for headers in ({}, HX):
        response = client.post(f"/account/changes/{draft.id}/values", data=typed,
                               headers=headers)
        assert response.status_code == 422
        body = response.get_data(as_text=True)
        assert ('<p class="field__error" id="postal_code-error">' in body)
        assert re.search(r'aria-describedby="postal_code-error"[^>]*aria-invalid="true"|'
                         r'aria-invalid="true"[^>]*aria-describedby="postal_code-error"', body)
        assert 'value="9920x"' in body and 'value="500 Pine Street"' in body
        assert 'value="Floor 3"' in body and 'role="alert"' in body
        assert '<a href="#postal_code">' in body
    db.session.expire_all()
    assert db.session.get(ChangeRequest, draft.id).proposed["postal_code"] == "9920x"
    # Coming back later shows the same values and the same error.
    body = client.get(f"/account/changes/{draft.id}/values").get_data(as_text=True)
    assert 'value="9920x"' in body


def test_the_as_you_type_check_returns_the_field(client, admin):
    sign_in(client, admin)
    client.post("/account/changes/new?type=address")
    draft = db.session.scalar(select(ChangeRequest))
    response = client.post(f"/account/changes/{draft.id}/values/check?field=postal_code",
                           data={"postal_code": "123", "region": "WA"}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.strip().startswith('<div class="field')
    assert 'id="postal_code-error"' in body and "<!doctype" not in body
    good = client.post(f"/account/changes/{draft.id}/values/check?field=postal_code",
                       data={"postal_code": "99201", "region": "WA"}, headers=HX)
    assert "field__error" not in good.get_data(as_text=True)
    assert client.post(f"/account/changes/{draft.id}/values/check?field=legal_name",
                       data={}).status_code == 404


def upload(client, change_id, body: bytes, name: str, headers=None):
    """Upload a file; the body is encoded here so that a large one stays in memory (the test
    client would spool it to a temporary file it never closes)."""
    boundary, data = encode_multipart(
        MultiDict([("document", FileStorage(io.BytesIO(body), filename=name))]))
    return client.post(f"/account/changes/{change_id}/documents/upload", data=data,
                       content_type=f"multipart/form-data; boundary={boundary}",
                       headers=headers or {})


@pytest.fixture
def legal_draft(client, admin):
    sign_in(client, admin)
    draft = services.start_or_resume_draft(admin.account, ChangeType.LEGAL_NAME, admin)
    services.choose_parts(draft, ["legal_name"])
    services.save_values(draft, {"legal_name": "Renamed Holdings LLC"})
    db.session.commit()
    return draft


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_a_text_file_named_pdf_is_refused_next_to_the_field(client, legal_draft, headers):
    response = upload(client, legal_draft.id, b"just some text\n", "proof.pdf", headers)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert '<p class="field__error" id="document-error">' in body
    assert ("<!doctype html>" in body) is not bool(headers)
    assert legal_draft.documents == []


def test_a_file_over_the_limit_is_413_with_the_message(client, legal_draft):
    response = upload(client, legal_draft.id, PDF + b"0" * (MAX_DOCUMENT_BYTES + 1 - len(PDF)),
                      "big.pdf")
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert '<p class="field__error" id="document-error">' in body and "10 MB" in body
    db.session.expire_all()
    assert db.session.get(ChangeRequest, legal_draft.id).documents == []


@pytest.mark.parametrize("name", ["../../../etc/passwd.pdf", "..\\..\\boot.ini.pdf",
                                  "/absolute/path.png", "a\"b;c.png"])
def test_path_tricks_in_names_stay_a_name(client, legal_draft, documents_dir, name):
    response = upload(client, legal_draft.id, PNG, name)
    assert response.status_code == 303
    db.session.expire_all()
    [document] = db.session.get(ChangeRequest, legal_draft.id).documents
    assert "/" not in document.filename and "\\" not in document.filename
    assert [p.name for p in documents_dir.iterdir()] == [document.storage_key]
    download = client.get(f"/account/changes/{legal_draft.id}/documents/{document.id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "/" not in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_a_document_is_removed_with_its_file(client, legal_draft, documents_dir):
    upload(client, legal_draft.id, PDF, "proof.pdf")
    db.session.expire_all()
    [document] = db.session.get(ChangeRequest, legal_draft.id).documents
    response = client.post(
        f"/account/changes/{legal_draft.id}/documents/{document.id}/remove")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ChangeRequest, legal_draft.id).documents == []
    assert list(documents_dir.iterdir()) == []


def test_continue_without_a_required_document_says_so(client, legal_draft):
    response = client.post(f"/account/changes/{legal_draft.id}/documents")
    assert response.status_code == 422
    assert "certificate of name change" in response.get_data(as_text=True)


def test_a_document_of_another_request_is_404(client, world):
    client = as_role(client, world, "admin")
    other_request = submitted(ChangeType.TAX, world.users["other"])
    url = f"/account/changes/{world.change.id}/documents/{other_request.documents[0].id}"
    assert client.get(url).status_code == 404


def test_submit_asks_for_the_password_first_and_keeps_the_confirmation(client, world):
    client = as_role(client, world, "admin")
    url = f"/account/changes/{world.draft.id}/review"
    page = client.get(url).get_data(as_text=True)
    assert ">Submit request</button>" in page and "I confirm that" in page
    response = client.post(url, data={"confirm": "y"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/login/confirm?next={url}"
    db.session.expire_all()
    assert db.session.get(ChangeRequest, world.draft.id).status == ChangeStatus.DRAFT
    assert 'checked' in client.get(url).get_data(as_text=True)


def test_the_review_needs_the_box_ticked(client, world):
    client = as_role(client, world, "admin")
    reauthenticate(client, world.users["admin"])
    response = client.post(f"/account/changes/{world.draft.id}/review", data={})
    assert response.status_code == 422
    assert 'id="confirm-error"' in response.get_data(as_text=True)


def test_a_double_submit_makes_one_request(client, world):
    client = as_role(client, world, "admin")
    reauthenticate(client, world.users["admin"])
    url = f"/account/changes/{world.draft.id}/review"
    first = client.post(url, data={"confirm": "y"})
    second = client.post(url, data={"confirm": "y"}, headers=HX)
    assert first.headers["Location"] == f"/account/changes/{world.draft.id}"
    assert second.headers["HX-Redirect"] == f"/account/changes/{world.draft.id}"
    db.session.expire_all()
    assert db.session.get(ChangeRequest, world.draft.id).status == ChangeStatus.SUBMITTED
    assert len(db.session.get(ChangeRequest, world.draft.id).events) == 2


def test_cancel_while_submitted_then_no_more(client, world):
    client = as_role(client, world, "admin")
    url = f"/account/changes/{world.change.id}/cancel"
    assert ">Cancel request</button>" in client.get(url).get_data(as_text=True)
    assert client.post(url).status_code == 303
    db.session.expire_all()
    assert db.session.get(ChangeRequest, world.change.id).status == ChangeStatus.CANCELLED
    assert client.post(url).status_code == 409


def test_the_request_page_shows_the_timeline_and_a_rejection(client, world):
    services.decide_request(world.change, approve=False, reason="The certificate is unsigned",
                            effective_date=None, today=world.change.submitted_at.date())
    db.session.commit()
    client = as_role(client, world, "viewer")
    body = client.get(f"/account/changes/{world.change.id}").get_data(as_text=True)
    assert "The certificate is unsigned" in body
    for step in ("Draft started", "Submitted", "In review", "Rejected"):
        assert step in body
    assert "Start a new legal name request" not in body  # a viewer cannot start one
    client = as_role(client, world, "admin")
    body = client.get(f"/account/changes/{world.change.id}").get_data(as_text=True)
    assert 'href="/account/changes/new?type=legal-name"' in body


def test_the_account_page_shows_pending_changes_and_who_may_change(client, world):
    client = as_role(client, world, "admin")
    body = client.get("/account").get_data(as_text=True)
    assert "Change submitted on" in body
    assert f'href="/account/changes/{world.change.id}"' in body
    assert "Continue your draft" in body  # the address draft
    client = as_role(client, world, "viewer")
    body = client.get("/account").get_data(as_text=True)
    assert "An admin of your account can change this." in body
    assert "/account/changes/new" not in body


def test_the_billing_contact_is_saved_at_once(client, world):
    client = as_role(client, world, "admin")
    bad = client.post("/account/billing-contact", data={"name": "Ann", "email": "nope"},
                      headers=HX)
    assert bad.status_code == 422
    assert 'value="Ann"' in bad.get_data(as_text=True)
    assert 'id="email-error"' in bad.get_data(as_text=True)
    good = client.post("/account/billing-contact",
                       data={"name": "Ann Payable", "email": "ap@example.test",
                             "phone": "+1 206 555 0100"})
    assert good.status_code == 303
    db.session.expire_all()
    assert world.account.billing_contact_email == "ap@example.test"


def test_the_request_list_is_newest_first_with_badges(client, world):
    client = as_role(client, world, "billing")
    body = client.get("/account/changes").get_data(as_text=True)
    assert body.index(world.draft.reference) < body.index(world.change.reference)
    assert '<span class="badge badge--info">Submitted</span>' in body
    assert "New request" not in body
    client = as_role(client, world, "other")
    assert "No change requests yet." in client.get("/account/changes").get_data(as_text=True)
