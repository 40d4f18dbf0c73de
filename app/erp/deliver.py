"""Delivering the outbox to the ERP: each due event is posted to ERP_WEBHOOK_URL, signed per
the Standard Webhooks spec; a 2xx answer delivers it, anything else is retried after a capped
exponential backoff with full jitter, and the last failed attempt dead-letters it.

Deliverers claim one due event at a time (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL)
and hold it by a lease, so several deliverers never send one event at once; a deliverer that
crashed mid-send leaves a lease that runs out, and the event is sent again. A delivered event
is never sent again. This is a worker: it commits per event, like the CLI that runs it.
"""

import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, or_, select, update
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from app.events.models import DeliveryState, OutboxEvent, utcnow
from app.events.schemas import envelope
from app.extensions import db

BACKOFF_BASE = timedelta(seconds=30)  # the first retry waits up to this long
BACKOFF_CAP = timedelta(hours=6)  # no retry waits longer than this
MAX_ATTEMPTS = 12  # the 12th failed attempt dead-letters the event (about 1.5 days in all)
REQUEST_TIMEOUT = 10.0  # seconds, for each of connect, write and read
LEASE = timedelta(minutes=2)  # longer than one send can take (REQUEST_TIMEOUT × 3)
POLL_INTERVAL = 2.0  # seconds `--forever` sleeps when nothing is due
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
LAST_ERROR_LENGTH = 500

Jitter = Callable[[float, float], float]


class WebhookConfigError(Exception):
    """ERP_WEBHOOK_SECRET is missing or not a Standard Webhooks secret."""


class ReplayRefused(Exception):
    """The event to replay does not exist or is not dead-lettered."""


def backoff_delay(failed_attempts: int, jitter: Jitter = random.uniform) -> timedelta:
    """How long to wait after `failed_attempts` (1, 2, …) failures: full jitter, a random time
    between zero and BACKOFF_BASE × 2^(failures − 1), capped at BACKOFF_CAP."""
    ceiling = min(BACKOFF_CAP.total_seconds(),
                  BACKOFF_BASE.total_seconds() * 2 ** (failed_attempts - 1))
    return timedelta(seconds=jitter(0.0, ceiling))


def signer(secret: str | None) -> Webhook:
    """The Standard Webhooks signer for a `whsec_…` secret. Raises WebhookConfigError."""
    if not secret:
        raise WebhookConfigError("Set ERP_WEBHOOK_SECRET (whsec_ followed by base64) to sign "
                                 "the webhooks.")
    if not secret.startswith(SECRET_PREFIX):
        raise WebhookConfigError("ERP_WEBHOOK_SECRET must start with whsec_.")
    try:
        return Webhook(secret)
    except (ValueError, EmptyWebhookSecretError) as error:  # binascii.Error: not base64
        raise WebhookConfigError("ERP_WEBHOOK_SECRET is not whsec_ followed by base64.") \
            from error


def signed_headers(webhook: Webhook, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one message sent at `at`."""
    at = at.astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": webhook.sign(msg_id=event_id, timestamp=at, data=body),
        "content-type": "application/json",
    }


def webhook_body(event: OutboxEvent) -> str:
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Claim:
    """An event a deliverer holds until `lease_token` is cleared or its lease runs out."""

    id: int
    event_id: str
    lease_token: str
    body: str


@dataclass
class DeliveryResult:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.dead


class Deliverer:
    """Posts due events to one URL. `clock` decides what is due and when retries fall
    (the signature's timestamp is always the real time, as the receiver checks it)."""

    def __init__(self, url: str, secret: str | None, *, client: httpx.Client | None = None,
                 clock: Callable[[], datetime] = utcnow, jitter: Jitter = random.uniform,
                 lease: timedelta = LEASE) -> None:
        self.url = url
        self.webhook = signer(secret)
        self.client = client or httpx.Client(timeout=REQUEST_TIMEOUT, follow_redirects=False)
        self.clock = clock
        self.jitter = jitter
        self.lease = lease

    def close(self) -> None:
        self.client.close()

    def claim_next(self) -> Claim | None:
        """Lease the next due event to this deliverer (committed), or None when none is due."""
        now = self.clock()
        event = db.session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.state == DeliveryState.PENDING, OutboxEvent.next_attempt_at <= now,
                   or_(OutboxEvent.leased_until.is_(None), OutboxEvent.leased_until <= now))
            .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if event is None:
            db.session.rollback()
            return None
        event.lease_token = secrets.token_hex(16)
        event.leased_until = now + self.lease
        claim = Claim(event.id, event.event_id, event.lease_token, webhook_body(event))
        db.session.commit()
        return claim

    def send(self, claim: Claim) -> str | None:
        """Post the event; None when the ERP answered 2xx, otherwise what went wrong."""
        headers = signed_headers(self.webhook, claim.event_id, claim.body, datetime.now(UTC))
        try:
            response = self.client.post(self.url, content=claim.body.encode(), headers=headers)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def settle(self, claim: Claim, error: str | None) -> DeliveryState | None:
        """Record the attempt (committed): delivered, due again later, or dead-lettered. None
        when this deliverer's lease ran out and another deliverer holds the event now."""
        now = self.clock()
        if error is None:
            # Whoever holds the lease now, the ERP has it: never send it again.
            db.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == claim.id, OutboxEvent.state == DeliveryState.PENDING)
                .values(state=DeliveryState.DELIVERED, delivered_at=now, last_error=None,
                        attempts=OutboxEvent.attempts + 1, lease_token=None, leased_until=None)
            )
            db.session.commit()
            return DeliveryState.DELIVERED
        event = db.session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.id == claim.id, OutboxEvent.lease_token == claim.lease_token,
                   OutboxEvent.state == DeliveryState.PENDING)
            .with_for_update()
        )
        if event is None:
            db.session.rollback()
            return None
        event.attempts += 1
        event.last_error = error[:LAST_ERROR_LENGTH]
        event.lease_token = event.leased_until = None
        if event.attempts >= MAX_ATTEMPTS:
            event.state, event.dead_at = DeliveryState.DEAD, now
        else:
            event.next_attempt_at = now + backoff_delay(event.attempts, self.jitter)
        state = event.state
        db.session.commit()
        return state

    def deliver_due(self, limit: int | None = None) -> DeliveryResult:
        """One pass: send every event due now (at most `limit`), one at a time."""
        result = DeliveryResult()
        while limit is None or result.attempted < limit:
            claim = self.claim_next()
            if claim is None:
                break
            outcome = self.settle(claim, self.send(claim))
            if outcome == DeliveryState.DELIVERED:
                result.delivered += 1
            elif outcome == DeliveryState.DEAD:
                result.dead += 1
            else:
                result.retrying += 1
        return result


def waiting_count() -> int:
    """Events not delivered yet (pending or dead-lettered)."""
    return db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.state != DeliveryState.DELIVERED)) or 0


def replay_dead_events(event_id: str | None = None, *, now: datetime | None = None) -> int:
    """Put dead-lettered events back in the queue, due now, with a fresh count of attempts:
    the one named `event_id`, or all of them. Flushes; returns how many. Raises ReplayRefused
    when `event_id` names no event or one that is not dead-lettered."""
    now = now or utcnow()
    query = select(OutboxEvent).where(OutboxEvent.state == DeliveryState.DEAD)
    if event_id is not None:
        event = db.session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == event_id))
        if event is None:
            raise ReplayRefused(f"There is no event {event_id}.")
        if event.state != DeliveryState.DEAD:
            raise ReplayRefused(f"{event_id} is {event.state.value}, not dead-lettered: only a "
                                "dead-lettered event is replayed.")
        query = query.where(OutboxEvent.id == event.id)
    events = list(db.session.scalars(query.with_for_update()))
    for event in events:
        event.state, event.attempts, event.next_attempt_at = DeliveryState.PENDING, 0, now
        event.dead_at = event.lease_token = event.leased_until = None
    db.session.flush()
    return len(events)
