"""PO numbers: the purchase order number a reseller wants on its invoices, for the whole
account (the default) or for one end customer, each from a date on."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.extensions import db


class PurchaseOrderNumber(db.Model):
    """One entry of a PO number schedule: `number` from `effective_from` on, for the account
    (`end_customer_id` None) or one of its end customers, until a later entry of the same scope
    takes over. A `number` of None ends the scope's PO number from its date. Entries are never
    changed or deleted: a later one of the same scope and date replaces an earlier one."""

    __tablename__ = "purchase_order_numbers"
    __table_args__ = (
        CheckConstraint("number IS NULL OR number <> ''", name="number_not_empty"),
        Index("ix_purchase_order_numbers_schedule", "account_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    end_customer_id: Mapped[int | None] = mapped_column(ForeignKey("end_customers.id"))
    number: Mapped[str | None] = mapped_column(String(40))
    effective_from: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
