"""Change requests (SPEC §10): a reseller's request to change its legal name, mailing address
or tax details, reviewed by the ERP, with its supporting documents and its timeline."""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Account, User, utcnow
from app.extensions import db, enum_column


class ChangeType(enum.StrEnum):
    LEGAL_NAME = "legal_name"
    ADDRESS = "address"
    TAX = "tax"

    @property
    def slug(self) -> str:
        """The type as URLs spell it: `legal-name`, `address`, `tax`."""
        return self.value.replace("_", "-")

    @classmethod
    def from_slug(cls, slug: str) -> "ChangeType | None":
        return next((kind for kind in cls if kind.slug == slug), None)

    @property
    def label(self) -> str:
        return TYPE_LABELS[self]


TYPE_LABELS = {
    ChangeType.LEGAL_NAME: "Legal name",
    ChangeType.ADDRESS: "Mailing address",
    ChangeType.TAX: "Tax information",
}


class ChangeStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# A request waiting for the ERP: at most one of each type per account.
OPEN_STATUSES = (ChangeStatus.SUBMITTED, ChangeStatus.IN_REVIEW)


class Step(enum.StrEnum):
    """The steps of a draft, in order."""

    SCOPE = "scope"
    VALUES = "values"
    DOCUMENTS = "documents"
    REVIEW = "review"


STEP_LABELS = {
    Step.SCOPE: "What changes",
    Step.VALUES: "New values",
    Step.DOCUMENTS: "Supporting documents",
    Step.REVIEW: "Review",
}


def _one_per_type_where(statuses: tuple[ChangeStatus, ...]) -> Any:
    values = ", ".join(f"'{status.value}'" for status in statuses)
    return db.text(f"status IN ({values})")


class ChangeRequest(db.Model):
    __tablename__ = "change_requests"
    __table_args__ = (
        # The database, not only the services, keeps one draft and one open request of each
        # type per account: two tabs or a double click cannot make a second one.
        Index("uq_change_requests_one_draft", "account_id", "type", unique=True,
              sqlite_where=_one_per_type_where((ChangeStatus.DRAFT,)),
              postgresql_where=_one_per_type_where((ChangeStatus.DRAFT,))),
        Index("uq_change_requests_one_open", "account_id", "type", unique=True,
              sqlite_where=_one_per_type_where(OPEN_STATUSES),
              postgresql_where=_one_per_type_where(OPEN_STATUSES)),
        Index("ix_change_requests_account_created", "account_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # "CR-000123": how the ERP and the reseller name the request.
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    type: Mapped[ChangeType] = mapped_column(enum_column(ChangeType))
    status: Mapped[ChangeStatus] = mapped_column(enum_column(ChangeStatus),
                                                 default=ChangeStatus.DRAFT)
    step: Mapped[Step] = mapped_column(enum_column(Step), default=Step.SCOPE)
    # What the request changes (e.g. ["legal_name", "trading_name"]) and the values as typed,
    # by field name; the services validate them (app.changes.services.FIELDS).
    parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    proposed: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The account's values of the same fields when the request was submitted.
    previous: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    attested_name: Mapped[str | None] = mapped_column(String(120))
    attestation_text: Mapped[str | None] = mapped_column(Text)
    attested_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]
    submitted_ip: Mapped[str | None] = mapped_column(String(45))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    effective_date: Mapped[date | None]
    applied_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    documents: Mapped[list["ChangeRequestDocument"]] = relationship(
        back_populates="request", order_by="ChangeRequestDocument.id",
        cascade="all, delete-orphan")
    events: Mapped[list["ChangeRequestEvent"]] = relationship(
        back_populates="request", order_by="ChangeRequestEvent.id",
        cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ChangeRequestDocument(db.Model):
    __tablename__ = "change_request_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id"), index=True)
    # The stored file's name under DOCUMENTS_DIR (app.changes.documents), never the upload's.
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ChangeRequest] = relationship(back_populates="documents")


class ChangeRequestEvent(db.Model):
    """One row of a request's timeline: what happened, when, who did it."""

    __tablename__ = "change_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id"), index=True)
    # A status the request entered, or "applied" when the account took the change.
    what: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(Text)

    request: Mapped[ChangeRequest] = relationship(back_populates="events")
