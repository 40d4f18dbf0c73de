"""Users and roles pages: every role (staff included), a second tenant's ids, page and htmx
fragment variants, invitation links end to end, the last-admin rule's message next to its
control, sessions ended by deactivation, and CSRF."""

import re
from html import unescape

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from app.accounts import users
from app.accounts.models import Role, User
from app.accounts.users_models import Invitation
from app.audit.models import AuditEvent
from app.extensions import db
from tests.conftest import PASSWORD, Factory, make_config, sign_in

HX = {"HX-Request": "true"}
NEW_PASSWORD = "a-long-enough-phrase-7"


@pytest.fixture
def team(factory):
    account = factory.account(legal_name="Acme Widgets & Sons")
    members = {role: factory.user(role, account=account) for role in
               (Role.ADMIN, Role.BILLING, Role.VIEWER)}
    other = factory.account(legal_name="Second Tenant Inc")
    other_admin = factory.user(Role.ADMIN, account=other)
    return account, members, other_admin, factory.user(Role.STAFF)


def client_for(app, user):
    client = app.test_client()
    assert sign_in(client, user).status_code == 303
    return client


def fresh(user_id: int) -> User:
    """The user as the database has them now (requests run in their own sessions)."""
    db.session.expire_all()
    return db.session.get(User, user_id)


def text(response) -> str:
    return response.get_data(as_text=True)


def signup_link(body: str) -> str:
    match = re.search(r'id="signup-link" type="text" readonly value="([^"]+)"', body)
    assert match, "no sign-up link on the page"
    return unescape(match.group(1))


def error_of(body: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</p>', body, re.S)
    return unescape(match.group(1)).strip() if match else None


def requests_for(members):
    target = members[Role.VIEWER].id
    return [("GET", "/account/users", {}), ("GET", "/account/users/invite", {}),
            ("POST", "/account/users/invite", {"email": "n@example.test", "name": "N",
                                                "role": "viewer"}),
            ("POST", f"/account/users/{target}/role", {"role": "billing"}),
            ("POST", f"/account/users/{target}/deactivate", {}),
            ("POST", f"/account/users/{target}/reactivate", {})]


@pytest.mark.parametrize("role", [Role.BILLING, Role.VIEWER, Role.STAFF])
@pytest.mark.parametrize("headers", [{}, HX])
def test_only_admins_reach_the_users_pages(app, team, role, headers):
    _, members, _, staff = team
    client = client_for(app, staff if role == Role.STAFF else members[role])
    for method, url, data in requests_for(members):
        response = client.open(url, method=method, data=data, headers=headers)
        assert response.status_code == 403, (method, url)
    assert fresh(members[Role.VIEWER].id).role == Role.VIEWER
    assert db.session.scalar(select(Invitation.id)) is None


def test_anonymous_visitors_are_sent_to_sign_in(client, team):
    _, members, _, _ = team
    for method, url, data in requests_for(members):
        response = client.open(url, method=method, data=data)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("headers", [{}, HX])
def test_the_users_page_and_its_fragment(app, team, headers):
    _, members, other_admin, _ = team
    response = client_for(app, members[Role.ADMIN]).get("/account/users", headers=headers)
    body = text(response)
    assert response.status_code == 200
    assert ("<html" in body) == (not headers)
    for user in members.values():
        assert user.email in body
    assert other_admin.email not in body
    assert 'data-label="Last sign-in"' in body and "table--stack" in body
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_the_account_menu_shows_users_to_admins_only(app, team):
    _, members, _, staff = team
    admin_page = text(client_for(app, members[Role.ADMIN]).get("/account/users"))
    assert re.search(r'aria-label="Account">.*Company.*Changes.*Users.*Audit log', admin_page,
                     re.S)
    assert '>Account</a>' in admin_page
    for user in (members[Role.BILLING], members[Role.VIEWER]):
        page = text(client_for(app, user).get("/account"))
        assert re.search(r'aria-label="Account">.*Company.*Changes', page, re.S)
        assert "/account/users" not in page and "/account/audit" not in page
    page = text(client_for(app, staff).get("/help"))
    assert '>Account</a>' not in page and "/account/users" not in page


@pytest.mark.parametrize(("method", "path", "data"), [
    ("POST", "/account/users/{id}/role", {"role": "viewer"}),
    ("POST", "/account/users/{id}/deactivate", {}),
    ("POST", "/account/users/{id}/reactivate", {}),
])
def test_a_second_tenants_user_ids_are_not_found(app, team, method, path, data):
    _, members, other_admin, _ = team
    client = client_for(app, other_admin)
    for target in (members[Role.ADMIN], members[Role.VIEWER]):
        for headers in ({}, HX):
            response = client.open(path.format(id=target.id), method=method, data=data,
                                   headers=headers)
            assert response.status_code == 404
    assert fresh(members[Role.ADMIN].id).role == Role.ADMIN
    assert fresh(members[Role.VIEWER].id).active


def test_a_second_tenants_invitation_cannot_be_revoked(app, team):
    account, members, other_admin, _ = team
    created = users.invite_user(account, email="x@example.test", name="X", role=Role.VIEWER,
                                by=members[Role.ADMIN])
    db.session.commit()
    response = client_for(app, other_admin).post(
        f"/account/users/invitations/{created.invitation.id}/revoke")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Invitation, created.invitation.id).revoked_at is None


def test_a_role_change_swaps_the_row(app, team):
    _, members, _, _ = team
    viewer = members[Role.VIEWER]
    client = client_for(app, members[Role.ADMIN])
    response = client.post(f"/account/users/{viewer.id}/role", data={"role": "billing"},
                           headers=HX)
    body = text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr role="row" id="user-{viewer.id}"')
    assert f"{viewer.name} is now billing." in body
    assert '<option selected value="billing">' in body
    assert fresh(viewer.id).role == Role.BILLING
    # Without htmx: back to the list with the message.
    response = client.post(f"/account/users/{viewer.id}/role", data={"role": "viewer"})
    assert response.status_code == 303 and response.headers["Location"] == "/account/users"


@pytest.mark.parametrize("headers", [{}, HX])
def test_the_last_admin_is_told_why_next_to_the_control(app, team, headers):
    _, members, _, _ = team
    admin = members[Role.ADMIN]
    client = client_for(app, admin)
    for url, data, error_id in [
        (f"/account/users/{admin.id}/role", {"role": "viewer"}, f"role-error-{admin.id}"),
        (f"/account/users/{admin.id}/deactivate", {}, f"active-error-{admin.id}"),
    ]:
        response = client.post(url, data=data, headers=headers)
        assert response.status_code == 422
        body = text(response)
        assert "last active admin" in error_of(body, error_id)
        assert ("<html" in body) == (not headers)
    assert fresh(admin.id).role == Role.ADMIN
    assert fresh(admin.id).active
    assert client.get("/account/users").status_code == 200  # still signed in


def test_an_unknown_role_is_an_error_next_to_the_control(app, team):
    _, members, _, _ = team
    viewer = members[Role.VIEWER]
    response = client_for(app, members[Role.ADMIN]).post(
        f"/account/users/{viewer.id}/role", data={"role": "staff"}, headers=HX)
    assert response.status_code == 422
    assert error_of(text(response), f"role-error-{viewer.id}")
    assert fresh(viewer.id).role == Role.VIEWER


def test_an_admin_who_demotes_themselves_leaves_the_users_page(app, team, factory):
    account, members, _, _ = team
    factory.user(Role.ADMIN, account=account)
    admin = members[Role.ADMIN]
    client = client_for(app, admin)
    response = client.post(f"/account/users/{admin.id}/role", data={"role": "billing"},
                           headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"
    assert client.get("/account/users").status_code == 403


def test_deactivating_a_user_signs_them_out_everywhere(app, team):
    _, members, _, _ = team
    billing = members[Role.BILLING]
    theirs = client_for(app, billing)
    assert theirs.get("/billing/invoices").status_code == 200
    response = client_for(app, members[Role.ADMIN]).post(
        f"/account/users/{billing.id}/deactivate", headers=HX)
    assert response.status_code == 200 and "Deactivated" in text(response)
    assert "Reactivate" in text(response)
    assert theirs.get("/billing/invoices").status_code == 302
    assert sign_in(app.test_client(), billing).status_code == 422


def test_invite_sign_up_and_reuse(app, team):
    account, members, _, _ = team
    admin_client = client_for(app, members[Role.ADMIN])
    response = admin_client.post("/account/users/invite", data={
        "email": "Newcomer@Example.test", "name": "New Comer", "role": "billing"}, headers=HX)
    assert response.status_code == 200
    link = signup_link(text(response))
    assert "<html" not in text(response)
    token = link.rsplit("/", 1)[1]
    invitation = db.session.scalar(select(Invitation))
    assert token not in invitation.token_hash and invitation.email == "newcomer@example.test"
    listed = text(admin_client.get("/account/users"))
    assert "newcomer@example.test" in listed and token not in listed

    invitee = app.test_client()
    page = invitee.get(f"/signup/{token}")
    assert page.status_code == 200 and "Join Acme Widgets &amp; Sons" in text(page)
    mismatch = invitee.post(f"/signup/{token}", data={"password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422
    assert error_of(text(mismatch), "confirm-error") == "The two passwords are not the same."
    common = invitee.post(f"/signup/{token}", data={"password": "password1234",
                                                    "confirm": "password1234"})
    assert "too common" in error_of(text(common), "password-error")
    done = invitee.post(f"/signup/{token}", data={"password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert invitee.get("/billing/invoices").status_code == 200  # signed in, as billing
    assert invitee.get("/account/users").status_code == 403
    joined = db.session.scalar(select(User).where(User.email == "newcomer@example.test"))
    assert (joined.role, joined.account_id, joined.last_login_at is not None) == (
        Role.BILLING, account.id, True)

    again = app.test_client().get(f"/signup/{token}")
    assert again.status_code == 410 and "used already" in text(again)
    assert app.test_client().get("/signup/not-a-real-token").status_code == 404
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["user.invited", "user.joined"]


def test_invite_errors_sit_next_to_fields_and_keep_what_was_typed(app, team):
    _, members, _, _ = team
    client = client_for(app, members[Role.ADMIN])
    response = client.post("/account/users/invite", data={
        "email": members[Role.VIEWER].email, "name": "Typed Name", "role": "billing"},
        headers=HX)
    body = text(response)
    assert response.status_code == 422
    assert "a user of your account already" in error_of(body, "email-error")
    assert 'value="Typed Name"' in body and '<option selected value="billing">' in body
    bad = client.post("/account/users/invite", data={"email": "nope", "name": ""})
    assert bad.status_code == 422
    assert error_of(text(bad), "email-error") and error_of(text(bad), "name-error")


def test_revoking_an_invitation_stops_its_link(app, team):
    account, members, _, _ = team
    created = users.invite_user(account, email="gone@example.test", name="Gone",
                                role=Role.VIEWER, by=members[Role.ADMIN])
    db.session.commit()
    client = client_for(app, members[Role.ADMIN])
    response = client.post(f"/account/users/invitations/{created.invitation.id}/revoke",
                           headers=HX)
    assert response.status_code == 200 and "was revoked" in text(response)
    assert "gone@example.test" not in text(response).split("was revoked")[1]
    page = app.test_client().get(f"/signup/{created.token}")
    assert page.status_code == 410 and "withdrawn" in text(page)


def test_signing_up_while_signed_in_ends_the_other_session(app, team):
    account, members, _, _ = team
    created = users.invite_user(account, email="fresh@example.test", name="Fresh",
                                role=Role.VIEWER, by=members[Role.ADMIN])
    db.session.commit()
    client = client_for(app, members[Role.BILLING])
    client.post(f"/signup/{created.token}", data={"password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
    assert client.get("/billing/pay").status_code == 403  # now the viewer, not billing


# CSRF, with protection on as in production ---------------------------------------------------


def test_every_users_post_needs_the_csrf_token(tmp_path, search_index_dir):
    portal = create_app(make_config(f"sqlite:///{tmp_path / 'csrf.sqlite3'}", search_index_dir,
                                    WTF_CSRF_ENABLED=True))
    with portal.app_context():
        upgrade()
        factory = Factory()
        account = factory.account()
        admin = factory.user(Role.ADMIN, account=account)
        viewer = factory.user(Role.VIEWER, account=account)
        admin_id, viewer_id = admin.id, viewer.id
        email = admin.email
        created = users.invite_user(account, email="c@example.test", name="C",
                                    role=Role.VIEWER, by=admin)
        db.session.commit()
        invitation_id, token = created.invitation.id, created.token
    client = portal.test_client()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"',
                     login).group(1)
    assert client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 303
    page = client.get("/account/users").get_data(as_text=True)
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    posts = [(f"/account/users/{viewer_id}/role", {"role": "billing"}),
             (f"/account/users/{viewer_id}/deactivate", {}),
             (f"/account/users/{viewer_id}/reactivate", {}),
             (f"/account/users/invitations/{invitation_id}/revoke", {}),
             ("/account/users/invite", {"email": "d@example.test", "name": "D",
                                        "role": "viewer"}),
             (f"/signup/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})]
    for url, data in posts:
        assert client.post(url, data=data, headers=HX).status_code == 400, url
    assert client.post(posts[0][0], data=posts[0][1],
                       headers={**HX, "X-CSRFToken": csrf}).status_code == 200
    with portal.app_context():
        assert db.session.get(User, viewer_id).role == Role.BILLING
        assert db.session.get(User, admin_id).active
        db.session.remove()
        db.engine.dispose()
