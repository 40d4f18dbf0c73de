"""Gapless document numbers: "INV-2026-000042", "CN-2026-000007"."""

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.billing.models import DocumentSequence
from app.extensions import db


def next_document_number(kind: str, year: int) -> str:
    """The next number of the year for `kind` ("INV", "CN"): gapless, because the counter row
    stays locked until the issuing transaction commits or rolls back."""
    bump = (
        update(DocumentSequence)
        .where(DocumentSequence.kind == kind, DocumentSequence.year == year)
        .values(last_number=DocumentSequence.last_number + 1)
        .returning(DocumentSequence.last_number)
    )
    number = db.session.execute(bump).scalar()
    if number is None:
        try:
            with db.session.begin_nested():
                db.session.add(DocumentSequence(kind=kind, year=year, last_number=0))
        except IntegrityError:
            pass  # another transaction created the counter first
        number = db.session.execute(bump).scalar_one()
    return f"{kind}-{year}-{number:06d}"
