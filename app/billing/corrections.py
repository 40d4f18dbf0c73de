"""Late data converges (SPEC §12): the corrections of days an earlier invoice already billed.

A change, cancellation or usage record is often reported days or weeks after it takes effect,
when the invoice that billed its days is issued — and issued invoices never change (SPEC §6).
The services that record such reports mark the subscription (`Subscription.rebill_from`);
the next billing run of its account re-rates every day the account's earlier invoices
covered for it and carries the difference on the new invoice as **adjustment lines**:

    correction(day) = what the day costs, from the complete history, day by day at the
                      quantity and price in effect that day
                    − what the stored lines billed for it (invoice lines and credit-note lines)
                    − what the new invoice's own lines bill for it (its arrears prorations)

For seats, each line stores what makes its amount — quantity × unit price × days ÷ span
(the days of the month, or of the annual term) — so what a day was billed is, per unit price,
the sum of the quantities of the lines covering it. A day's correction is then a quantity at
a price (a price change is one line taking the old price off and one adding the new), and
consecutive days with the same correction, span and original invoice are one line:
"Adjustment to INV-2024-000123: 10 × $12.00 × 30/30 days, Sep 1 – 30, 2024".
Usage is compared per month and unit price: the usage of the days at that price in the month
against the quantities billed at that price for the month.

Because the comparison is exact (fractions of a cent are compared before any rounding), the
lines of a subscription add up to its day-by-day cost within half a cent per line (each line
is rounded half-up to the cent once), whatever the order in which its data was reported.

Days before the period of the account's first invoice from the engine (the cutover month at
the earliest) belong to the legacy system, or were never the engine's, and are not re-rated;
nor is a subscription with seat lines issued before lines kept their span (their per-day
amounts are unknown).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.billing.models import BillingCycle, ChargeModel, ChargeType
from app.billing.rating import (
    ONE_DAY,
    DraftLine,
    Period,
    Terms,
    Usage,
    seat_terms,
    term_containing,
    usage_by_price,
)
from app.formatting import date_range, unit_price
from app.formatting import quantity as format_quantity
from app.money import round_money


@dataclass(frozen=True)
class BilledLine:
    """A stored line of a subscription (an invoice line or a credit note line), as the
    corrections read it. `document`: the invoice (or credit note) number it is on."""

    document: str
    period_start: date  # of its invoice; the credit note's date for a credit note
    quantity: Decimal
    unit_price: Decimal
    service_start: date
    service_end: date
    span_days: int | None


@dataclass(frozen=True)
class IssuedInvoice:
    number: str
    period_start: date
    period_end: date


def _month_days(day: date) -> int:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - day.replace(day=1)).days


def _span_of(terms: Terms, day: date) -> tuple[int, date]:
    """The span a day is rated over — days of its month (monthly) or of its annual term —
    and the first day of that month or term (lines never cross it)."""
    if terms.cycle == BillingCycle.MONTHLY:
        return _month_days(day), day.replace(day=1)
    term_start, term_end = term_containing(terms, day)
    return (term_end - term_start).days + 1, term_start


def invoiced_until(terms: Terms, previous: IssuedInvoice) -> date:
    """The last day of the subscription the account's invoice `previous` (and those before
    it) billed: the invoice's month for monthly seats, the end of the term it charged for
    annual ones, the month before the invoice's for usage (billed in arrears)."""
    if terms.charge_model == ChargeModel.USAGE:
        return previous.period_start - ONE_DAY
    if terms.cycle == BillingCycle.MONTHLY or terms.start_date > previous.period_start:
        return previous.period_end
    return term_containing(terms, previous.period_start)[1]


def _days(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += ONE_DAY


def _original(day: date, covering: dict[date, str], invoices: list[IssuedInvoice]) -> str:
    """The invoice a correction of `day` corrects: the first that billed the day for the
    subscription or, when none did, the account's invoice of the day's month (or the first
    after it)."""
    if day in covering:
        return covering[day]
    for invoice in invoices:
        if invoice.period_end >= day:
            return invoice.number
    return invoices[-1].number


def _adjustment(terms: Terms, description: str, quantity: Decimal, price: Decimal,
                start: date, end: date, span: int | None) -> DraftLine:
    amount = quantity * price
    if span is not None:
        amount = amount * ((end - start).days + 1) / span
    return DraftLine(
        end_customer_id=terms.end_customer_id, end_customer_name=terms.end_customer_name,
        subscription_id=terms.id, subscription_name=terms.name, sku=terms.sku,
        charge_type=ChargeType.ADJUSTMENT, description=description, quantity=quantity,
        unit_price=price, amount=round_money(amount), service_start=start, service_end=end,
        span_days=span,
    )


def seat_corrections(terms: Terms, first_day: date, last_day: date, known_until: date,
                     billed: list[BilledLine], new_lines: list[DraftLine],
                     invoices: list[IssuedInvoice]) -> list[DraftLine]:
    """Adjustment lines for a seat subscription's days `first_day`–`last_day`. A day after
    `known_until` (the new invoice's arrears month's end; an annual term billed in advance
    runs past it) is due what it would be billed at if nothing changed after that day: a
    change from a later day is prorated by the invoice of its own month, as on time."""
    if last_day < first_day:
        return []
    have: dict[date, dict[Decimal, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    covering: dict[date, str] = {}
    stored = sorted(billed, key=lambda line: line.period_start)
    drafts = [BilledLine("", date.max, line.quantity, line.unit_price, line.service_start,
                         line.service_end, line.span_days) for line in new_lines]
    for line in [*stored, *drafts]:
        for day in _days(max(line.service_start, first_day), min(line.service_end, last_day)):
            have[day][line.unit_price] += line.quantity
            if line.document:
                covering.setdefault(day, line.document)
    runs: list[list] = []  # [start, end, span, span start, invoice, ((price, quantity), …)]
    for day in _days(first_day, last_day):
        should: dict[Decimal, Decimal] = defaultdict(Decimal)
        as_of = min(day, known_until)
        if terms.active_on(day if day <= known_until or terms.end_date is None
                           or terms.end_date <= known_until else as_of):
            quantity, price = terms.on(as_of)
            if quantity:
                should[price] += quantity
        billed_then = have.get(day, {})
        delta = tuple(sorted(
            (price, should.get(price, Decimal(0)) - billed_then.get(price, Decimal(0)))
            for price in {*should, *billed_then}
            if should.get(price, Decimal(0)) != billed_then.get(price, Decimal(0))))
        if not delta:
            continue
        span, span_start = _span_of(terms, day)
        key = (span, span_start, _original(day, covering, invoices), delta)
        if runs and runs[-1][1] + ONE_DAY == day and tuple(runs[-1][2:]) == key:
            runs[-1][1] = day
        else:
            runs.append([day, day, *key])
    lines = []
    for start, end, span, _, invoice, delta in runs:
        days = (end - start).days + 1
        for price, quantity in delta:
            lines.append(_adjustment(
                terms,
                f"Adjustment to {invoice}: "
                f"{seat_terms(format_quantity(quantity), price, days, span, terms.currency)}, "
                f"{date_range(start, end)}",
                quantity, price, start, end, span))
    return lines


def usage_corrections(terms: Terms, first_day: date, last_day: date, billed: list[BilledLine],
                      readings: list[tuple[date, Decimal]], invoices: list[IssuedInvoice]
                      ) -> list[DraftLine]:
    """Adjustment lines for a usage subscription's months `first_day`–`last_day` (whole
    months, billed in arrears): per month and unit price, the usage of its days against what
    was billed."""
    lines = []
    month = first_day.replace(day=1)
    while month <= last_day:
        month_end = month.replace(day=_month_days(month))
        billed_at: dict[Decimal, Decimal] = defaultdict(Decimal)
        document = None
        for line in billed:
            if month <= line.service_start <= month_end:
                billed_at[line.unit_price] += line.quantity
                document = document or line.document
        month_usage: Usage = [(day, used) for day, used in readings if month <= day <= month_end]
        runs = usage_by_price(terms, month, month_end, month_usage)
        invoice = document or _original(month_end + ONE_DAY, {}, invoices)
        for start, end, price, used in runs:
            quantity = used - billed_at.pop(price, Decimal(0))
            if quantity:
                lines.append(_adjustment(
                    terms, f"Adjustment to {invoice}: usage {date_range(start, end)}, "
                    f"{format_quantity(quantity)} × {unit_price(price, terms.currency)}",
                    quantity, price, start, end, None))
        for price, quantity in billed_at.items():  # billed at a price no day of it has now
            if quantity:
                lines.append(_adjustment(
                    terms, f"Adjustment to {invoice}: usage {date_range(month, month_end)}, "
                    f"{format_quantity(-quantity)} × {unit_price(price, terms.currency)}",
                    -quantity, price, month, month_end, None))
        month = month_end + ONE_DAY
    return lines


def corrections(terms: Terms, period: Period, first_service_day: date,
                billed: list[BilledLine], new_lines: list[DraftLine],
                readings: list[tuple[date, Decimal]], invoices: list[IssuedInvoice]
                ) -> list[DraftLine]:
    """The adjustment lines of one subscription on the invoice of `period`: every day the
    account's earlier `invoices` (oldest first) billed, from `first_service_day` (the period
    of the account's first invoice) on — and, for usage, from the month before it.
    `billed`: the subscription's stored lines; `new_lines`: its lines on the new invoice;
    `readings`: its usage by day. Nothing when the account was never invoiced."""
    earlier = [invoice for invoice in invoices if invoice.period_start < period.start]
    if not earlier:
        return []
    last_day = invoiced_until(terms, earlier[-1])
    if terms.charge_model == ChargeModel.USAGE:
        # The account's first invoice billed the usage of the month before its own.
        first_month = (first_service_day - ONE_DAY).replace(day=1)
        return usage_corrections(terms, first_month, last_day, billed, readings, earlier)
    if terms.charge_model != ChargeModel.PER_SEAT or any(
            line.span_days is None for line in billed):
        return []
    return seat_corrections(terms, first_service_day, last_day, period.previous_end, billed,
                            new_lines, earlier)

