"""The cutover rule: invoices dated before the cutover date are historical (legacy, imported);
the billing engine's invoices are dated on or after it, and bill service from the first day of
the cutover month, an annual term running then included. Expected values are worked out by hand
in the comments."""

import re
from calendar import isleap
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.billing import services
from app.billing.cutover import engine_issue_date, first_engine_period_start, is_historical
from app.billing.engine import BillingError, check_period, run_billing
from app.billing.legacy import COLUMNS, import_rows
from app.billing.models import (
    BillingCycle,
    ChargeType,
    HistoricalInvoice,
    Invoice,
    InvoiceLine,
    Subscription,
)
from app.billing.rating import Change, Period, Terms, rate_period
from app.config import Config
from app.extensions import db
from tests.billing.factories import BillingFactory

CUTOVER = date(2018, 4, 2)
APRIL, MAY, JUNE = (Period.parse(f"2018-{m:02d}") for m in (4, 5, 6))
ARTICLES = Path(__file__).parents[2] / "content" / "articles"


def annual(**fields) -> Terms:
    values = dict(
        id=1, end_customer_id=1, end_customer_name="Coho Winery",
        name="Veeam Backup for Microsoft 365", sku="VEEAM-M365",
        charge_model=services.ChargeModel.PER_SEAT, cycle=BillingCycle.ANNUAL,
        start_date=date(2016, 6, 1), end_date=None, quantity=4, unit_price=Decimal("365.00"),
    )
    values.update(fields)
    return Terms(**values)


def lines_of(terms: Terms, period: Period, cutover: date | None = CUTOVER):
    return [(line.charge_type, line.amount, line.service_start, line.service_end)
            for line in rate_period([terms], period, {}, [], cutover)]


# --- the rule itself ---------------------------------------------------------------------------

@pytest.mark.parametrize(("invoice_date", "historical"), [
    (date(2018, 3, 1), True),
    (date(2018, 4, 1), True),  # the day before the cutover date
    (date(2018, 4, 2), False),  # the cutover date
    (date(2018, 4, 3), False),
])
def test_an_invoice_dated_before_the_cutover_date_is_historical(invoice_date, historical):
    assert is_historical(invoice_date, CUTOVER) is historical


@pytest.mark.parametrize(("period_start", "cutover", "issued"), [
    (date(2018, 4, 1), date(2018, 4, 2), date(2018, 4, 2)),  # the cutover month: its date
    (date(2018, 5, 1), date(2018, 4, 2), date(2018, 5, 1)),  # later: the month's first day
    (date(2018, 4, 1), date(2018, 4, 1), date(2018, 4, 1)),  # a cutover on a month's first
    (date(2019, 1, 1), date(2019, 1, 31), date(2019, 1, 31)),
])
def test_the_engine_dates_its_invoices_on_or_after_the_cutover(period_start, cutover, issued):
    assert engine_issue_date(period_start, cutover) == issued
    assert not is_historical(engine_issue_date(period_start, cutover), cutover)


def test_the_engine_bills_from_the_first_day_of_the_cutover_month():
    assert first_engine_period_start(date(2018, 4, 2)) == date(2018, 4, 1)
    assert first_engine_period_start(date(2018, 4, 1)) == date(2018, 4, 1)


def test_periods_before_the_cutover_month_or_not_yet_issued_are_refused():
    with pytest.raises(BillingError, match="before the cutover"):
        check_period(Period.parse("2018-03"), CUTOVER, date(2026, 11, 25))
    # The April 2018 invoice is dated April 2: on April 1 it cannot be issued yet.
    with pytest.raises(BillingError, match="not started"):
        check_period(APRIL, CUTOVER, date(2018, 4, 1))
    check_period(APRIL, CUTOVER, date(2018, 4, 2))


# --- an annual term running at the cutover (rating, no database) ------------------------------

def test_a_running_annual_term_is_charged_from_the_cutover_month_to_its_end():
    """Term Jun 1, 2017 – May 31, 2018 (365 days); April 1 – May 31 is 61 days:
    4 × 365.00 × 61 ÷ 365 = 244.00."""
    [line] = rate_period([annual()], APRIL, {}, [], CUTOVER)
    assert (line.charge_type, line.amount, line.service_start, line.service_end) == (
        ChargeType.PRORATION, Decimal("244.00"), date(2018, 4, 1), date(2018, 5, 31))
    assert line.description == ("Veeam Backup for Microsoft 365, annual term Jun 1, "
                                "2017\u2009–\u2009May 31, 2018, from Apr 1, 2018: "
                                "4 × $365.00 × 61/365 days")
    assert (line.quantity, line.unit_price) == (Decimal(4), Decimal("365.00"))
    # Then nothing in May, and the renewal whole in June: 4 × 365.00 for Jun 1, 2018 – May 31,
    # 2019.
    assert lines_of(annual(), MAY) == []
    assert lines_of(annual(), JUNE) == [
        (ChargeType.RECURRING, Decimal("1460.00"), date(2018, 6, 1), date(2019, 5, 31))]


def test_only_the_first_invoice_charges_the_running_term():
    assert lines_of(annual(), APRIL, cutover=None) == []
    # With a cutover in March 2018, April is not the engine's first month.
    assert lines_of(annual(), APRIL, cutover=date(2018, 3, 2)) == []
    # With a cutover in May, May's invoice charges the rest: May 1 – May 31, 31 of 365 days:
    # 4 × 365.00 × 31 ÷ 365 = 124.00.
    assert lines_of(annual(), MAY, cutover=date(2018, 5, 2)) == [
        (ChargeType.PRORATION, Decimal("124.00"), date(2018, 5, 1), date(2018, 5, 31))]


def test_a_term_begun_on_the_legacy_system_last_invoice_day_is_charged_from_the_cutover():
    """Began Mar 1, 2018 (the month before's first day): Apr 1, 2018 – Feb 28, 2019 is 334 of
    365 days: 4 × 365.00 × 334 ÷ 365 = 1,336.00."""
    assert lines_of(annual(start_date=date(2018, 3, 1)), APRIL) == [
        (ChargeType.PRORATION, Decimal("1336.00"), date(2018, 4, 1), date(2019, 2, 28))]


def test_a_term_begun_since_the_legacy_system_last_invoice_is_charged_whole():
    """Began Mar 15, 2018: no legacy invoice charged it, so it is charged whole, as usual."""
    assert lines_of(annual(start_date=date(2018, 3, 15)), APRIL) == [
        (ChargeType.RECURRING, Decimal("1460.00"), date(2018, 3, 15), date(2019, 3, 14))]


def test_a_term_begun_on_the_cutover_month_first_day_is_charged_whole():
    assert lines_of(annual(start_date=date(2017, 4, 1)), APRIL) == [
        (ChargeType.RECURRING, Decimal("1460.00"), date(2018, 4, 1), date(2019, 3, 31))]


def test_a_change_before_the_cutover_month_is_prorated_to_that_month_end_only():
    """4 → 6 seats on Mar 20, 2018: Mar 20 – 31 is 12 of 365 days: 2 × 365.00 × 12 ÷ 365 =
    24.00; the rest of the term at 6 seats: 6 × 365.00 × 61 ÷ 365 = 366.00."""
    terms = annual(changes=(Change(date(2018, 3, 20), 6, Decimal("365.00")),))
    assert sorted(lines_of(terms, APRIL), key=lambda line: line[2]) == [
        (ChargeType.PRORATION, Decimal("24.00"), date(2018, 3, 20), date(2018, 3, 31)),
        (ChargeType.PRORATION, Decimal("366.00"), date(2018, 4, 1), date(2018, 5, 31)),
    ]


def test_a_change_of_a_term_charged_whole_on_the_first_invoice_is_prorated_to_its_end():
    """Began Mar 15, 2018 (charged whole at 4 seats), 4 → 6 on Mar 20: Mar 20, 2018 – Mar 14,
    2019 is 360 of 365 days: 2 × 365.00 × 360 ÷ 365 = 720.00."""
    terms = annual(start_date=date(2018, 3, 15),
                   changes=(Change(date(2018, 3, 20), 6, Decimal("365.00")),))
    assert sorted(lines_of(terms, APRIL), key=lambda line: line[2]) == [
        (ChargeType.RECURRING, Decimal("1460.00"), date(2018, 3, 15), date(2019, 3, 14)),
        (ChargeType.PRORATION, Decimal("720.00"), date(2018, 3, 20), date(2019, 3, 14)),
    ]


def test_a_running_term_without_seats_is_not_charged():
    assert lines_of(annual(quantity=0), APRIL) == []


def test_a_term_ended_before_the_cutover_month_is_credited_to_that_month_end_only():
    """Ended Mar 20, 2018: Mar 21 – 31 is 11 of 365 days: −4 × 365.00 × 11 ÷ 365 = −44.00;
    nothing is running on Apr 1."""
    assert lines_of(annual(end_date=date(2018, 3, 20)), APRIL) == [
        (ChargeType.PRORATION, Decimal("-44.00"), date(2018, 3, 21), date(2018, 3, 31))]


def test_monthly_subscriptions_are_unchanged_on_the_first_invoice():
    terms = annual(cycle=BillingCycle.MONTHLY, unit_price=Decimal("12.50"))
    assert lines_of(terms, APRIL) == lines_of(terms, APRIL, cutover=None) == [
        (ChargeType.RECURRING, Decimal("50.00"), date(2018, 4, 1), date(2018, 4, 30))]


def anniversary(start: date, year: int) -> date:
    """`start`'s day in `year`; February 28 for a February 29 start in a common year."""
    if (start.month, start.day) == (2, 29) and not isleap(year):
        return date(year, 2, 28)
    return start.replace(year=year)


MONTHS = [Period.parse(f"{year}-{month:02d}") for year in (2018, 2019, 2020)
          for month in range(1, 13) if date(year, month, 1) >= APRIL.start]


@settings(max_examples=150, deadline=None)
@given(start=st.dates(min_value=date(2014, 1, 1), max_value=date(2018, 3, 31)),
       quantity=st.integers(1, 50),
       price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999"), places=2))
def test_from_the_cutover_every_day_of_an_annual_subscription_is_billed_once(start, quantity,
                                                                             price):
    """The engine's invoices from April 2018 to December 2020 cover one unbroken run of days —
    from April 1, 2018 (or the running term's start if it began after March 1) — with no day
    twice, and
    add up to the day-by-day cost of the term (quantity × price ÷ days of the term, per day)."""
    terms = annual(start_date=start, quantity=quantity, unit_price=price)
    lines = sorted((line for period in MONTHS
                    for line in rate_period([terms], period, {}, [], CUTOVER)),
                   key=lambda line: line.service_start)
    running = anniversary(start, 2018)  # the term running on April 1, 2018 began …
    if running > date(2018, 4, 1):
        running = anniversary(start, 2017)
    first = running if running > date(2018, 3, 1) else date(2018, 4, 1)
    assert lines[0].service_start == first
    for before, after in zip(lines, lines[1:], strict=False):
        assert after.service_start == before.service_end + timedelta(days=1)
    assert lines[-1].service_end >= date(2020, 12, 1)
    expected, day = Decimal(0), first
    while day <= lines[-1].service_end:
        term_start = anniversary(start, day.year)
        if term_start > day:
            term_start = anniversary(start, day.year - 1)
        term_days = (anniversary(start, term_start.year + 1) - term_start).days
        expected += quantity * price / term_days
        day += timedelta(days=1)
    billed = sum((line.amount for line in lines), Decimal(0))
    assert abs(billed - expected) <= Decimal("0.005") * len(lines) + Decimal("0.0001")


# --- the engine and the importer apply the same rule (database) -------------------------------

@pytest.fixture
def billing(factory):
    return BillingFactory(factory)


@pytest.fixture
def cutover(app, monkeypatch):
    monkeypatch.setitem(app.config, "CUTOVER_DATE", CUTOVER)
    return CUTOVER


def legacy_row(account: str, invoice_date: date) -> list[str]:
    return [account, f"L-{invoice_date:%Y%m%d}", invoice_date.isoformat(),
            (invoice_date + timedelta(days=30)).isoformat(), "USD", "paid", "1", "Seats", "3",
            "12.50", "37.50", "3.79"]


@pytest.mark.parametrize("cutover_date", [date(2018, 4, 2), date(2018, 4, 1), date(2019, 1, 31)])
def test_the_engine_and_the_importer_split_invoices_at_the_same_day(app, billing, monkeypatch,
                                                                     cutover_date):
    monkeypatch.setitem(app.config, "CUTOVER_DATE", cutover_date)
    account = billing.account(subscriptions=1, start=date(2017, 1, 1))
    day_before = cutover_date - timedelta(days=1)
    report = import_rows([COLUMNS, legacy_row(account.number, day_before),
                          legacy_row(account.number, cutover_date)], cutover=cutover_date)
    assert report.imported == [f"L-{day_before:%Y%m%d}"]
    assert [r.invoice_number for r in report.rejected] == [f"L-{cutover_date:%Y%m%d}"]
    run_billing(Period.parse(f"{cutover_date:%Y-%m}"))
    [invoice] = db.session.scalars(select(Invoice)).all()
    assert invoice.issue_date == cutover_date
    newest_historical = db.session.scalar(select(HistoricalInvoice.invoice_date))
    assert newest_historical == day_before < invoice.issue_date


def test_the_first_invoice_is_dated_the_cutover_date_and_later_ones_the_first(billing, cutover):
    billing.tax()
    billing.account(subscriptions=1, start=date(2017, 1, 1))
    run_billing(APRIL)
    run_billing(MAY)
    db.session.expire_all()
    april, may = db.session.scalars(select(Invoice).order_by(Invoice.period_start)).all()
    # Net 30 from April 2 is May 2; the period stays the calendar month.
    assert (april.number, april.issue_date, april.due_date) == (
        "INV-2018-000001", date(2018, 4, 2), date(2018, 5, 2))
    assert (april.period_start, april.period_end) == (date(2018, 4, 1), date(2018, 4, 30))
    assert (may.issue_date, may.due_date) == (date(2018, 5, 1), date(2018, 5, 31))
    assert april.total == Decimal("13.76")  # 1 × 12.50 + 10.1 % tax 1.2625 → 1.26


def test_the_engine_refuses_a_period_before_the_cutover_month(billing, cutover):
    billing.account(subscriptions=1, start=date(2017, 1, 1))
    with pytest.raises(BillingError, match="before the cutover"):
        run_billing(Period.parse("2018-03"))
    assert db.session.scalars(select(Invoice)).all() == []


def test_the_engine_first_invoice_charges_a_running_annual_term(factory, billing, cutover):
    account = factory.account(address_line1="1 Main Street", city="Seattle",
                              postal_code="98101")
    customer = services.create_end_customer(account.id, "Coho Winery")
    services.create_subscription(customer=customer, product=billing.product(), quantity=4,
                                 unit_price=Decimal("365.00"), start_date=date(2016, 6, 1),
                                 cycle=BillingCycle.ANNUAL)
    db.session.commit()
    for period in (APRIL, MAY, JUNE):
        run_billing(period)
    db.session.expire_all()
    billed = db.session.execute(
        select(Invoice.issue_date, InvoiceLine.amount, InvoiceLine.service_start,
               InvoiceLine.service_end)
        .join(InvoiceLine).order_by(Invoice.issue_date)).all()
    assert [tuple(row) for row in billed] == [
        (date(2018, 4, 2), Decimal("244.00"), date(2018, 4, 1), date(2018, 5, 31)),
        (date(2018, 6, 1), Decimal("1460.00"), date(2018, 6, 1), date(2019, 5, 31)),
    ]


# --- the demo --------------------------------------------------------------------------------

def test_the_demo_history_ends_before_the_cutover_and_annual_terms_are_billed_from_it(app,
                                                                                      cutover):
    from app.demo.services import seed_demo

    seed_demo(date(2026, 11, 25))
    db.session.commit()
    historical = db.session.scalars(select(HistoricalInvoice.invoice_date)).all()
    assert historical and all(is_historical(day, CUTOVER) for day in historical)
    assert max(historical) == date(2018, 3, 1)
    issued = db.session.scalars(select(Invoice.issue_date)).all()
    assert min(issued) == CUTOVER and not any(is_historical(day, CUTOVER) for day in issued)
    running = db.session.scalars(select(Subscription).where(
        Subscription.cycle == BillingCycle.ANNUAL, Subscription.start_date <= date(2018, 3, 1),
    )).all()
    assert running, "the demo has annual terms running at the cutover"
    for subscription in running:
        starts = sorted(db.session.scalars(select(InvoiceLine.service_start).where(
            InvoiceLine.subscription_id == subscription.id)))
        assert starts[0] == date(2018, 4, 1), subscription.start_date


def test_benchmark_accounts_are_billed_from_the_cutover_month_at_the_earliest(app, cutover):
    from app.demo.services import seed_bulk

    seed_bulk(accounts=1, months=6, today=date(2018, 5, 20))  # from December 2017 …
    db.session.commit()
    periods = set(db.session.scalars(select(Invoice.period_start)))
    assert periods == {date(2018, 4, 1), date(2018, 5, 1)}  # … but billed from April 2018


# --- what the articles and the README say -----------------------------------------------------

def spoken(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def flat(path: Path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())


def test_the_articles_state_the_configured_cutover_rule():
    cutover = Config.CUTOVER_DATE
    history = flat(ARTICLES / "how-do-i-retrieve-historical-invoice-information.md")
    assert f"Invoices dated **before the cutover date, {spoken(cutover)}," in history
    assert (f"({spoken(cutover)}, so {spoken(cutover - timedelta(days=1))} is the last day "
            "accepted)") in history
    first_issue = engine_issue_date(first_engine_period_start(cutover), cutover)
    assert f"the first, for {cutover:%B %Y}, is dated {spoken(first_issue)}" in history
    invoice = flat(ARTICLES / "what-will-my-invoice-look-like.md")
    assert f"is dated the cutover date, {spoken(cutover)}" in invoice
    announcement = flat(ARTICLES / "marketplace-enhancements-april-2018.md")
    assert f"Invoices dated before {spoken(cutover)} come from our previous billing" in announcement
    readme = flat(Path(__file__).parents[2] / "README.md")
    assert f"| `CUTOVER_DATE` | `{cutover.isoformat()}` |" in readme
    assert "invoices dated before it are historical; the engine's are dated on or after it" \
        in readme
    # No article calls another day the cutover.
    for path in ARTICLES.glob("*.md"):
        for found in re.findall(r"cutover date[^.]*?(\w+ \d{1,2}, \d{4})", flat(path)):
            assert found == spoken(cutover), path.name


def test_the_invoice_article_example_of_a_running_annual_term():
    """The article's numbers, written by hand there, are what the rating gives."""
    text = flat(ARTICLES / "what-will-my-invoice-look-like.md")
    assert "4 × 365.00 × 61 ÷ 365 | $244.00" in text
    assert "4 × 365.00 | $1,460.00" in text
    [line] = rate_period([annual()], APRIL, {}, [], CUTOVER)
    assert line.amount == Decimal("244.00")


def test_a_term_begun_on_february_29_renews_without_losing_a_day():
    """Begun Feb 29, 2016: the term from Feb 28, 2019 ends Feb 28, 2020 (366 days, to the eve
    of the next anniversary, Feb 29, 2020), whose term ends Feb 27, 2021."""
    terms = annual(start_date=date(2016, 2, 29))
    assert lines_of(terms, Period.parse("2019-03"), cutover=None) == [
        (ChargeType.RECURRING, Decimal("1460.00"), date(2019, 2, 28), date(2020, 2, 28))]
    assert lines_of(terms, Period.parse("2020-03"), cutover=None) == [
        (ChargeType.RECURRING, Decimal("1460.00"), date(2020, 2, 29), date(2021, 2, 27))]


def test_a_running_term_begun_on_february_29_is_charged_to_the_eve_of_its_anniversary():
    """With a cutover on April 2, 2019: the term Feb 28, 2019 – Feb 28, 2020 has 366 days;
    Apr 1, 2019 – Feb 28, 2020 is 334 of them: 4 × 365.00 × 334 ÷ 366 = 1,332.3497… → 1,332.35."""
    assert lines_of(annual(start_date=date(2016, 2, 29)), Period.parse("2019-04"),
                    cutover=date(2019, 4, 2)) == [
        (ChargeType.PRORATION, Decimal("1332.35"), date(2019, 4, 1), date(2020, 2, 28))]
