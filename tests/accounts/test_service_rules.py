"""Account services as tables of cases: password rules at their limits, who authenticates,
and when a server-side session stops signing anyone in."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.models import Role, UserSession
from app.extensions import db
from tests.conftest import PASSWORD, sign_in

EMAIL = "Nora.Smith@example.test"


@pytest.mark.parametrize(("password", "problems"), [
    ("a" * 11 + "Z", []),                  # exactly 12 characters
    ("kx7-" * 32, []),                     # exactly 128 characters
    ("kx7-" * 32 + "q", ["Use at most 128 characters."]),
    ("kx7-pq9-zw2", ["Use at least 12 characters."]),  # 11 characters
    ("", ["Use at least 12 characters."]),
    ("1QAZ2WSX3EDC", ["This password is too common; choose another."]),  # case-insensitive
    ("my-NORA.SMITH-pass", ["Do not use your e-mail address in the password."]),
    ("nora-is-here-2026", []),            # part of the local part is fine
])
def test_password_problems_at_the_limits(password, problems):
    assert services.password_problems(password, EMAIL) == problems


@pytest.mark.parametrize(("email", "password", "problems"), [
    ("bob@example.test", "bob-likes-long-walks", []),  # a local part under 4 characters
    ("anna@example.test", "anna-likes-long-walks",
     ["Do not use your e-mail address in the password."]),  # 4 characters: checked
    ("", "somebody-likes-walks", []),
])
def test_the_e_mail_rule_needs_a_local_part_of_four(email, password, problems):
    assert services.password_problems(password, email) == problems


def test_a_password_of_128_characters_signs_in(client, factory):
    password = "kx7-" * 32
    user = factory.user(password=password)
    assert sign_in(client, user, password).status_code == 303


def test_authenticate(factory):
    user = factory.user(email=EMAIL)
    assert user.email == "nora.smith@example.test"  # stored normalised
    assert services.authenticate("  NORA.smith@Example.TEST ", PASSWORD) == user
    assert services.authenticate(EMAIL, PASSWORD + "x") is None
    assert services.authenticate("nobody@example.test", PASSWORD) is None
    user.active = False
    db.session.commit()
    assert services.authenticate(EMAIL, PASSWORD) is None


@pytest.mark.parametrize(("role", "with_account"), [(Role.STAFF, True), (Role.ADMIN, False),
                                                    (Role.VIEWER, False)])
def test_role_and_account_must_fit(factory, role, with_account):
    account = factory.account() if with_account else None
    with pytest.raises(ValueError, match="^staff users have no account; every other user "
                                         "belongs to one$"):
        services.create_user(email="x@example.test", name="X", password=PASSWORD, role=role,
                             account=account)


def sessions() -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession))


@pytest.fixture
def live(factory):
    """A user with a session opened now."""
    user = factory.user()
    row = services.start_session(user, ip_address="192.0.2.1", user_agent="A" * 300)
    db.session.commit()
    return user, row


def test_start_session(live):
    user, row = live
    assert len(row.user_agent) == 255 and row.ip_address == "192.0.2.1"
    assert len(row.token) == 43  # 32 random bytes, URL-safe base64
    assert user.session_token == row.token and user.last_login_at is not None
    other = services.start_session(user, ip_address=None, user_agent=None)
    assert other.token != row.token and other.user_agent == ""


@pytest.mark.parametrize(("idle", "age", "alive"), [
    (timedelta(minutes=29), timedelta(hours=11), True),
    (timedelta(minutes=31), timedelta(hours=1), False),   # idle over 30 minutes
    (timedelta(minutes=1), timedelta(hours=12, minutes=1), False),  # older than 12 hours
])
def test_session_timeouts(live, idle, age, alive):
    user, row = live
    now = datetime.now(UTC)
    row.last_seen_at, row.created_at = now - idle, now - age
    db.session.commit()
    assert (services.load_session_user(row.token) == user) is alive
    assert sessions() == (1 if alive else 0)


def test_a_deactivated_users_live_session_stops_at_once(live):
    user, row = live
    user.active = False
    db.session.commit()
    assert services.load_session_user(row.token) is None
    assert db.session.info.pop(services.SESSION_CHANGED) is True
    assert sessions() == 0


def test_a_deactivated_user_signed_in_elsewhere_is_signed_out(client, factory):
    user = factory.user()
    sign_in(client, user)
    assert client.get("/billing/invoices").status_code == 200
    user.active = False
    db.session.commit()
    response = client.get("/billing/invoices")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert sessions() == 0


@pytest.mark.parametrize(("seen", "refreshed"), [(timedelta(seconds=30), False),
                                                 (timedelta(minutes=2), True)])
def test_last_seen_is_refreshed_at_most_once_a_minute(live, seen, refreshed):
    _, row = live
    before = datetime.now(UTC) - seen
    row.last_seen_at = before
    db.session.commit()
    assert services.load_session_user(row.token) is not None
    assert db.session.info.pop(services.SESSION_CHANGED, False) is refreshed
    assert (row.last_seen_at.replace(tzinfo=UTC) > before) is refreshed


def test_unknown_token_and_ending_a_session(live):
    _, row = live
    assert services.load_session_user("no-such-token") is None
    services.end_session(None)
    assert sessions() == 1
    services.end_session(row.token)
    assert sessions() == 0


def test_count_users(app, factory):
    assert services.count_users() == 0
    factory.user(Role.STAFF)
    factory.user(Role.VIEWER)
    assert services.count_users() == 2


def test_without_an_e_mail_only_length_and_the_deny_list_count():
    assert services.password_problems("xxxx-xxxx-xxxx") == []


def test_passwords_are_hashed_with_the_configured_method(app, factory):
    user = factory.user()
    assert user.password_hash.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")
