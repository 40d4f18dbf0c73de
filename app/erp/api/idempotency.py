"""Idempotency-Key on the API's POSTs.

The first response to a POST with a key (status and body) is kept per token and key, with the
SHA-256 of the request's method, path and body. The same key with the same request replays
that response (header `Idempotent-Replayed: true`); the same key with another request is a 422.

The record is inserted at the start of the request's own transaction and completed before it
commits, so the effects and the record commit together or not at all. Two requests with one
key at once: the second INSERT waits on the unique index until the first commits, fails, and
the second request replays the first one's response (on SQLite, writers are serialised
anyway). An error response (4xx) is kept too, in a transaction of its own after the rollback,
so a retry gets the same answer; 5xx answers are not kept, so a retry tries again.

Keys are kept KEY_LIFETIME (24 hours): a key older than that is forgotten, and
`purge_expired_keys` (run by each pass of `flask erp deliver`) deletes the old rows.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.erp.api.errors import ApiError
from app.erp.models import IdempotencyRecord, utcnow
from app.extensions import db

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
_PRINTABLE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def parse_key(value: str | None) -> str | None:
    """The header's key, or None without one. Raises ApiError (400) for an empty key, one of
    more than MAX_KEY_LENGTH characters, or one with other than printable ASCII."""
    if value is None:
        return None
    if len(value) > MAX_KEY_LENGTH or not _PRINTABLE.fullmatch(value):
        raise ApiError(400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII "
                       "characters.", fields={HEADER: f"Use 1 to {MAX_KEY_LENGTH} printable "
                                                   "ASCII characters."})
    return value


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _find(token_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.token_id == token_id, IdempotencyRecord.key == key))


def _replay(record: IdempotencyRecord, request_hash: str) -> Replay:
    if record.request_sha256 != request_hash:
        raise ApiError(422, f"This {HEADER} was used for a different request (another "
                       "method, address or body); use a new key for a new request.",
                       error="idempotency_key_reused")
    if record.response_status is None:  # only visible if a database did not isolate it
        raise ApiError(409, f"A request with this {HEADER} is still in progress; try again "
                       "in a moment.", error="idempotency_key_in_progress")
    return Replay(record.response_status, record.response_body or {})


def _expired(record: IdempotencyRecord) -> bool:
    return utcnow() - record.created_at >= KEY_LIFETIME


def begin(token_id: int, key: str, request_hash: str) -> Replay | IdempotencyRecord:
    """At the start of the request's transaction: the stored response to replay, or the new
    record claiming the key (complete it with `finish`). Raises ApiError (422) when the key
    answered another request."""
    existing = _find(token_id, key)
    if existing is not None and _expired(existing):
        db.session.delete(existing)
        db.session.flush()
        existing = None
    if existing is not None:
        return _replay(existing, request_hash)
    record = IdempotencyRecord(token_id=token_id, key=key, request_sha256=request_hash)
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request with this key committed while this one waited on the index.
        db.session.rollback()
        existing = _find(token_id, key)
        if existing is None:
            raise ApiError(409, f"A request with this {HEADER} is still in progress; try "
                           "again in a moment.", error="idempotency_key_in_progress") from None
        return _replay(existing, request_hash)
    return record


def finish(record: IdempotencyRecord, status: int, body: dict[str, Any]) -> None:
    """Keep the response in the record, in the request's transaction."""
    record.response_status = status
    record.response_body = body
    db.session.flush()


def keep_error(token_id: int, key: str, request_hash: str, status: int,
               body: dict[str, Any]) -> None:
    """After the request rolled back: keep its error response for the key, in a transaction
    of its own (nothing if another request took the key meanwhile)."""
    try:
        db.session.add(IdempotencyRecord(token_id=token_id, key=key,
                                         request_sha256=request_hash,
                                         response_status=status, response_body=body))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def purge_expired_keys() -> int:
    """Delete the records older than KEY_LIFETIME; how many. The caller commits."""
    result = db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at < utcnow() - KEY_LIFETIME))
    return result.rowcount or 0
