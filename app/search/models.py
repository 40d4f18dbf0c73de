"""What readers searched for and which result they opened (for the staff insights page)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.extensions import db


class SearchQuery(db.Model):
    __tablename__ = "search_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(200))
    normalised: Mapped[str] = mapped_column(String(200), index=True)
    result_count: Mapped[int]
    category: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    clicked_slug: Mapped[str | None] = mapped_column(String(120))
    clicked_at: Mapped[datetime | None]
