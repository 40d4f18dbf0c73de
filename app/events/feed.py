"""The pull feed of the outbox (`GET /api/erp/v1/events?after=<cursor>`): every event, once,
in one order that never changes, so a reader that keeps its cursor misses none.

Why not the row id: ids are taken when a transaction inserts, not when it commits. If A takes
id 5 and B takes id 6 and commits first, a reader sees 6, moves its cursor past it, and never
sees 5 when A commits. So the feed orders by `feed_position`, a number given to an event only
after it committed, by a serialised sequencer: a feed read first gives the next positions to
the committed events that have none, in id order, holding a lock that only one sequencer holds
at a time (`pg_advisory_xact_lock` on PostgreSQL, until its transaction ends; SQLite
serialises writers, and the unique index on `feed_position` refuses a duplicate anyway).
Positions are given in increasing order, and a sequencer commits before the next starts, so
any reader's snapshot holds every position up to the highest it sees: the cursor (the last
position read) never passes an event that will appear later.

A position is given only when the feed is read: events wait without one until then. Services
flush; the caller commits (the feed read's transaction).
"""

from sqlalchemy import func, select, text, update

from app.events.models import OutboxEvent
from app.extensions import db

# The advisory lock's key on PostgreSQL ("feed" in ASCII): one sequencer at a time.
SEQUENCER_LOCK = 0x66656564
# At most this many events get their position per read; the rest get theirs on the next.
SEQUENCE_BATCH = 5_000


def assign_feed_positions(batch: int = SEQUENCE_BATCH) -> int:
    """Give the next feed positions to committed events without one, in id order, under the
    sequencer's lock (held until the transaction ends); how many were given."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})
    waiting = list(db.session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.feed_position.is_(None))
        .order_by(OutboxEvent.id).limit(batch)))
    if not waiting:
        return 0
    last = db.session.scalar(select(func.max(OutboxEvent.feed_position))) or 0
    db.session.execute(
        update(OutboxEvent),
        [{"id": event_id, "feed_position": last + offset}
         for offset, event_id in enumerate(waiting, start=1)],
    )
    return len(waiting)


def read_feed(after: int, limit: int) -> list[OutboxEvent]:
    """Up to `limit` events after position `after`, in feed order (positions given first)."""
    assign_feed_positions()
    return list(db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.feed_position > after)
        .order_by(OutboxEvent.feed_position).limit(limit)))
