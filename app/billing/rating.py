"""Rating: what a subscription costs in a billing period. Pure functions of the subscription's
terms, so the rules can be read and tested without a database.

The invoice of period P (a calendar month, dated its first day, or the cutover date for the
cutover month) carries:
- in advance: the recurring charge of P for monthly subscriptions active on P's first day,
  and the full annual charge of every annual term that began since the previous invoice;
- in arrears, for the previous month Q: daily prorations of subscriptions that started,
  changed or ended during Q, usage of Q, and one-time fees dated up to Q's last day.
A proration is quantity × unit price × days ÷ days in the month (or the annual term), rounded
half-up to the cent once, on the line.

The engine's first invoice, for the cutover month (app.billing.cutover), also charges every
annual term that is running on the month's first day and began on or before the previous
month's first day (the legacy system's last in-advance invoice): from that day to the end of
the term, prorated daily. A change or end of such a term in the previous month is prorated up to
that month's last day only, since the rest of the term is on that charge.
"""

import re
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from app.billing.cutover import first_engine_period_start
from app.billing.models import BillingCycle, ChargeModel, ChargeType
from app.formatting import date_range, medium_date, unit_price
from app.formatting import quantity as format_quantity
from app.money import round_money

ONE_DAY = timedelta(days=1)
PERIOD_RE = re.compile(r"(\d{4})-(\d{2})")
# A subscription's usage of a month: (day, quantity) readings, or the month's total (read on
# its last day).
Usage = Sequence[tuple[date, Decimal]] | Decimal


@dataclass(frozen=True)
class Change:
    effective_date: date
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Terms:
    """A subscription as the rater sees it."""

    id: int
    end_customer_id: int
    end_customer_name: str
    name: str
    sku: str
    charge_model: ChargeModel
    cycle: BillingCycle
    start_date: date
    end_date: date | None
    quantity: int
    unit_price: Decimal
    changes: tuple[Change, ...] = ()
    currency: str = "USD"

    def on(self, day: date) -> tuple[int, Decimal]:
        """Quantity and unit price in effect on `day`."""
        quantity, price = self.quantity, self.unit_price
        for change in self.changes:
            if change.effective_date <= day:
                quantity, price = change.quantity, change.unit_price
        return quantity, price

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


@dataclass(frozen=True)
class DraftLine:
    end_customer_id: int | None
    end_customer_name: str
    subscription_id: int | None
    subscription_name: str
    sku: str | None
    charge_type: ChargeType
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    service_start: date
    service_end: date
    # Set on daily-rated seat lines: amount = quantity × unit price × service days ÷ span_days.
    span_days: int | None = None


@dataclass(frozen=True)
class OneTimeFee:
    id: int
    end_customer_id: int | None
    end_customer_name: str
    subscription_id: int | None
    subscription_name: str
    description: str
    amount: Decimal
    charge_date: date


@dataclass
class Period:
    start: date
    end: date
    previous_start: date = field(init=False)
    previous_end: date = field(init=False)

    def __post_init__(self) -> None:
        self.previous_end = self.start - ONE_DAY
        self.previous_start = self.previous_end.replace(day=1)

    @classmethod
    def parse(cls, text: str) -> "Period":
        """`YYYY-MM` → the calendar month. Raises ValueError on anything else."""
        match = PERIOD_RE.fullmatch(text or "")
        try:
            if not match:
                raise ValueError(text)
            year, month = int(match.group(1)), int(match.group(2))
            start = date(year, month, 1)
        except ValueError as error:
            raise ValueError(f"'{text}' is not a period; use YYYY-MM, e.g. 2026-03") from error
        return cls(start, start.replace(day=monthrange(year, month)[1]))

    @property
    def key(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def previous_days(self) -> int:
        return (self.previous_end - self.previous_start).days + 1


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def term_containing(terms: Terms, day: date) -> tuple[date, date]:
    """The annual term (first and last day) that contains `day`. Both ends count from the
    start date, so a term begun on 29 February runs to the day before the 29th in leap years."""
    years = day.year - terms.start_date.year
    if add_years(terms.start_date, years) > day:
        years -= 1
    # The next term begins on the next anniversary of the start (February 29 again in a leap
    # year), not a year after this term's first day.
    return (add_years(terms.start_date, years),
            add_years(terms.start_date, years + 1) - ONE_DAY)


def seat_terms(quantity, price: Decimal, days: int, span: int, currency: str) -> str:
    """What makes a seat line's amount: "10 × $12.00 × 30/30 days"."""
    return f"{quantity} × {unit_price(price, currency)} × {days}/{span} days"


def _line(terms: Terms, charge_type: ChargeType, description: str, quantity, price: Decimal,
          start: date, end: date, span: int | None) -> DraftLine:
    """A line whose amount is quantity × price × its days ÷ `span` (or quantity × price when
    `span` is None), rounded half-up to the cent once."""
    amount = Decimal(quantity) * price
    if span is not None:
        amount = amount * ((end - start).days + 1) / span
    return DraftLine(
        end_customer_id=terms.end_customer_id,
        end_customer_name=terms.end_customer_name,
        subscription_id=terms.id,
        subscription_name=terms.name,
        sku=terms.sku,
        charge_type=charge_type,
        description=description,
        quantity=Decimal(quantity),
        unit_price=price,
        amount=round_money(amount),
        service_start=start,
        service_end=end,
        span_days=span,
    )


def _seat_line(terms: Terms, charge_type: ChargeType, label: str, quantity, price: Decimal,
               start: date, end: date, span: int) -> DraftLine:
    days = (end - start).days + 1
    return _line(terms, charge_type,
                 f"{label}: {seat_terms(quantity, price, days, span, terms.currency)}",
                 quantity, price, start, end, span)


def recurring_lines(terms: Terms, period: Period, first_invoice: bool = False) -> list[DraftLine]:
    """The in-advance charge of `period` (`first_invoice`: the engine's first, see above)."""
    if terms.charge_model != ChargeModel.PER_SEAT:
        return []
    if terms.cycle == BillingCycle.MONTHLY:
        if not terms.active_on(period.start):
            return []
        quantity, price = terms.on(period.start)
        if not quantity:
            return []
        days = (period.end - period.start).days + 1
        return [_seat_line(terms, ChargeType.RECURRING, f"{terms.name}, monthly", quantity,
                           price, period.start, period.end, days)]
    lines = []
    # Annual terms that began after the previous invoice, up to this one.
    for years in range(period.start.year - terms.start_date.year - 1,
                       period.start.year - terms.start_date.year + 1):
        term_start = add_years(terms.start_date, years)
        if period.previous_start < term_start <= period.start and terms.active_on(term_start):
            quantity, price = terms.on(term_start)
            if quantity:
                term_end = add_years(terms.start_date, years + 1) - ONE_DAY
                lines.append(_seat_line(
                    terms, ChargeType.RECURRING,
                    f"{terms.name}, annual term {date_range(term_start, term_end)}",
                    quantity, price, term_start, term_end, (term_end - term_start).days + 1))
    if first_invoice and terms.active_on(period.start):
        lines += _running_term_line(terms, period)
    return lines


def _running_term_line(terms: Terms, period: Period) -> list[DraftLine]:
    """The first invoice's charge of an annual term running since before the engine: from the
    period's first day to the end of the term, prorated daily."""
    term_start, term_end = term_containing(terms, period.start)
    if term_start > period.previous_start:
        return []  # began since the legacy system's last invoice: charged whole, above
    quantity, price = terms.on(period.start)
    if not quantity:
        return []
    return [_seat_line(terms, ChargeType.PRORATION,
                       f"{terms.name}, annual term {date_range(term_start, term_end)}, "
                       f"from {medium_date(period.start)}",
                       quantity, price, period.start, term_end,
                       (term_end - term_start).days + 1)]


def _span(terms: Terms, day: date, period: Period, first_invoice: bool) -> tuple[date, int]:
    """For a change of an annual term on `day`: the last day it is prorated to, and the days
    of the whole term."""
    term_start, term_end = term_containing(terms, day)
    if first_invoice and term_start <= period.previous_start and term_end >= period.start:
        # The rest of the term, from the period's first day, is on the first invoice's charge.
        return period.previous_end, (term_end - term_start).days + 1
    return term_end, (term_end - term_start).days + 1


def difference_lines(terms: Terms, charge_type: ChargeType, label: str, old: tuple[int, Decimal],
                     new: tuple[int, Decimal], start: date, end: date, span: int
                     ) -> list[DraftLine]:
    """The lines that turn `old` (quantity, price) into `new` over `start`–`end`: one line of
    the quantity's difference at an unchanged price, or, when the price changed, one taking
    the old quantity off at the old price and one adding the new at the new price — so that
    each line's quantity × price × days ÷ span is its amount."""
    (old_quantity, old_price), (new_quantity, new_price) = old, new
    if not old_quantity or not new_quantity or old_price == new_price:
        if old_quantity and new_quantity:
            pairs = [(new_quantity - old_quantity, new_price)]
        else:
            pairs = [(-old_quantity, old_price), (new_quantity, new_price)]
    else:
        pairs = [(-old_quantity, old_price), (new_quantity, new_price)]
    return [_seat_line(terms, charge_type, label, quantity, price, start, end, span)
            for quantity, price in pairs if quantity]


def _monthly_arrears(terms: Terms, period: Period) -> list[DraftLine]:
    """A monthly subscription's previous month, day by day, against its in-advance charge
    (the quantity and price of the month's first day, when it was active then): one line per
    run of days whose quantity or price differs. A subscription that starts and ends within
    the month is one line, rounded once."""
    first, last, span = period.previous_start, period.previous_end, period.previous_days

    def state(day: date) -> tuple[int, Decimal]:
        return terms.on(day) if terms.active_on(day) else (0, Decimal(0))

    # The days where the state can change: a start, a change, the day after the end.
    cuts = {first, last + ONE_DAY}
    cuts |= {day for day in (terms.start_date, *(c.effective_date for c in terms.changes))
             if first < day <= last}
    if terms.end_date is not None and first <= terms.end_date < last:
        cuts.add(terms.end_date + ONE_DAY)
    if len(cuts) == 2 and terms.active_on(first) and terms.active_on(last):
        return []  # the month as its advance charge billed it
    advance = state(first)
    lines: list[DraftLine] = []
    runs: list[list] = []  # [first day, last day, state]
    bounds = sorted(cuts)
    for day, following in zip(bounds, bounds[1:], strict=False):
        current = state(day)
        if runs and runs[-1][2] == current:
            runs[-1][1] = following - ONE_DAY
        else:
            runs.append([day, following - ONE_DAY, current])
    for day, run_end, current in runs:
        if current != advance and (current[0] or advance[0]):
            lines += difference_lines(terms, ChargeType.PRORATION,
                                      _event_label(terms, day, run_end), advance, current, day,
                                      run_end, span)
    return lines


def _event_label(terms: Terms, day: date, run_end: date) -> str:
    """What began a run of days: "Started Oct 22, 2026", "Changed …", "Ended …" (the last day
    of service)."""
    if terms.end_date is not None and day > terms.end_date:
        return f"Ended {medium_date(terms.end_date)}"
    if day == terms.start_date:
        label = f"Started {medium_date(day)}"
        if terms.end_date is not None and terms.end_date == run_end:
            label += f", ended {medium_date(run_end)}"
        return label
    return f"Changed {medium_date(day)}"


def proration_lines(terms: Terms, period: Period, first_invoice: bool = False) -> list[DraftLine]:
    """Arrears: starts, changes and ends of service during the previous month."""
    if terms.charge_model != ChargeModel.PER_SEAT:
        return []
    if terms.cycle == BillingCycle.MONTHLY:
        return _monthly_arrears(terms, period)
    lines = []
    first, last = period.previous_start, period.previous_end
    # Annual terms are charged whole, in advance: a change prorates the rest of its term.
    for change in terms.changes:
        day = change.effective_date
        if not first <= day <= last or day <= terms.start_date or not terms.active_on(day):
            continue
        if term_containing(terms, day)[0] == day:
            continue  # a change on the renewal day is billed with the renewal
        old = terms.on(day - ONE_DAY)
        end, span_days = _span(terms, day, period, first_invoice)
        lines += difference_lines(terms, ChargeType.PRORATION,
                                  f"Changed {medium_date(day)}",
                                  old, (change.quantity, change.unit_price), day, end,
                                  span_days)
    if terms.end_date is not None and first <= terms.end_date <= last:
        ended = terms.end_date
        quantity, price = terms.on(ended)
        end, span_days = _span(terms, ended, period, first_invoice)
        if quantity and end > ended:
            lines.append(_seat_line(
                terms, ChargeType.PRORATION,
                f"Ended {medium_date(ended)}",
                -quantity, price, ended + ONE_DAY, end, span_days))
    return lines


def price_runs(terms: Terms, first: date, last: date) -> list[tuple[date, date, Decimal]]:
    """`first`–`last` cut where the unit price changes: (start, end, price) runs."""
    runs, day = [], first
    for change in terms.changes:
        if first < change.effective_date <= last:
            runs.append((day, change.effective_date - ONE_DAY, terms.on(day)[1]))
            day = change.effective_date
    runs.append((day, last, terms.on(day)[1]))
    merged: list[tuple[date, date, Decimal]] = []
    for start, end, price in runs:
        if merged and merged[-1][2] == price:
            merged[-1] = (merged[-1][0], end, price)
        else:
            merged.append((start, end, price))
    return merged


def usage_by_price(terms: Terms, first: date, last: date, usage: Usage
                   ) -> list[tuple[date, date, Decimal, Decimal]]:
    """Usage of `first`–`last` summed per run of days at one price: (start, end, price,
    quantity). `usage`: (day, quantity) readings, or one total read on `last`."""
    readings = [(last, usage)] if isinstance(usage, Decimal) else usage
    return [(start, end, price, sum((q for day, q in readings if start <= day <= end),
                                    Decimal(0)))
            for start, end, price in price_runs(terms, first, last)]


def usage_line(terms: Terms, period: Period, usage: Usage) -> list[DraftLine]:
    """Arrears: metered usage of the previous month, each day at the price in effect that day
    (one line per run of days at one price)."""
    if terms.charge_model != ChargeModel.USAGE or not usage:
        return []
    return [_line(terms, ChargeType.USAGE,
                  f"Usage {date_range(start, end)}: {format_quantity(used)} × "
                  f"{unit_price(price, terms.currency)}",
                  used, price, start, end, None)
            for start, end, price, used in usage_by_price(
                terms, period.previous_start, period.previous_end, usage) if used]


def one_time_line(fee: OneTimeFee) -> DraftLine:
    return DraftLine(
        end_customer_id=fee.end_customer_id,
        end_customer_name=fee.end_customer_name,
        subscription_id=fee.subscription_id,
        subscription_name=fee.subscription_name,
        sku=None,
        charge_type=ChargeType.ONE_TIME,
        description=fee.description,
        quantity=Decimal(1),
        unit_price=fee.amount,
        amount=round_money(fee.amount),
        service_start=fee.charge_date,
        service_end=fee.charge_date,
    )


CHARGE_ORDER = {
    ChargeType.RECURRING: 0,
    ChargeType.USAGE: 1,
    ChargeType.ONE_TIME: 2,
    ChargeType.PRORATION: 3,
    ChargeType.ADJUSTMENT: 4,
}


def rate_period(
    subscriptions: list[Terms],
    period: Period,
    usage: dict[int, Usage],
    fees: list[OneTimeFee],
    cutover: date | None = None,
) -> list[DraftLine]:
    """Every line of one account's invoice for `period`, in invoice order: end customer,
    subscription, charge type. `cutover`: the cutover date, for the engine's first invoice."""
    first_invoice = cutover is not None and period.start == first_engine_period_start(cutover)
    lines: list[DraftLine] = []
    for terms in subscriptions:
        lines += recurring_lines(terms, period, first_invoice)
        lines += usage_line(terms, period, usage.get(terms.id, ()))
        lines += proration_lines(terms, period, first_invoice)
    lines += [one_time_line(fee) for fee in fees]
    return invoice_order(lines)


def invoice_order(lines: list[DraftLine]) -> list[DraftLine]:
    """Lines in invoice order: end customer, subscription, charge type, service start."""
    return sorted(
        lines,
        key=lambda line: (
            line.end_customer_name.lower(),
            line.subscription_name.lower(),
            line.subscription_id or 0,
            CHARGE_ORDER[line.charge_type],
            line.service_start,
        ),
    )
