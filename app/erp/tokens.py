"""The ERP's bearer tokens for the inbound API (`/api/erp/v1`).

A token reads "erp_<prefix>_<secret>": the prefix (8 random bytes, hex) is public and finds the
row; the secret is 32 random bytes (URL-safe base64) of which only the SHA-256 is stored. A
fast hash is right here, unlike for passwords: the secret has 256 bits of entropy, so there is
nothing to guess, and every API call checks it. The comparison is `hmac.compare_digest`.
Services flush; the caller commits.
"""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select

from app.erp.models import ErpApiToken, utcnow
from app.extensions import db

TOKEN_PREFIX = "erp_"  # noqa: S105 - the format's prefix, not a secret
_TOKEN = re.compile(r"erp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# last_used_at is written at most this often per token, in a short transaction of its own,
# so that the ERP's calls do not queue behind each other on the token's row.
LAST_USED_RESOLUTION = timedelta(seconds=60)
NAME_MAX_LENGTH = 100


class TokenError(Exception):
    """A token cannot be created or revoked as asked."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(name: str) -> tuple[ErpApiToken, str]:
    """A new token named `name`, and its text ("erp_<prefix>_<secret>"), which is not stored
    and cannot be shown again. Raises TokenError for an empty or overlong name."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH or "\x00" in name:
        raise TokenError(f"Give the token a name of 1 to {NAME_MAX_LENGTH} characters.")
    prefix, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    token = ErpApiToken(name=name, prefix=prefix, secret_sha256=_digest(secret))
    db.session.add(token)
    db.session.flush()
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def list_tokens() -> list[ErpApiToken]:
    return list(db.session.scalars(select(ErpApiToken).order_by(ErpApiToken.id)))


def revoke_token(prefix: str) -> ErpApiToken:
    """Revoke the token with this prefix (the part after "erp_"); revoking twice keeps the
    first time. Raises TokenError when no token has it."""
    token = db.session.scalar(select(ErpApiToken).where(ErpApiToken.prefix == prefix))
    if token is None:
        raise TokenError(f"No token has the prefix {prefix}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
    return token


def authenticate(text: str) -> ErpApiToken | None:
    """The live token whose text this is, or None (malformed, unknown, wrong secret,
    revoked). The same work is done for an unknown prefix as for a wrong secret."""
    match = _TOKEN.fullmatch(text)
    if match is None:
        return None
    prefix, secret = match.groups()
    token = db.session.scalar(select(ErpApiToken).where(ErpApiToken.prefix == prefix))
    expected = token.secret_sha256 if token is not None else _digest(secrets.token_hex(8))
    if not hmac.compare_digest(_digest(secret), expected):
        return None
    if token is None or token.revoked_at is not None:
        return None
    return token


def note_use(token: ErpApiToken) -> bool:
    """Set last_used_at when it is older than LAST_USED_RESOLUTION; whether it changed."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    token.last_used_at = now
    db.session.flush()
    return True
