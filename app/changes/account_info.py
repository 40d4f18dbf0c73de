"""The account page (SPEC §10): what the account holds today, which changes are pending, the
tax-exemption certificates on file, and the billing contact, which an admin changes at once
(no review by the ERP)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil

from sqlalchemy import func, select

from app.accounts.models import Account, User
from app.audit.services import audit
from app.changes.models import (
    OPEN_STATUSES,
    ChangeRequest,
    ChangeRequestDocument,
    ChangeStatus,
    ChangeType,
)
from app.changes.services import EXEMPT
from app.events.schemas import BillingContactChanged
from app.events.services import record_event
from app.extensions import db
from app.formatting import medium_date

PAGE_SIZE = 20


@dataclass(frozen=True)
class Pending:
    """A change of one kind that is on its way: the request, and how the page says it."""

    request: ChangeRequest
    text: str


def pending_text(request: ChangeRequest) -> str:
    if request.status == ChangeStatus.SUBMITTED:
        return f"Change submitted on {medium_date(request.submitted_at)}"
    if request.status == ChangeStatus.IN_REVIEW:
        return "In review"
    return f"Approved — takes effect on {medium_date(request.effective_date)}"


def pending_changes(account_id: int) -> dict[ChangeType, Pending]:
    """Per type, the request waiting for the ERP or for its effective date."""
    waiting = db.session.scalars(
        select(ChangeRequest).where(
            ChangeRequest.account_id == account_id,
            ChangeRequest.status.in_(OPEN_STATUSES)
            | ((ChangeRequest.status == ChangeStatus.APPROVED)
               & ChangeRequest.applied_at.is_(None)))
        .order_by(ChangeRequest.id)
    ).all()
    return {request.type: Pending(request, pending_text(request)) for request in waiting}


def tax_certificates(account: Account) -> list[ChangeRequestDocument]:
    """The documents of the applied request that made the account tax-exempt (its
    certificates); none when the account is not exempt."""
    if not account.tax_exempt:
        return []
    applied = db.session.scalars(
        select(ChangeRequest).where(
            ChangeRequest.account_id == account.id, ChangeRequest.type == ChangeType.TAX,
            ChangeRequest.applied_at.is_not(None))
        .order_by(ChangeRequest.applied_at.desc(), ChangeRequest.id.desc())
    ).all()
    claim = next((r for r in applied if r.proposed.get("tax_exempt") == EXEMPT), None)
    return list(claim.documents) if claim else []


def drafts(account_id: int) -> dict[ChangeType, ChangeRequest]:
    return {request.type: request for request in db.session.scalars(
        select(ChangeRequest).where(ChangeRequest.account_id == account_id,
                                    ChangeRequest.status == ChangeStatus.DRAFT))}


@dataclass(frozen=True)
class RequestPage:
    requests: list[ChangeRequest]
    page: int
    pages: int
    count: int


def list_requests(account_id: int, page: int = 1) -> RequestPage:
    """The account's requests, newest first, PAGE_SIZE a page (a page past the last shows the
    last)."""
    query = select(ChangeRequest).where(ChangeRequest.account_id == account_id)
    count = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(ceil(count / PAGE_SIZE), 1)
    page = min(max(page, 1), pages)
    requests = db.session.scalars(
        query.order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return RequestPage(list(requests), page, pages, count)


def update_billing_contact(account: Account, *, name: str | None, email: str | None,
                           phone: str | None, user: User) -> bool:
    """Change the billing contact at once (no review); records an audit entry and the event
    `account.billing_contact_changed`. Returns False when nothing changed."""
    values = {"billing_contact_name": name or None, "billing_contact_email": email or None,
              "billing_contact_phone": phone or None}
    if all(getattr(account, key) == value for key, value in values.items()):
        return False
    before = {key: getattr(account, key) for key in values}
    for key, value in values.items():
        setattr(account, key, value)
    now = datetime.now(UTC)
    record_event(BillingContactChanged(account_number=account.number, name=values[
        "billing_contact_name"], email=values["billing_contact_email"],
        phone=values["billing_contact_phone"], changed_by=user.email, changed_at=now),
        account_id=account.id)
    audit("account.billing_contact_changed", account_id=account.id, actor=user,
          details={"from": " · ".join(v for v in before.values() if v) or "none",
                   "to": " · ".join(v for v in values.values() if v) or "none"})
    db.session.flush()
    return True
