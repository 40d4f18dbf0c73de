"""Sign-in throttling (SPEC §14), after the OWASP Authentication Cheat Sheet.

Three counts, all in the rate-limit storage that every worker shares (`app/ratelimit.py`):

1. every sign-in attempt from one client address (`LOGIN_RATE_LIMIT`), and
2. every attempt for one e-mail address from one client address (`LOGIN_EMAIL_RATE_LIMIT`):
   Flask-Limiter limits on the route, counted atomically before the password is checked, so
   that parallel requests to several workers cannot get more guesses through. They are shared
   limits (ADDRESS_SCOPE, EMAIL_SCOPE): the "Confirm your password" step before a sensitive
   change counts in the same two counters, so guesses there and at sign-in add up;
3. failed attempts for one e-mail address from anywhere (`LOGIN_LOCKOUT_LIMIT`): once they
   reach the limit, browsers that are not trusted for that e-mail are refused, without checking
   the password, until the window ends. This slows a guesser who spreads over many addresses.

A browser becomes trusted for an e-mail by signing in as it: it gets a signed "device cookie"
(OWASP), and it passes the e-mail's lockout, so the attacker cannot lock the owner out. The
trusted browser's own failures count against its device, not the e-mail; when they reach the
same limit, that device is untrusted again until its window ends.

The counters are written by the rate-limit storage in their own transactions, not through the
request's session, so a failure is counted even though the request commits nothing.
"""

import hashlib
import math
import secrets
import time
from datetime import timedelta

from flask import Response, current_app, request, url_for
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import RateLimitItem, parse

from app.accounts.services import normalise_email
from app.extensions import limiter

DEVICE_COOKIE = "login_device"
DEVICE_COOKIE_LIFETIME = timedelta(days=90)
_DEVICE_SALT = "login-device"
_LOCKOUT_SCOPE = "login-lockout"


class SignInLocked(Exception):
    """The e-mail address is locked out for this browser; `retry_after` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"sign-in locked for {retry_after} s")
        self.retry_after = retry_after


# Scopes of the shared Flask-Limiter limits of every form that checks a password.
ADDRESS_SCOPE = "sign-in"
EMAIL_SCOPE = "sign-in-email"

# Keys of the routes' Flask-Limiter limits. Never empty: Flask-Limiter skips (and logs) a
# limit whose key is empty.


def client_address() -> str:
    """The client's address: the connection's, or the proxy's X-Forwarded-For entry when
    TRUSTED_PROXY_COUNT says there are proxies (see `create_app`)."""
    return request.remote_addr or "(unknown address)"


def login_email() -> str:
    """The e-mail address typed in the sign-in form, as accounts store it."""
    return normalise_email(request.form.get("email", ""))[:254] or "(no e-mail given)"


def email_and_address_key() -> str:
    return f"{login_email()} from {client_address()}"


def signed_in_email_and_address_key() -> str:
    """The same key for a signed-in user confirming their password (the e-mail is theirs)."""
    return f"{normalise_email(current_user.email)} from {client_address()}"


# The e-mail's lockout and the device cookie.


def _enabled() -> bool:
    return bool(limiter.enabled and current_app.config.get("RATELIMIT_ENABLED", True))


def _lockout_limit() -> RateLimitItem:
    return parse(current_app.config["LOGIN_LOCKOUT_LIMIT"])


def _email_digest(email: str) -> str:
    # The cookie names the e-mail by a digest, so it does not show the address in clear.
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_DEVICE_SALT)


def trusted_device(email: str) -> str | None:
    """The id of this browser's device cookie when the cookie was given at a sign-in as
    `email`, is less than DEVICE_COOKIE_LIFETIME old, is signed by us, and its device has not
    failed LOGIN_LOCKOUT_LIMIT times in the window; otherwise None (an untrusted browser)."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie or not _enabled():
        return None
    try:
        data = _serializer().loads(cookie, max_age=DEVICE_COOKIE_LIFETIME.total_seconds())
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("email") != _email_digest(email):
        return None
    device = data.get("device")
    if not isinstance(device, str) or not device:
        return None
    if not limiter.limiter.test(_lockout_limit(), _LOCKOUT_SCOPE, "device", device):
        return None
    return device


def check_sign_in_allowed(email: str, device: str | None) -> None:
    """Raise SignInLocked when `email` has failed LOGIN_LOCKOUT_LIMIT times in the window and
    the browser is untrusted (`device` is None). A trusted browser is always let through."""
    if device is not None or not _enabled():
        return
    limit = _lockout_limit()
    key = normalise_email(email)
    if not limiter.limiter.test(limit, _LOCKOUT_SCOPE, "email", key):
        reset_at = limiter.limiter.get_window_stats(limit, _LOCKOUT_SCOPE, "email", key).reset_time
        raise SignInLocked(retry_after=max(1, math.ceil(reset_at - time.time())))


def record_failed_sign_in(email: str, device: str | None) -> None:
    """Count a wrong e-mail or password: against the trusted device, or else the e-mail.

    Checked before and counted after the password check, so parallel attempts can overshoot
    the lockout limit by the number in flight; the per-address limits are exact.
    """
    if not _enabled():
        return
    if device is not None:
        limiter.limiter.hit(_lockout_limit(), _LOCKOUT_SCOPE, "device", device)
    else:
        limiter.limiter.hit(_lockout_limit(), _LOCKOUT_SCOPE, "email", normalise_email(email))


def remember_device(response: Response, email: str) -> None:
    """Give the browser a new device cookie for `email` (at every successful sign-in)."""
    token = _serializer().dumps(
        {"email": _email_digest(email), "device": secrets.token_urlsafe(16)}
    )
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=int(DEVICE_COOKIE_LIFETIME.total_seconds()),
        path=url_for("auth.login"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def lockout_message(retry_after: int) -> str:
    minutes = max(1, math.ceil(retry_after / 60))
    wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
    return (
        f"Too many failed sign-ins for this e-mail address. Try again in {wait}, or sign in "
        "from a browser you have signed in with before."
    )
