"""Accounts (tenants), their users and the users' server-side sessions."""

import enum
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    ADMIN = "admin"
    BILLING = "billing"
    VIEWER = "viewer"
    STAFF = "staff"


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    # The name the reseller trades under, when it differs from the legal name.
    trading_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    # Mailing address and tax details: copied onto each invoice as its bill-to snapshot.
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    tax_id: Mapped[str | None] = mapped_column(String(40))
    tax_exempt: Mapped[bool] = mapped_column(default=False)
    # Who receives billing communication (SPEC §10): changed at once by an admin, no review.
    billing_contact_name: Mapped[str | None] = mapped_column(String(120))
    billing_contact_email: Mapped[str | None] = mapped_column(String(254))
    billing_contact_phone: Mapped[str | None] = mapped_column(String(40))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    # SPEC §9: apply available credit to each newly issued invoice (app.credit.services).
    auto_apply_credit: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list["User"]] = relationship(back_populates="account")

    @property
    def address_lines(self) -> list[str]:
        """The mailing address as printed on an invoice."""
        city_line = " ".join(part for part in (self.city, self.region, self.postal_code) if part)
        lines = [self.address_line1, self.address_line2 or "", city_line, self.country]
        return [line for line in lines if line]


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        db.Enum(Role, native_enum=False, length=20, values_callable=lambda e: [r.value for r in e])
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    account: Mapped[Account | None] = relationship(back_populates="users")

    # Set by the user loader: the server-side session this request runs under.
    session_token = None

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role == Role.STAFF

    def get_id(self) -> str:
        # Flask-Login stores this in the cookie: the session token, never the user id, so that
        # signing out deletes the session on the server and a copied cookie stops working.
        return self.session_token or ""


class UserSession(db.Model):
    __tablename__ = "user_sessions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # When the user last typed their password again in this session to make a sensitive
    # change (app.accounts.reauth); sign-in itself does not count.
    reauthenticated_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
