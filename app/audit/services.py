"""Writing and reading the audit log. `audit(...)` is called by the service that makes a change,
in the change's own transaction (it flushes; the caller commits), so the log has an entry for
each change that was saved and none for one that was rolled back."""

from dataclasses import dataclass
from math import ceil
from typing import Any

import click
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.models import AuditEvent
from app.extensions import db

PAGE_SIZE = 25
USER_AGENT_LENGTH = 200
# Words that never belong in an entry's details: the log is read by every admin of the account.
SECRET_WORDS = ("password", "token", "secret", "cvc", "cvv", "account_number", "card_number")

# Every action the portal records, with the words the audit log page shows for it.
ACTIONS = {
    "user.invited": "User invited",
    "user.invitation_revoked": "Invitation revoked",
    "user.joined": "User joined",
    "user.role_changed": "Role changed",
    "user.deactivated": "User deactivated",
    "user.reactivated": "User reactivated",
    "payment_method.added": "Payment method added",
    "payment_method.verified": "Payment method verified",
    "payment_method.default_changed": "Default payment method changed",
    "payment_method.removed": "Payment method removed",
    "payment_method.disabled": "Payment method disabled",
    "credit.auto_apply_changed": "Credit auto-apply changed",
    "po_number.set": "PO number set",
    "po_number.ended": "PO number ended",
    "account.billing_contact_changed": "Billing contact changed",
    "change_request.started": "Change request started",
    "change_request.document_added": "Supporting document added",
    "change_request.document_removed": "Supporting document removed",
    "change_request.attested": "Change request attested",
    "change_request.submitted": "Change request submitted",
    "change_request.cancelled": "Change request cancelled",
    "change_request.in_review": "Change request in review",
    "change_request.approved": "Change request approved",
    "change_request.rejected": "Change request rejected",
    "change_request.applied": "Change applied to the account",
}


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user (`user_id` set, `name` their e-mail address) or a machine."""

    kind: str
    name: str
    user_id: int | None = None


ERP = Actor("erp", "ERP")
PAYMENT_GATEWAY = Actor("gateway", "Payment gateway")
SYSTEM = Actor("system", "Partner Portal")


def user_actor(user: User) -> Actor:
    return Actor("user", user.email, user.id)


def _resolve(actor: User | Actor | None) -> Actor:
    """The actor named, else the signed-in user of the request, else the `flask` command that
    runs, else SYSTEM."""
    if isinstance(actor, Actor):
        return actor
    if actor is not None:
        return user_actor(actor)
    if has_request_context() and current_user.is_authenticated:
        return user_actor(current_user)
    command = click.get_current_context(silent=True)
    if command is not None:
        return Actor("cli", f"Command line: {command.command_path}")
    return SYSTEM


def _check_no_secrets(details: dict[str, Any]) -> None:
    for key in details:
        if any(word in key.lower() for word in SECRET_WORDS):
            raise ValueError(f"audit details must not hold secrets ({key!r})")


def audit(action: str, *, account_id: int, actor: User | Actor | None = None,
          details: dict[str, Any] | None = None) -> AuditEvent:
    """Record `action` on the account, with who did it (see `_resolve`), when (UTC) and, in a
    request, from which address and browser. `details`: a small JSON object of plain facts.
    Raises ValueError for an action not in ACTIONS or details that look like secrets."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    details = details or {}
    _check_no_secrets(details)
    who = _resolve(actor)
    ip_address = user_agent = None
    if has_request_context():
        ip_address = request.remote_addr
        user_agent = (request.headers.get("User-Agent") or "")[:USER_AGENT_LENGTH] or None
    event = AuditEvent(
        account_id=account_id, action=action, actor_kind=who.kind, actor_user_id=who.user_id,
        actor_name=who.name[:254], ip_address=ip_address, user_agent=user_agent,
        details=details,
    )
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int
    pages: int
    count: int


def list_events(account_id: int, *, action: str | None = None, page: int = 1) -> AuditPage:
    """The account's entries, newest first, PAGE_SIZE a page (a page past the last one shows
    the last one), optionally of one action only."""
    query = select(AuditEvent).where(AuditEvent.account_id == account_id)
    if action:
        query = query.where(AuditEvent.action == action)
    count = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(ceil(count / PAGE_SIZE), 1)
    page = min(max(page, 1), pages)
    events = db.session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return AuditPage(list(events), page, pages, count)


def action_label(action: str) -> str:
    return ACTIONS.get(action, action)


def describe_details(details: dict[str, Any]) -> str:
    """The details as the page shows them: `name: value` pairs in their order."""
    return " · ".join(f"{key.replace('_', ' ')}: {value}" for key, value in details.items())
