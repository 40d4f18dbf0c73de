"""Readers' votes on whether an article helped."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.extensions import db

# How a vote's `voter` names its reader.
SIGNED_IN_VOTER = "user:"  # + the user's id
ANONYMOUS_VOTER = "anon:"  # + a random id kept in the reader's session


class ArticleFeedback(db.Model):
    __tablename__ = "article_feedback"
    __table_args__ = (UniqueConstraint("slug", "voter", name="uq_article_feedback_slug_voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), index=True)
    # "user:<id>" for a signed-in reader, "anon:<random id>" for an anonymous one.
    voter: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    helpful: Mapped[bool]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def signed_in(self) -> bool:
        """Whether the reader was signed in (the user may since have been deleted)."""
        return self.voter.startswith(SIGNED_IN_VOTER)
