"""Sign-in throttling (SPEC §14): per client address, per e-mail and address, and the e-mail's
lockout that a browser trusted by its device cookie passes (OWASP)."""

import re
import time
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from limits import parse

from app.accounts import throttle
from app.config import (
    DEFAULT_LOGIN_EMAIL_RATE_LIMIT,
    DEFAULT_LOGIN_LOCKOUT_LIMIT,
    DEFAULT_LOGIN_RATE_LIMIT,
)
from app.extensions import db
from tests.accounts.test_ratelimit_storage import migrated_portal
from tests.conftest import PASSWORD, Factory, IsolatedClient

WRONG = "wrong-password-9"
LOCKOUT_TEXT = "Too many failed sign-ins for this e-mail address."


def amount(app: Flask, name: str) -> int:
    return parse(app.config[name]).amount


def attempt(client: FlaskClient, email: str, password: str = WRONG, address: str = "10.0.0.1",
            headers: dict | None = None):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def fail_from_addresses(client: FlaskClient, app: Flask, email: str, failures: int,
                        prefix: str = "10.1.0") -> None:
    """`failures` wrong passwords for `email`, spread over as many addresses as the
    per-(e-mail, address) limit needs, so that only the e-mail's lockout counts them all."""
    per_address = amount(app, "LOGIN_EMAIL_RATE_LIMIT")
    for number in range(failures):
        response = attempt(client, email, address=f"{prefix}.{number // per_address + 1}")
        assert response.status_code == 422, response.status_code


def test_the_defaults_are_the_documented_ones(app):
    assert app.config["LOGIN_RATE_LIMIT"] == DEFAULT_LOGIN_RATE_LIMIT
    assert app.config["LOGIN_EMAIL_RATE_LIMIT"] == DEFAULT_LOGIN_EMAIL_RATE_LIMIT
    assert app.config["LOGIN_LOCKOUT_LIMIT"] == DEFAULT_LOGIN_LOCKOUT_LIMIT
    # Layered: one address cannot reach the e-mail's lockout within one address window.
    assert amount(app, "LOGIN_EMAIL_RATE_LIMIT") < amount(app, "LOGIN_RATE_LIMIT") \
        < amount(app, "LOGIN_LOCKOUT_LIMIT")


def spread_emails(app: Flask, factory, attempts: int) -> list[str]:
    """E-mails of enough users that `attempts` in turn stay under the per-(e-mail, address)
    limit, so that only the per-address limit applies."""
    users = -(-attempts // amount(app, "LOGIN_EMAIL_RATE_LIMIT")) + 1
    emails = [factory.user().email for _ in range(users)]
    return [emails[number % users] for number in range(attempts)]


def test_one_address_gets_at_most_the_limit_of_attempts(client, app, factory):
    limit = amount(app, "LOGIN_RATE_LIMIT")
    emails = spread_emails(app, factory, limit + 2)
    statuses = [attempt(client, email).status_code for email in emails]
    assert statuses == [422] * limit + [429, 429]
    refused = attempt(client, emails[0])
    assert "Too many attempts. Wait a minute and try again." in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    # Another address is not affected.
    assert attempt(client, emails[0], address="10.0.0.2").status_code == 422


def test_htmx_attempts_count_the_same(client, app, factory):
    limit = amount(app, "LOGIN_RATE_LIMIT")
    hx = {"HX-Request": "true"}
    statuses = [attempt(client, email, headers=hx).status_code
                for email in spread_emails(app, factory, limit + 1)]
    assert statuses == [422] * limit + [429]


def test_one_email_from_one_address_is_slowed_but_its_owner_elsewhere_signs_in(
    client, app, factory
):
    """The bug: the per-e-mail limit used to lock out the owner everywhere."""
    user = factory.user()
    limit = amount(app, "LOGIN_EMAIL_RATE_LIMIT")
    statuses = [attempt(client, user.email).status_code for _ in range(limit + 1)]
    assert statuses == [422] * limit + [429]
    # The attacker's address waits, even with the right password …
    assert attempt(client, user.email, PASSWORD).status_code == 429
    # … the same address may still try other e-mails (up to the per-address limit) …
    assert attempt(client, "someone-else@example.test").status_code == 422
    # … and the owner, from an address that never failed, signs in.
    response = attempt(client, user.email, PASSWORD, address="192.0.2.7")
    assert response.status_code == 303


def test_email_case_and_spaces_do_not_make_a_new_count(client, app, factory):
    user = factory.user()
    limit = amount(app, "LOGIN_EMAIL_RATE_LIMIT")
    variants = [user.email.upper(), f"  {user.email}", user.email.title()]
    for number in range(limit):
        assert attempt(client, variants[number % len(variants)]).status_code == 422
    assert attempt(client, user.email).status_code == 429


def test_many_addresses_lock_the_email_for_untrusted_browsers(client, app, factory):
    user = factory.user()
    fail_from_addresses(client, app, user.email, amount(app, "LOGIN_LOCKOUT_LIMIT"))
    # A fresh address and browser: refused before the password is checked, right or wrong.
    right = attempt(client, user.email, PASSWORD, address="198.51.100.1")
    wrong = attempt(client, user.email, address="198.51.100.2")
    for response in (right, wrong):
        assert response.status_code == 429
        body = response.get_data(as_text=True)
        assert LOCKOUT_TEXT in body
        assert f'value="{user.email}"' in body  # the form keeps what was typed
        window = parse(app.config["LOGIN_LOCKOUT_LIMIT"]).get_expiry()
        assert 0 < int(response.headers["Retry-After"]) <= window
    assert "Try again in 15 minutes" in right.get_data(as_text=True)
    # Other e-mails are not affected.
    assert attempt(client, "other@example.test", address="198.51.100.3").status_code == 422


def test_one_failure_short_of_the_lockout_still_signs_in(client, app, factory):
    user = factory.user()
    fail_from_addresses(client, app, user.email, amount(app, "LOGIN_LOCKOUT_LIMIT") - 1)
    assert attempt(client, user.email, PASSWORD, address="198.51.100.1").status_code == 303


def test_unknown_emails_lock_out_the_same_way(client, app, monkeypatch):
    """The lockout does not tell which e-mail addresses have an account."""
    # A smaller lockout: every unknown e-mail costs a full-strength password hash.
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_LIMIT", "3 per 15 minutes")
    fail_from_addresses(client, app, "nobody@example.test", amount(app, "LOGIN_LOCKOUT_LIMIT"))
    response = attempt(client, "nobody@example.test", address="198.51.100.1")
    assert response.status_code == 429
    assert LOCKOUT_TEXT in response.get_data(as_text=True)


def device_cookie(response) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie(header)
        if throttle.DEVICE_COOKIE in cookie:
            return cookie[throttle.DEVICE_COOKIE].value
    raise AssertionError("no device cookie was set")


def test_sign_in_gives_a_device_cookie_for_the_sign_in_page_only(client, factory):
    response = attempt(client, factory.user().email, PASSWORD)
    header = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith(f"{throttle.DEVICE_COOKIE}="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/login" in header
    assert f"Max-Age={int(throttle.DEVICE_COOKIE_LIFETIME.total_seconds())}" in header
    failed = attempt(client, "x@example.test")
    assert throttle.DEVICE_COOKIE not in failed.headers.get("Set-Cookie", "")


def trusted_client(app: Flask, user, address: str = "203.0.113.9") -> FlaskClient:
    """A browser that signed in as `user` before (and signed out): it holds a device cookie."""
    app.test_client_class = IsolatedClient
    browser = app.test_client()
    assert attempt(browser, user.email, PASSWORD, address=address).status_code == 303
    browser.post("/logout")
    assert browser.get_cookie(throttle.DEVICE_COOKIE, path="/login") is not None
    return browser


def test_a_trusted_browser_passes_the_lockout(client, app, factory):
    user = factory.user()
    owner = trusted_client(app, user)
    fail_from_addresses(client, app, user.email, amount(app, "LOGIN_LOCKOUT_LIMIT"))
    assert attempt(client, user.email, PASSWORD, address="198.51.100.1").status_code == 429
    # The owner's browser, even from an address it never used, signs in …
    assert attempt(owner, user.email, PASSWORD, address="198.51.100.50").status_code == 303
    owner.post("/logout")
    # … and its mistakes are its own: a wrong password is answered, not refused.
    assert attempt(owner, user.email, address="198.51.100.51").status_code == 422


def test_the_device_cookie_is_for_one_email_only(client, app, factory):
    user, other = factory.user(), factory.user()
    browser = trusted_client(app, other)
    fail_from_addresses(client, app, user.email, amount(app, "LOGIN_LOCKOUT_LIMIT"))
    assert attempt(browser, user.email, PASSWORD, address="198.51.100.1").status_code == 429


@pytest.mark.parametrize("forge", ["tampered", "other key", "expired"])
def test_a_forged_or_expired_device_cookie_is_not_trusted(client, app, factory, forge,
                                                          monkeypatch):
    user = factory.user()
    browser = trusted_client(app, user)
    value = browser.get_cookie(throttle.DEVICE_COOKIE, path="/login").value
    if forge == "tampered":
        value = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    else:
        payload = URLSafeTimedSerializer(app.secret_key, salt="login-device").loads(value)
        key = "not-our-key" if forge == "other key" else app.secret_key
        serializer = URLSafeTimedSerializer(key, salt="login-device")
        if forge == "expired":
            lifetime = throttle.DEVICE_COOKIE_LIFETIME.total_seconds()
            past = time.time() - lifetime - 60
            with monkeypatch.context() as patch:
                patch.setattr(time, "time", lambda: past)
                value = serializer.dumps(payload)
        else:
            value = serializer.dumps(payload)
    browser.set_cookie(throttle.DEVICE_COOKIE, value, path="/login")
    fail_from_addresses(client, app, user.email, amount(app, "LOGIN_LOCKOUT_LIMIT"))
    assert attempt(browser, user.email, PASSWORD, address="198.51.100.1").status_code == 429


def test_a_trusted_browser_that_fails_too_often_is_trusted_no_more(client, app, factory):
    user = factory.user()
    browser = trusted_client(app, user)
    lockout = amount(app, "LOGIN_LOCKOUT_LIMIT")
    fail_from_addresses(client, app, user.email, lockout)
    fail_from_addresses(browser, app, user.email, lockout, prefix="10.2.0")
    response = attempt(browser, user.email, PASSWORD, address="198.51.100.1")
    assert response.status_code == 429
    assert LOCKOUT_TEXT in response.get_data(as_text=True)


def test_a_new_sign_in_gives_a_new_device(client, app, factory):
    user = factory.user()
    first = device_cookie(attempt(client, user.email, PASSWORD))
    client.post("/logout")
    second = device_cookie(attempt(client, user.email, PASSWORD, address="10.0.0.2"))
    assert first != second


# Behind a proxy ------------------------------------------------------------------------------


@pytest.fixture
def proxied_portal(tmp_path) -> Flask:
    portal = migrated_portal(tmp_path, TRUSTED_PROXY_COUNT=1)
    portal.test_client_class = IsolatedClient
    yield portal
    with portal.app_context():
        db.engine.dispose()


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, app, factory):
    limit = amount(app, "LOGIN_RATE_LIMIT")
    statuses = [
        attempt(client, email, headers={"X-Forwarded-For": f"10.9.9.{n}"}).status_code
        for n, email in enumerate(spread_emails(app, factory, limit + 1))
    ]
    assert statuses == [422] * limit + [429]


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(proxied_portal):
    client = proxied_portal.test_client()
    limit = amount(proxied_portal, "LOGIN_RATE_LIMIT")
    with proxied_portal.app_context():
        emails = spread_emails(proxied_portal, Factory(), limit + 1)
    # All through one proxy (127.0.0.1), from one client: limited.
    statuses = [
        attempt(client, email, address="127.0.0.1",
                headers={"X-Forwarded-For": "203.0.113.5"}).status_code
        for email in emails
    ]
    assert statuses == [422] * limit + [429]
    # Another client through the same proxy is not.
    other = attempt(client, emails[0], address="127.0.0.1",
                    headers={"X-Forwarded-For": "203.0.113.6"})
    assert other.status_code == 422
    # Only the last (proxy-added) entry is trusted: a spoofed first entry changes nothing.
    spoofed = attempt(client, emails[1], address="127.0.0.1",
                      headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.5"})
    assert spoofed.status_code == 429


# The Help Center article says what the code does --------------------------------------------


def describe(limit: str) -> str:
    """'10 per minute' → '10 a minute'; '20 per 15 minutes' → '20 in 15 minutes'."""
    item = parse(limit)
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount} a {unit}"
    return f"{item.amount} in {item.multiples} {unit}s"


def test_the_article_quotes_the_limits(app):
    text = (Path(app.config["CONTENT_DIR"]) / "signing-in-and-security.md").read_text()
    section = text.split("## Too many sign-in attempts", 1)[1].split("\n## ", 1)[0]
    expected = [
        f"| Attempts from one network address | **{describe(DEFAULT_LOGIN_RATE_LIMIT)}** |",
        "| Attempts for one e-mail address from one network address | "
        f"**{describe(DEFAULT_LOGIN_EMAIL_RATE_LIMIT)}** |",
        "| Failed attempts for one e-mail address, from anywhere | "
        f"**{describe(DEFAULT_LOGIN_LOCKOUT_LIMIT)}** |",
        f"in the last {throttle.DEVICE_COOKIE_LIFETIME.days} days",
    ]
    for phrase in expected:
        assert phrase in re.sub(r"\s+", " ", section), phrase
    # No other number in the section: each one above comes from the code.
    allowed = {str(parse(limit).amount) for limit in (
        DEFAULT_LOGIN_RATE_LIMIT, DEFAULT_LOGIN_EMAIL_RATE_LIMIT, DEFAULT_LOGIN_LOCKOUT_LIMIT)}
    allowed |= {str(parse(DEFAULT_LOGIN_LOCKOUT_LIMIT).multiples),
                str(throttle.DEVICE_COOKIE_LIFETIME.days)}
    assert set(re.findall(r"\d+", section)) <= allowed
    assert f'**"{throttle.lockout_message(15 * 60).split(".")[0]}."**' in section
