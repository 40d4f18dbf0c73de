"""Where the outbox is delivered. ERP_WEBHOOK_URL and ERP_WEBHOOK_SECRET, when configured, name
the real ERP. Without them, the stand-in ERP (`flask erp simulate`) provisions an endpoint of
its own in the database, so that every `flask erp deliver` running beside the portal sends to
it; it withdraws the endpoint when it stops, and events wait in the outbox again.

The secret is kept in the clear because the portal signs with it; it only lets its holder sign
webhooks to the stand-in that provisioned it, which trusts nothing else.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from app.events.models import utcnow
from app.extensions import db


class WebhookEndpoint(db.Model):
    """The one provisioned endpoint (at most one row)."""

    __tablename__ = "erp_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    provisioned_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class DeliveryTarget:
    url: str
    secret: str | None
    source: str  # "configuration" or who provisioned the endpoint


def provision_endpoint(url: str, secret: str, *, by: str) -> WebhookEndpoint:
    """Make `url` the delivery target, replacing any endpoint provisioned before. Flushes."""
    db.session.execute(delete(WebhookEndpoint))
    endpoint = WebhookEndpoint(url=url, secret=secret, provisioned_by=by)
    db.session.add(endpoint)
    db.session.flush()
    return endpoint


def withdraw_endpoint(url: str) -> None:
    """Remove the provisioned endpoint if it is still `url` (a later stand-in may have replaced
    it). Flushes."""
    db.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.url == url))
    db.session.flush()


def delivery_target() -> DeliveryTarget | None:
    """The configured ERP first, then a provisioned endpoint; None when there is neither."""
    url = current_app.config["ERP_WEBHOOK_URL"]
    if url:
        return DeliveryTarget(url, current_app.config["ERP_WEBHOOK_SECRET"], "configuration")
    endpoint = db.session.scalar(select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc()))
    if endpoint is None:
        return None
    return DeliveryTarget(endpoint.url, endpoint.secret, endpoint.provisioned_by)
