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
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from app.billing.cutover import first_engine_period_start
from app.billing.models import BillingCycle, ChargeModel, ChargeType
from app.formatting import medium_date
from app.money import round_money

ONE_DAY = timedelta(days=1)
PERIOD_RE = re.compile(r"(\d{4})-(\d{2})")


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


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _term_containing(terms: Terms, day: date) -> tuple[date, date]:
    """The annual term (first and last day) that contains `day`. Both ends count from the
    start date, so a term begun on 29 February runs to the day before the 29th in leap years."""
    years = day.year - terms.start_date.year
    if _add_years(terms.start_date, years) > day:
        years -= 1
    # The next term begins on the next anniversary of the start (February 29 again in a leap
    # year), not a year after this term's first day.
    return (_add_years(terms.start_date, years),
            _add_years(terms.start_date, years + 1) - ONE_DAY)


def _line(terms: Terms, charge_type: ChargeType, description: str, quantity, unit_price,
          amount, start: date, end: date) -> DraftLine:
    return DraftLine(
        end_customer_id=terms.end_customer_id,
        end_customer_name=terms.end_customer_name,
        subscription_id=terms.id,
        subscription_name=terms.name,
        sku=terms.sku,
        charge_type=charge_type,
        description=description,
        quantity=Decimal(quantity),
        unit_price=unit_price,
        amount=round_money(amount),
        service_start=start,
        service_end=end,
    )


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
        return [_line(terms, ChargeType.RECURRING, f"{quantity} × {terms.name}, monthly",
                      quantity, price, quantity * price, period.start, period.end)]
    lines = []
    # Annual terms that began after the previous invoice, up to this one.
    for years in range(period.start.year - terms.start_date.year - 1,
                       period.start.year - terms.start_date.year + 1):
        term_start = _add_years(terms.start_date, years)
        if period.previous_start < term_start <= period.start and terms.active_on(term_start):
            quantity, price = terms.on(term_start)
            if quantity:
                term_end = _add_years(terms.start_date, years + 1) - ONE_DAY
                lines.append(_line(terms, ChargeType.RECURRING,
                                   f"{quantity} × {terms.name}, annual term",
                                   quantity, price, quantity * price, term_start, term_end))
    if first_invoice and terms.active_on(period.start):
        lines += _running_term_line(terms, period)
    return lines


def _running_term_line(terms: Terms, period: Period) -> list[DraftLine]:
    """The first invoice's charge of an annual term running since before the engine: from the
    period's first day to the end of the term, prorated daily."""
    term_start, term_end = _term_containing(terms, period.start)
    if term_start > period.previous_start:
        return []  # began since the legacy system's last invoice: charged whole, above
    quantity, price = terms.on(period.start)
    days, term_days = (term_end - period.start).days + 1, (term_end - term_start).days + 1
    if not quantity:
        return []
    return [_line(terms, ChargeType.PRORATION,
                  f"{quantity} × {terms.name}, annual term {medium_date(term_start)} – "
                  f"{medium_date(term_end)}: {days} of {term_days} days from "
                  f"{medium_date(period.start)}",
                  quantity, price, quantity * price * days / term_days, period.start, term_end)]


def _span(terms: Terms, day: date, period: Period, first_invoice: bool) -> tuple[date, int]:
    """For a change on `day`: the last day it is prorated to, and the days of the whole span."""
    if terms.cycle == BillingCycle.MONTHLY:
        return period.previous_end, period.previous_days
    term_start, term_end = _term_containing(terms, day)
    if first_invoice and term_start <= period.previous_start and term_end >= period.start:
        # The rest of the term, from the period's first day, is on the first invoice's charge.
        return period.previous_end, (term_end - term_start).days + 1
    return term_end, (term_end - term_start).days + 1


def proration_lines(terms: Terms, period: Period, first_invoice: bool = False) -> list[DraftLine]:
    """Arrears: starts, changes and ends of service during the previous month."""
    if terms.charge_model != ChargeModel.PER_SEAT:
        return []
    lines = []
    first, last = period.previous_start, period.previous_end
    annual = terms.cycle == BillingCycle.ANNUAL
    # A monthly subscription that started after the first of the month (annual terms are
    # charged whole, in advance, on the next invoice).
    if not annual and first < terms.start_date <= last:
        quantity, price = terms.on(terms.start_date)
        days = (last - terms.start_date).days + 1
        if quantity:
            lines.append(_line(
                terms, ChargeType.PRORATION,
                f"Started {medium_date(terms.start_date)}: {quantity} × {days} of "
                f"{period.previous_days} days", quantity, price,
                quantity * price * days / period.previous_days, terms.start_date, last))
    for change in terms.changes:
        day = change.effective_date
        # A monthly change on the 1st was already in that month's in-advance charge.
        in_window = first <= day <= last if annual else first < day <= last
        if not in_window or day <= terms.start_date or not terms.active_on(day):
            continue
        if annual and _term_containing(terms, day)[0] == day:
            continue  # a change on the renewal day is billed with the renewal
        old_quantity, old_price = terms.on(day - ONE_DAY)
        delta = change.quantity * change.unit_price - old_quantity * old_price
        if not delta:
            continue
        end, span_days = _span(terms, day, period, first_invoice)
        days = (end - day).days + 1
        lines.append(_line(
            terms, ChargeType.PRORATION,
            f"Changed {medium_date(day)}: {old_quantity} → {change.quantity} at "
            f"{change.unit_price.normalize():f}, {days} of {span_days} days",
            change.quantity - old_quantity, change.unit_price,
            delta * days / span_days, day, end))
    if terms.end_date is not None and first <= terms.end_date <= last:
        ended = terms.end_date
        quantity, price = terms.on(ended)
        end, span_days = _span(terms, ended, period, first_invoice)
        days = (end - ended).days
        if quantity and days:
            lines.append(_line(
                terms, ChargeType.PRORATION,
                f"Ended {medium_date(ended)}: credit for {days} of {span_days} days",
                -quantity, price, -quantity * price * days / span_days,
                ended + ONE_DAY, end))
    return lines


def usage_line(terms: Terms, period: Period, usage: Decimal) -> list[DraftLine]:
    """Arrears: metered usage of the previous month."""
    if terms.charge_model != ChargeModel.USAGE or not usage:
        return []
    _, price = terms.on(period.previous_end)
    return [_line(terms, ChargeType.USAGE,
                  f"Usage {medium_date(period.previous_start)} – "
                  f"{medium_date(period.previous_end)}",
                  usage, price, usage * price, period.previous_start, period.previous_end)]


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
}


def rate_period(
    subscriptions: list[Terms],
    period: Period,
    usage: dict[int, Decimal],
    fees: list[OneTimeFee],
    cutover: date | None = None,
) -> list[DraftLine]:
    """Every line of one account's invoice for `period`, in invoice order: end customer,
    subscription, charge type. `cutover`: the cutover date, for the engine's first invoice."""
    first_invoice = cutover is not None and period.start == first_engine_period_start(cutover)
    lines: list[DraftLine] = []
    for terms in subscriptions:
        lines += recurring_lines(terms, period, first_invoice)
        lines += usage_line(terms, period, usage.get(terms.id, Decimal(0)))
        lines += proration_lines(terms, period, first_invoice)
    lines += [one_time_line(fee) for fee in fees]
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
