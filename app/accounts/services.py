"""Accounts, users, passwords and server-side sessions. Services flush; callers commit."""

import secrets
from datetime import UTC, datetime, timedelta
from importlib import resources

from flask import current_app
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import Account, Role, User, UserSession
from app.extensions import db

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
# Refresh a session's last-seen time at most this often, so most requests do not write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
SESSION_CHANGED = "user_session_changed"
# After the user types their password again, how long they may make sensitive changes (add a
# bank account, submit a legal or tax change) before they are asked for it once more.
REAUTHENTICATION_WINDOW = timedelta(minutes=10)
# A hash checked when the e-mail is unknown, so a wrong e-mail costs as much time as a wrong
# password and the response time does not tell which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password-at-all")


def _common_passwords() -> frozenset[str]:
    text = resources.files("app.accounts").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


COMMON_PASSWORDS = _common_passwords()


def password_problems(password: str, email: str = "") -> list[str]:
    """Return what is wrong with a new password (empty when it is acceptable).

    Length-based rules and a deny list of common passwords, no composition rules.
    """
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        problems.append("This password is too common; choose another.")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        problems.append("Do not use your e-mail address in the password.")
    return problems


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_account(
    *, number: str, legal_name: str, country: str, region: str, currency: str, **details
) -> Account:
    """A reseller account. `details`: address, tax and payment-terms fields of Account."""
    account = Account(
        number=number, legal_name=legal_name, country=country, region=region, currency=currency,
        **details,
    )
    db.session.add(account)
    db.session.flush()
    return account


def create_user(
    *, email: str, name: str, password: str, role: Role, account: Account | None
) -> User:
    """Create a user. Raises ValueError when the role and account do not fit together."""
    if (role == Role.STAFF) != (account is None):
        raise ValueError("staff users have no account; every other user belongs to one")
    user = User(
        email=normalise_email(email),
        name=name,
        password_hash=hash_password(password),
        role=role,
        account=account,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with this e-mail and password, or None."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def start_session(user: User, *, ip_address: str | None, user_agent: str | None) -> UserSession:
    """Open a new server-side session for `user` (a new token at every sign-in)."""
    now = datetime.now(UTC)
    user_session = UserSession(
        token=secrets.token_urlsafe(32),
        user=user,
        created_at=now,
        last_seen_at=now,
        ip_address=ip_address,
        user_agent=(user_agent or "")[:255],
    )
    user.last_login_at = now
    user.session_token = user_session.token
    db.session.add(user_session)
    db.session.flush()
    return user_session


def end_session(token: str | None) -> None:
    """Delete the server-side session, so its cookie no longer signs anyone in."""
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token == token))


def record_reauthentication(token: str | None, now: datetime | None = None) -> None:
    """Note on the server-side session that its user has just confirmed their password.
    Raises LookupError when the session does not exist (any more)."""
    user_session = db.session.get(UserSession, token) if token else None
    if user_session is None:
        raise LookupError("no such session")
    user_session.reauthenticated_at = now or datetime.now(UTC)
    db.session.flush()


def reauthenticated_recently(token: str | None, now: datetime | None = None) -> bool:
    """Whether the session's user confirmed their password within REAUTHENTICATION_WINDOW."""
    user_session = db.session.get(UserSession, token) if token else None
    if user_session is None or user_session.reauthenticated_at is None:
        return False
    elapsed = (now or datetime.now(UTC)) - user_session.reauthenticated_at
    return timedelta(0) <= elapsed <= REAUTHENTICATION_WINDOW


def load_session_user(token: str) -> User | None:
    """Return the user of a live session, or None when it is unknown, idle or too old.

    An expired session is deleted. The last-seen time is refreshed at most once a minute.
    Flushes and marks `db.session.info[SESSION_CHANGED]`; the caller commits.
    """
    user_session = db.session.get(UserSession, token)
    if user_session is None:
        return None
    now = datetime.now(UTC)
    config = current_app.config
    idle = now - user_session.last_seen_at > config["SESSION_IDLE_TIMEOUT"]
    too_old = now - user_session.created_at > config["SESSION_ABSOLUTE_TIMEOUT"]
    if idle or too_old or not user_session.user.active:
        db.session.delete(user_session)
        db.session.flush()
        db.session.info[SESSION_CHANGED] = True
        return None
    if now - user_session.last_seen_at > LAST_SEEN_RESOLUTION:
        user_session.last_seen_at = now
        db.session.flush()
        db.session.info[SESSION_CHANGED] = True
    user = user_session.user
    user.session_token = token
    return user


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0
