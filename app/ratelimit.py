"""Rate-limit counters kept in the application's own database, for Flask-Limiter.

`RATELIMIT_STORAGE_URI=database://` (the default) stores the counter of every Flask-Limiter
limit in the table `rate_limit_counters` of the database the portal already uses, SQLite file
or PostgreSQL. Every worker process and every server on that database counts together, and a
restart forgets nothing. Another URI (`redis://…`, `memcached://…`) selects a store of the
`limits` library instead.

The storage serves the fixed-window strategy (Flask-Limiter's default): a counter per key that
starts at the first hit and expires `expiry` seconds later. (The moving- and sliding-window
strategies need more than counters; `limits` refuses them for this storage at start.)

Each increment is one atomic upsert in its own transaction, apart from the request's session,
so a count is saved even when the request fails, and two workers hitting the same key at once
never lose a hit.
"""

import hashlib
import time

from limits.storage import Storage
from sqlalchemy import Float, String, case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

# Keys longer than this (a limit keyed on a long form value) are stored as their SHA-256.
MAX_KEY_LENGTH = 255
# Expired counters read as zero at once; their rows are deleted at most this often per process.
CLEANUP_INTERVAL_SECONDS = 60.0


class RateLimitCounter(db.Model):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    hits: Mapped[int]
    # Seconds since the epoch, as the `limits` library counts time.
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def storage_key(key: str) -> str:
    """The row key for a limit key: the key itself, or a digest when it is too long."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _insert(dialect_name: str):
    """The dialect's INSERT, which has ON CONFLICT DO UPDATE (an upsert)."""
    if dialect_name == "postgresql":
        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"rate-limit counters need SQLite or PostgreSQL, not {dialect_name}")


class DatabaseStorage(Storage):
    """A `limits` storage on the table `rate_limit_counters` of the app's database (`db`).

    It needs an application context (Flask-Limiter calls it while handling a request).
    """

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_cleanup = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the counter and return its new value; a counter that is missing
        or expired starts again at `amount` and expires `expiry` seconds from now."""
        now = time.time()
        table = RateLimitCounter.__table__
        insert = _insert(db.engine.dialect.name)(table).values(
            key=storage_key(key), hits=amount, expires_at=now + expiry
        )
        expired = table.c.expires_at <= now
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((expired, insert.excluded.hits), else_=table.c.hits + amount),
                "expires_at": case(
                    (expired, insert.excluded.expires_at), else_=table.c.expires_at
                ),
            },
        ).returning(table.c.hits)
        with db.engine.begin() as connection:
            hits = connection.execute(upsert).scalar_one()
        if now >= self._next_cleanup:
            self._next_cleanup = now + CLEANUP_INTERVAL_SECONDS
            self.delete_expired(now)
        return hits

    def _live(self, column, key: str):
        return select(column).where(
            RateLimitCounter.key == storage_key(key), RateLimitCounter.expires_at > time.time()
        )

    def get(self, key: str) -> int:
        with db.engine.connect() as connection:
            return connection.scalar(self._live(RateLimitCounter.hits, key)) or 0

    def get_expiry(self, key: str) -> float:
        """When the counter expires (now, when there is none)."""
        with db.engine.connect() as connection:
            expires_at = connection.scalar(self._live(RateLimitCounter.expires_at, key))
        return expires_at if expires_at is not None else time.time()

    def clear(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(
                delete(RateLimitCounter).where(RateLimitCounter.key == storage_key(key))
            )

    def reset(self) -> int:
        """Delete every counter; returns how many there were."""
        with db.engine.begin() as connection:
            count = connection.scalar(select(func.count()).select_from(RateLimitCounter)) or 0
            connection.execute(delete(RateLimitCounter))
        return count

    def check(self) -> bool:
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def delete_expired(self, now: float | None = None) -> int:
        """Delete the rows of expired counters; returns how many."""
        moment = time.time() if now is None else now
        with db.engine.begin() as connection:
            result = connection.execute(
                delete(RateLimitCounter).where(RateLimitCounter.expires_at <= moment)
            )
        return result.rowcount
