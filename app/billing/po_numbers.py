"""PO numbers (SPEC §6): admins and billing users give the account a default PO number and
each end customer one of its own, each from a date on; the billing run prints the ones in
effect on an invoice's issue date.

A scope (the whole account, or one end customer) has a schedule of entries. The entry in
effect on a day is the one with the latest `effective_from` on or before that day; of entries
with the same date, the one added last. An entry without a number ends the PO number from its
date. Entries are only ever added, so issued invoices — which copy the numbers — never change,
and the schedule and the audit log tell who set what.

Dates: an entry may take effect from the first day of the current month (so that the invoice
of a month that has started, if the billing run has not issued it yet, can carry it) up to
SCHEDULE_YEARS_AHEAD years ahead. Earlier dates would reach only invoices already issued,
which never change.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import abort
from sqlalchemy import select

from app.accounts.models import User
from app.audit.services import audit
from app.billing.models import EndCustomer, PurchaseOrderNumber
from app.errors import DomainError
from app.extensions import db
from app.formatting import medium_date

PO_NUMBER_MAX_LENGTH = 40
SCHEDULE_YEARS_AHEAD = 2
WHOLE_ACCOUNT = "Whole account (default)"


class PONumberRefused(DomainError):
    """A PO number entry that cannot be saved; `field` names the form field it is about."""

    status = 422

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def clean_po_number(text: str | None) -> str | None:
    """The PO number as it is stored: trimmed, None when nothing is left (which ends a PO
    number). Raises ValueError, with a sentence for the reader, for more than
    PO_NUMBER_MAX_LENGTH characters or characters that cannot be printed (control
    characters, line breaks, tabs)."""
    number = (text or "").strip()
    if not number:
        return None
    if not number.isprintable():
        raise ValueError("Use letters, digits, spaces and punctuation only: no line breaks, "
                         "tabs or other control characters.")
    if len(number) > PO_NUMBER_MAX_LENGTH:
        raise ValueError(f"A PO number has at most {PO_NUMBER_MAX_LENGTH} characters; this "
                         f"one has {len(number)}.")
    return number


def earliest_effective_date(today: date) -> date:
    return today.replace(day=1)


def latest_effective_date(today: date) -> date:
    year = today.year + SCHEDULE_YEARS_AHEAD
    try:
        return today.replace(year=year)
    except ValueError:  # February 29, in a year that has none
        return today.replace(year=year, day=28)


def check_effective_date(effective_from: date, today: date) -> None:
    """Raises ValueError, with a sentence for the reader, for a date outside
    earliest_effective_date … latest_effective_date."""
    earliest, latest = earliest_effective_date(today), latest_effective_date(today)
    if effective_from < earliest:
        raise ValueError(f"Choose {medium_date(earliest)} or later: invoices already issued "
                         "keep the PO number they were issued with.")
    if effective_from > latest:
        raise ValueError(f"Choose a date up to {medium_date(latest)}, at most "
                         f"{SCHEDULE_YEARS_AHEAD} years ahead.")


def end_customers(account_id: int) -> list[EndCustomer]:
    """The account's end customers, by name."""
    return list(db.session.scalars(
        select(EndCustomer).where(EndCustomer.account_id == account_id)
        .order_by(EndCustomer.name, EndCustomer.id)
    ))


def get_end_customer_or_404(account_id: int, end_customer_id: int) -> EndCustomer:
    """The account's end customer with this id. Raises 404 when there is none — also when
    the id is another account's."""
    customer = db.session.scalar(select(EndCustomer).where(
        EndCustomer.account_id == account_id, EndCustomer.id == end_customer_id))
    if customer is None:
        abort(404)
    return customer


@dataclass(frozen=True)
class InEffect:
    """The PO numbers in effect on a day: the account's default and each end customer's."""

    account: str | None
    customers: dict[int, str]


def _entries(account_id: int, end_customer_id: int | None = None, *, scoped: bool = False,
             until: date | None = None) -> list[PurchaseOrderNumber]:
    query = select(PurchaseOrderNumber).where(PurchaseOrderNumber.account_id == account_id)
    if scoped:
        query = query.where(PurchaseOrderNumber.end_customer_id.is_(None)
                            if end_customer_id is None
                            else PurchaseOrderNumber.end_customer_id == end_customer_id)
    if until is not None:
        query = query.where(PurchaseOrderNumber.effective_from <= until)
    return list(db.session.scalars(
        query.order_by(PurchaseOrderNumber.effective_from, PurchaseOrderNumber.id)))


def po_numbers_on(account_id: int, on: date) -> InEffect:
    """The account's PO numbers in effect on `on` (one query)."""
    current: dict[int | None, str | None] = {}
    for entry in _entries(account_id, until=on):
        current[entry.end_customer_id] = entry.number
    return InEffect(
        account=current.pop(None, None),
        customers={scope: number for scope, number in current.items() if number is not None},
    )


def schedule_po_number(account_id: int, *, end_customer: EndCustomer | None,
                       number: str | None, effective_from: date, today: date,
                       by: User | None = None) -> PurchaseOrderNumber:
    """Add an entry to the schedule of the account (`end_customer` None) or of one of its end
    customers: `number` from `effective_from` on; no number ends the PO number from that date.
    Audited. Raises PONumberRefused for a number `clean_po_number` refuses, a date outside the
    allowed range, or ending a PO number when there is none to end from that date."""
    if end_customer is not None and end_customer.account_id != account_id:
        abort(404)
    try:
        number = clean_po_number(number)
    except ValueError as refused:
        raise PONumberRefused("po_number", str(refused)) from None
    try:
        check_effective_date(effective_from, today)
    except ValueError as refused:
        raise PONumberRefused("effective_from", str(refused)) from None
    customer_id = end_customer.id if end_customer else None
    if number is None and not _has_number_from(account_id, customer_id, effective_from):
        raise PONumberRefused("po_number", "There is no PO number to end from that date. "
                                           "Enter the PO number to use.")
    entry = PurchaseOrderNumber(account_id=account_id, end_customer_id=customer_id,
                                number=number, effective_from=effective_from,
                                created_by_id=by.id if by else None)
    db.session.add(entry)
    db.session.flush()
    audit("po_number.set" if number else "po_number.ended", account_id=account_id, actor=by,
          details={"applies_to": end_customer.name if end_customer else "Whole account",
                   "po_number": number or "", "effective_from": effective_from.isoformat()})
    return entry


def _has_number_from(account_id: int, end_customer_id: int | None, day: date) -> bool:
    """Whether the scope has a PO number on `day` or from a later date."""
    in_effect = None
    for entry in _entries(account_id, end_customer_id, scoped=True):
        if entry.effective_from <= day:
            in_effect = entry.number
        elif entry.number is not None:
            return True
    return in_effect is not None


@dataclass(frozen=True)
class ScheduleEntry:
    number: str | None  # None: the PO number ends
    effective_from: date
    set_by: str | None
    set_at: datetime


@dataclass
class ScopeSchedule:
    """One scope's PO number today and the entries still to come, as the page lists them."""

    label: str
    end_customer_id: int | None
    current: ScheduleEntry | None = None
    scheduled: list[ScheduleEntry] = field(default_factory=list)


def po_schedules(account_id: int, today: date) -> list[ScopeSchedule]:
    """The account default's schedule first (always), then each end customer's that has
    entries, by name: the entry in effect today, if it sets a number, and later ones (one per
    date, the last added)."""
    rows = db.session.execute(
        select(PurchaseOrderNumber, EndCustomer.name, User.name)
        .outerjoin(EndCustomer, PurchaseOrderNumber.end_customer_id == EndCustomer.id)
        .outerjoin(User, PurchaseOrderNumber.created_by_id == User.id)
        .where(PurchaseOrderNumber.account_id == account_id)
        .order_by(PurchaseOrderNumber.effective_from, PurchaseOrderNumber.id)
    ).all()
    schedules: dict[int | None, ScopeSchedule] = {None: ScopeSchedule(WHOLE_ACCOUNT, None)}
    later: dict[int | None, dict[date, ScheduleEntry]] = {}
    for entry, customer_name, user_name in rows:
        scope = entry.end_customer_id
        schedule = schedules.setdefault(scope, ScopeSchedule(customer_name, scope))
        shown = ScheduleEntry(entry.number, entry.effective_from, user_name, entry.created_at)
        if entry.effective_from <= today:
            schedule.current = shown if entry.number is not None else None
        else:
            later.setdefault(scope, {})[entry.effective_from] = shown
    for scope, entries in later.items():
        schedules[scope].scheduled = [entries[day] for day in sorted(entries)]
    account_default = schedules.pop(None)
    customers = [schedule for schedule in schedules.values()
                 if schedule.current or schedule.scheduled]
    return [account_default, *sorted(customers, key=lambda schedule: (
        schedule.label.casefold(), schedule.end_customer_id))]
