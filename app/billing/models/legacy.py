"""Historical invoices: imported read-only from the legacy billing system's CSV export."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import utcnow
from app.billing.models.invoices import MONEY
from app.extensions import db


class HistoricalInvoice(db.Model):
    __tablename__ = "historical_invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    invoice_date: Mapped[date] = mapped_column(index=True)
    due_date: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    tax_total: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    legacy_status: Mapped[str] = mapped_column(String(20))  # as the legacy system said
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list["HistoricalInvoiceLine"]] = relationship(
        order_by="HistoricalInvoiceLine.line_number", lazy="raise"
    )


class HistoricalInvoiceLine(db.Model):
    __tablename__ = "historical_invoice_lines"
    __table_args__ = (
        UniqueConstraint("invoice_id", "line_number", name="uq_historical_invoice_lines_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("historical_invoices.id"), index=True)
    line_number: Mapped[int]
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
