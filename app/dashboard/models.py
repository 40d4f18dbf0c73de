"""What the dashboard remembers per user: the announcements each user dismissed, and when."""

from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class BannerDismissal(db.Model):
    """A user dismissed the banner announcing the article `slug` on `dismissed_on`. The banner
    comes back when the article is updated after that day (app.dashboard.services)."""

    __tablename__ = "banner_dismissals"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    dismissed_on: Mapped[date]
