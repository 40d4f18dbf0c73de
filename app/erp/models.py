"""The inbound API's tables: the ERP's bearer tokens (hashed) and the responses kept for
Idempotency-Key replays."""

from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class ErpApiToken(db.Model):
    """A bearer token of the ERP: "erp_<prefix>_<secret>". Only the public prefix (to find the
    row) and the SHA-256 of the secret are stored; the token is shown once, when created."""

    __tablename__ = "erp_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))  # hex digest
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IdempotencyRecord(db.Model):
    """The first response to a POST with an Idempotency-Key, per token and key, with a hash of
    the request it answered. The row is written in the request's own transaction, so the
    unique constraint makes a concurrent request with the same key wait and then replay."""

    __tablename__ = "erp_idempotency_keys"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_erp_idempotency_token_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("erp_api_tokens.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None]
    response_body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
