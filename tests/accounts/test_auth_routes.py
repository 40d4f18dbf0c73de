"""Signing in and out, with the session security of SPEC §14."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role, UserSession
from app.extensions import db
from tests.conftest import PASSWORD, sign_in


def session_count() -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession))


def test_login_page_has_labelled_fields(client):
    body = client.get("/login").get_data(as_text=True)
    assert '<label class="field__label" for="email">E-mail address</label>' in body
    assert '<label class="field__label" for="password">Password</label>' in body


@pytest.mark.parametrize("role", list(Role))
def test_every_role_signs_in_and_lands_on_its_home(client, factory, role):
    user = factory.user(role)
    response = sign_in(client, user)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    expected = "Content insights" if role == Role.STAFF else "Dashboard"
    assert f"<h1>{expected}</h1>" in home.get_data(as_text=True)


def test_wrong_password_keeps_the_email_and_says_why(client, factory):
    user = factory.user()
    response = client.post("/login", data={"email": user.email, "password": "wrong-password-1"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "The e-mail address or password is not correct." in body
    assert f'value="{user.email}"' in body
    assert 'aria-invalid="true"' in body


def test_unknown_email_gets_the_same_message(client):
    response = client.post("/login", data={"email": "nobody@example.test", "password": "x" * 14})
    assert response.status_code == 422
    assert "The e-mail address or password is not correct." in response.get_data(as_text=True)


def test_empty_form_says_what_is_missing(client):
    response = client.post("/login", data={})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter your e-mail address." in body and "Enter your password." in body


def test_deactivated_user_cannot_sign_in(client, factory):
    user = factory.user()
    user.active = False
    db.session.commit()
    assert sign_in(client, user).status_code == 422


def test_next_parameter_only_allows_local_paths(client, factory):
    user = factory.user(Role.STAFF)
    response = client.post(
        "/login?next=https://evil.example/steal",
        data={"email": user.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post(
        "/login?next=/help/insights", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/help/insights"


def test_session_is_rotated_at_login(client, factory):
    user = factory.user()
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    sign_in(client, user)
    with client.session_transaction() as session:
        assert "planted" not in session
        first = session["_user_id"]
    client.post("/logout")
    sign_in(client, user)
    with client.session_transaction() as session:
        assert session["_user_id"] != first
        assert str(user.id) != session["_user_id"]


def test_logout_ends_the_session_on_the_server(client, factory):
    user = factory.user()
    sign_in(client, user)
    with client.session_transaction() as session:
        stolen_cookie_session = dict(session)
    assert session_count() == 1
    response = client.post("/logout")
    assert response.status_code == 303
    assert session_count() == 0
    # Replaying the old cookie no longer signs anyone in.
    with client.session_transaction() as session:
        session.update(stolen_cookie_session)
    assert client.get("/").headers["Location"].endswith("/help")


def test_logout_requires_post(client):
    assert client.get("/logout").status_code == 405


def test_idle_session_expires(client, factory):
    user = factory.user()
    sign_in(client, user)
    row = db.session.scalar(select(UserSession))
    row.last_seen_at = datetime.now(UTC) - timedelta(minutes=31)
    db.session.commit()
    assert client.get("/").status_code == 302
    assert session_count() == 0


def test_absolute_timeout_ends_even_an_active_session(client, factory):
    user = factory.user()
    sign_in(client, user)
    row = db.session.scalar(select(UserSession))
    row.created_at = datetime.now(UTC) - timedelta(hours=13)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client, factory):
    response = sign_in(client, factory.user())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_is_stored_hashed_with_scrypt(factory):
    user = factory.user()
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash
