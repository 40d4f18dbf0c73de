"""Re-authentication before sensitive changes (SPEC §14): "Confirm your password" records the
time on the server-side session; `reauthentication_required` lets a view run for
REAUTHENTICATION_WINDOW after it; wrong passwords count against the sign-in throttling."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from limits import parse
from sqlalchemy import select

from app.accounts import services
from app.accounts.models import Role, UserSession
from app.extensions import db
from tests.conftest import PASSWORD, sign_in

CONFIRM = "/login/confirm"
PROTECTED = "/billing/payment-methods/new/ach"  # adding a bank account asks for it
WRONG = "wrong-password-9"
HX = {"HX-Request": "true"}


def session_row(user) -> UserSession:
    db.session.expire_all()
    return db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))


def amount(app, name: str) -> int:
    return parse(app.config[name]).amount


@pytest.fixture
def admin(factory):
    return factory.user(Role.ADMIN)


def test_the_confirmation_page_asks_for_the_password(client, login, admin):
    login(admin)
    response = client.get(f"{CONFIRM}?next={PROTECTED}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<h1>Confirm your password</h1>" in body
    assert '<label class="field__label" for="password">Password</label>' in body
    assert ">Confirm password</button>" in body
    minutes = int(services.REAUTHENTICATION_WINDOW.total_seconds() // 60)
    assert f"You will not be asked again for {minutes} minutes." in body
    assert f"Signed in as <strong>{admin.email}</strong>" in body
    assert f'action="{CONFIRM}?next=/billing/payment-methods/new/ach"' in body


def test_only_a_signed_in_user_confirms(client):
    response = client.get(CONFIRM)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post(CONFIRM, data={"password": PASSWORD}).status_code == 302


def test_signing_in_is_not_confirming(client, login, admin):
    login(admin)
    assert session_row(admin).reauthenticated_at is None
    assert client.get(PROTECTED).status_code == 303


def test_the_right_password_is_recorded_on_the_session_and_leads_back(client, login, admin):
    login(admin)
    before = datetime.now(UTC)
    response = client.post(f"{CONFIRM}?next={PROTECTED}", data={"password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == PROTECTED
    recorded = session_row(admin).reauthenticated_at
    assert before <= recorded <= datetime.now(UTC)
    assert client.get(PROTECTED).status_code == 200


def test_a_wrong_password_is_refused_next_to_the_field(client, login, admin):
    login(admin)
    response = client.post(f"{CONFIRM}?next={PROTECTED}", data={"password": WRONG})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert '<p class="field__error" id="password-error">The password is not correct.</p>' in body
    assert 'aria-invalid="true"' in body and WRONG not in body
    assert session_row(admin).reauthenticated_at is None
    response = client.post(CONFIRM, data={})
    assert response.status_code == 422 and "Enter your password." in response.get_data(
        as_text=True)


def test_another_users_password_does_not_confirm(client, login, factory, admin):
    other = factory.user(Role.ADMIN, email="someone-else@example.test",
                         password="another-password-42")
    login(admin)
    response = client.post(CONFIRM, data={"password": "another-password-42"})
    assert response.status_code == 422
    assert session_row(admin).reauthenticated_at is None
    assert other.id != admin.id


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", ""])
def test_only_a_path_on_this_site_follows(client, login, admin, target):
    login(admin)
    response = client.post(CONFIRM, query_string={"next": target},
                           data={"password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_the_window_closes_when_its_time_is_up(client, login, admin):
    login(admin)
    client.post(CONFIRM, data={"password": PASSWORD})
    row = session_row(admin)
    row.reauthenticated_at = datetime.now(UTC) - services.REAUTHENTICATION_WINDOW \
        + timedelta(seconds=30)
    db.session.commit()
    assert client.get(PROTECTED).status_code == 200
    row = session_row(admin)
    row.reauthenticated_at = datetime.now(UTC) - services.REAUTHENTICATION_WINDOW \
        - timedelta(seconds=1)
    db.session.commit()
    response = client.get(PROTECTED)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{CONFIRM}?next={PROTECTED}"
    response = client.get(PROTECTED, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == \
        f"{CONFIRM}?next={PROTECTED}"


def test_reauthenticated_recently_counts_the_window_exactly(app, factory, admin):
    session = services.start_session(admin, ip_address=None, user_agent=None)
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert not services.reauthenticated_recently(session.token, now=at)
    services.record_reauthentication(session.token, now=at)
    window = services.REAUTHENTICATION_WINDOW
    assert services.reauthenticated_recently(session.token, now=at)
    assert services.reauthenticated_recently(session.token, now=at + window)
    assert not services.reauthenticated_recently(session.token, now=at + window
                                                 + timedelta(microseconds=1))
    assert not services.reauthenticated_recently(session.token, now=at - timedelta(seconds=1))
    assert not services.reauthenticated_recently("no-such-token", now=at)
    assert not services.reauthenticated_recently(None, now=at)
    with pytest.raises(LookupError):
        services.record_reauthentication("no-such-token")


def test_a_new_sign_in_asks_again(client, login, admin):
    login(admin)
    client.post(CONFIRM, data={"password": PASSWORD})
    assert client.get(PROTECTED).status_code == 200
    client.post("/logout")
    login(admin)
    assert client.get(PROTECTED).status_code == 303


def test_the_confirmation_is_for_its_own_session_only(client, login, admin, app):
    login(admin)
    client.post(CONFIRM, data={"password": PASSWORD})
    elsewhere = app.test_client()
    assert sign_in(elsewhere, admin).status_code == 303
    assert elsewhere.get(PROTECTED).status_code == 303
    assert client.get(PROTECTED).status_code == 200


# Wrong passwords count against the sign-in throttling -------------------------------------


def test_wrong_passwords_here_and_at_sign_in_share_the_per_email_limit(client, login, admin,
                                                                      app):
    login(admin)
    limit = amount(app, "LOGIN_EMAIL_RATE_LIMIT")
    # The sign-in above was one attempt of this e-mail from this address.
    for _ in range(limit - 1):
        assert client.post(CONFIRM, data={"password": WRONG}).status_code == 422
    assert client.post(CONFIRM, data={"password": PASSWORD}).status_code == 429
    assert session_row(admin).reauthenticated_at is None
    # The sign-in page counts in the same counter: this e-mail is held back from here too.
    other_browser = app.test_client()
    assert sign_in(other_browser, admin).status_code == 429


def test_wrong_passwords_here_count_against_the_address(client, login, factory, admin, app):
    login(admin)
    limit = amount(app, "LOGIN_RATE_LIMIT")
    email_limit = amount(app, "LOGIN_EMAIL_RATE_LIMIT")
    for _ in range(email_limit - 1):
        client.post(CONFIRM, data={"password": WRONG})
    others = [factory.user(email=f"neighbour{n}@example.test") for n in range(3)]
    browser = app.test_client()
    statuses = [sign_in(browser, others[n % 3], WRONG).status_code
                for n in range(limit - email_limit)]
    assert statuses == [422] * (limit - email_limit)
    # Every attempt from this address, sign-ins and confirmations alike, reached the limit.
    assert sign_in(browser, others[0]).status_code == 429


def test_wrong_passwords_here_lock_the_email_for_untrusted_browsers(client, login, admin, app):
    login(admin)
    client.delete_cookie("login_device", path="/login")  # as if the cookie had been cleared
    lockout = amount(app, "LOGIN_LOCKOUT_LIMIT")
    per_address = amount(app, "LOGIN_EMAIL_RATE_LIMIT") - 1
    for number in range(lockout):
        address = f"10.4.0.{number // per_address + 1}"
        response = client.post(CONFIRM, data={"password": WRONG},
                               environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 422, (number, response.status_code)
    response = client.post(CONFIRM, data={"password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.4.9.9"})
    assert response.status_code == 429
    assert "Too many failed sign-ins for this e-mail address." in response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    # A browser that never signed in as this e-mail is locked out of signing in too.
    fresh = app.test_client()
    response = fresh.post("/login", data={"email": admin.email, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.4.9.10"})
    assert response.status_code == 429


def test_the_article_states_the_window(app):
    text = (Path(app.config["CONTENT_DIR"]) / "signing-in-and-security.md").read_text()
    section = text.split("## Sign in again for sensitive actions", 1)[1].split("\n## ", 1)[0]
    minutes = int(services.REAUTHENTICATION_WINDOW.total_seconds() // 60)
    flat = " ".join(section.split())
    assert f"For the next **{minutes} minutes** you are not asked again" in flat
    assert "**Confirm your password**" in flat and "**Confirm password**" in flat
    assert set(re.findall(r"\d+", section)) == {str(minutes)}
