"""The dashboard's figures, each checked against data built through the domains' own services
and computed here from the invoices, payments and methods themselves; the second tenant's
data is never counted."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.invoices import InvoiceFilters, list_invoices
from app.billing.models import InvoiceStatus
from app.billing.rating import Period
from app.changes import services as changes
from app.changes.models import ChangeRequest, ChangeType
from app.credit.services import issue_credit_note
from app.dashboard import services
from app.dashboard.models import BannerDismissal
from app.extensions import db
from app.kb.articles import Article
from app.payments import methods
from app.payments.models import MethodStatus
from tests.changes.conftest import draft_of, submitted
from tests.dashboard.conftest import invoices_of
from tests.payments import gateway_factory

MAY_15 = date(2026, 5, 15)  # March's and April's invoices are overdue, May's is not


def unpaid(invoices):
    return [i for i in invoices if i.status in (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)]


# Balance due -------------------------------------------------------------------------------


def test_balance_due_overdue_and_next_due_date(tenant):
    invoices = tenant.invoices
    assert len(invoices) == 3
    figures = services.balance(tenant.account, Role.ADMIN, MAY_15)
    assert figures.due == sum(i.balance_due for i in invoices) > 0
    assert figures.open_count == 3
    overdue = [i for i in invoices if i.due_date < MAY_15]
    assert len(overdue) == 2
    assert figures.overdue == sum(i.balance_due for i in overdue)
    assert figures.overdue_count == 2
    assert figures.next_due_date == invoices[2].due_date
    assert figures.currency == "USD"
    # The same figures as the invoice list's open and overdue filters.
    assert figures.due == list_invoices(tenant.account.id, InvoiceFilters(status="open"),
                                        MAY_15).balance_due
    assert figures.overdue == list_invoices(tenant.account.id, InvoiceFilters(status="overdue"),
                                            MAY_15).balance_due


def test_a_payment_lowers_the_balance_by_its_amount(tenant):
    before = services.balance(tenant.account, Role.ADMIN, MAY_15)
    card = gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    oldest = tenant.invoices[0]
    gateway_factory.pay(card, [(oldest, oldest.balance_due), (tenant.invoices[1],
                                                              Decimal("10.01"))])
    db.session.commit()
    after = services.balance(tenant.account, Role.ADMIN, MAY_15)
    assert before.due - after.due == oldest.total + Decimal("10.01")
    assert after.open_count == 2
    assert after.overdue == sum(i.balance_due for i in unpaid(tenant.invoices)
                                if i.due_date < MAY_15)
    assert isinstance(after.due, Decimal) and after.due.as_tuple().exponent == -2


def test_nothing_overdue_and_no_due_date_once_everything_is_paid(tenant):
    card = gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    gateway_factory.pay(card, [(i, i.balance_due) for i in tenant.invoices])
    db.session.commit()
    figures = services.balance(tenant.account, Role.ADMIN, MAY_15)
    assert (figures.due, figures.overdue, figures.open_count, figures.next_due_date) == (
        Decimal("0.00"), Decimal("0.00"), 0, None)
    assert not figures.show_pay


@pytest.mark.parametrize(("role", "can_pay"), [
    (Role.ADMIN, True), (Role.BILLING, True), (Role.VIEWER, False)])
def test_pay_is_offered_to_the_roles_that_may_pay(tenant, role, can_pay):
    figures = services.balance(tenant.account, role, MAY_15)
    assert figures.show_pay is can_pay


def test_an_account_without_invoices_owes_nothing(factory):
    account = factory.account()
    figures = services.balance(account, Role.ADMIN, MAY_15)
    assert (figures.due, figures.open_count, figures.next_due_date) == (Decimal("0.00"), 0, None)
    assert services.recent_invoices(account, MAY_15) == []
    assert services.recent_payments(account) == []
    assert services.methods_needing_attention(account, MAY_15) == ([], 0)
    assert services.pending_change_requests(account) == []


# Credit and the next invoice ----------------------------------------------------------------


def test_available_credit_and_auto_apply(tenant):
    assert services.credit(tenant.account) == services.Credit("USD", Decimal("0.00"), False)
    issue_credit_note(tenant.account, Decimal("12.34"), "Outage", issue_date=date(2026, 5, 2))
    tenant.account.auto_apply_credit = True
    db.session.commit()
    assert services.credit(tenant.account) == services.Credit("USD", Decimal("12.34"), True)
    assert services.credit(tenant.other).available == Decimal("20.00")


CUTOVER = date(2018, 4, 2)


@pytest.mark.parametrize(("today", "billed_this_month", "expected"), [
    (date(2026, 6, 10), False, date(2026, 7, 1)),
    (date(2026, 6, 30), False, date(2026, 7, 1)),
    (date(2026, 7, 1), False, date(2026, 7, 1)),   # the issue day, before the run
    (date(2026, 7, 1), True, date(2026, 8, 1)),    # the issue day, after the run
    (date(2026, 12, 15), False, date(2027, 1, 1)),
    (date(2018, 3, 15), False, date(2018, 4, 2)),  # before the cutover: its date
    (date(2018, 4, 1), False, date(2018, 4, 2)),
    (date(2018, 4, 2), True, date(2018, 5, 1)),
])
def test_next_invoice_date_follows_the_engine(billing, today, billed_this_month, expected):
    account = billing.account(subscriptions=1, start=date(2018, 1, 1))
    if billed_this_month:
        run_billing(Period.parse(today.strftime("%Y-%m")), account_ids=[account.id])
        db.session.commit()
    assert services.next_invoice(account, today, CUTOVER).issue_date == expected


def test_next_invoice_names_its_month(tenant):
    assert services.next_invoice(tenant.account, date(2026, 6, 10), CUTOVER
                                 ).period_label == "July 2026"


# Payment methods ------------------------------------------------------------------------------


def test_methods_in_order_need_no_attention(tenant):
    gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    gateway_factory.bank_account(tenant.account, tenant.users[Role.ADMIN])
    db.session.commit()
    assert services.methods_needing_attention(tenant.account, date.today()) == ([], 2)


def test_unverified_disabled_and_expiring_methods_need_attention(tenant):
    admin = tenant.users[Role.ADMIN]
    today = date.today()
    pending = gateway_factory.bank_account(tenant.account, admin, verify=False)
    disabled = gateway_factory.bank_account(tenant.account, admin, number=gateway_factory.R02)
    methods.disable_method(disabled, "The account was closed (R02).")
    expiring = gateway_factory.card(tenant.account, admin)
    expiring.exp_month, expiring.exp_year = today.month, today.year
    gateway_factory.card(tenant.account, admin)  # valid to 2040
    others_expiring = gateway_factory.card(tenant.other, tenant.other_admin)
    others_expiring.exp_month, others_expiring.exp_year = today.month, today.year
    db.session.commit()
    attention, count = services.methods_needing_attention(tenant.account, today)
    assert count == 4
    by_label = {item.label: item for item in attention}
    assert set(by_label) == {pending.label, disabled.label, expiring.label}
    assert by_label[pending.label].badge == "Waiting for verification"
    assert "micro-deposit" in by_label[pending.label].reason
    assert by_label[disabled.label].badge == "Disabled"
    assert by_label[expiring.label].badge == "Expires soon"
    assert db.session.get(type(pending), pending.id).status == MethodStatus.PENDING_VERIFICATION


@pytest.mark.parametrize(("days_left", "flagged"), [
    (0, True), (services.CARD_EXPIRY_WARNING_DAYS, True),
    (services.CARD_EXPIRY_WARNING_DAYS + 1, False)])
def test_a_card_is_flagged_within_the_warning_window(tenant, days_left, flagged):
    card = gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    db.session.commit()
    last_day = services.card_last_day(card)
    today = last_day - timedelta(days=days_left)
    attention, _ = services.methods_needing_attention(tenant.account, today)
    assert bool(attention) is flagged


# Change requests, payments and invoices --------------------------------------------------------


def test_pending_change_requests(tenant):
    admin = tenant.users[Role.ADMIN]
    admin.account.tax_id = "91-1144442"
    db.session.commit()
    draft_of(ChangeType.TAX, admin)  # a draft is not pending
    address = submitted(ChangeType.ADDRESS, admin)
    legal = submitted(ChangeType.LEGAL_NAME, admin)
    changes.decide_request(legal, approve=True, reason=None, effective_date=date(2099, 1, 1),
                           today=date.today())
    db.session.commit()
    pending = services.pending_change_requests(tenant.account)
    assert [(p.reference, p.status) for p in pending] == [
        (address.reference, "Submitted"), (legal.reference, "Approved")]
    # Rejected or applied: no longer pending.
    changes.decide_request(db.session.get(ChangeRequest, address.id), approve=False,
                           reason="Unreadable", effective_date=None, today=date.today())
    db.session.commit()
    assert [p.reference for p in services.pending_change_requests(tenant.account)] == [
        legal.reference]


def test_recent_payments_are_the_five_newest_of_the_account(tenant):
    card = gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    made = [gateway_factory.pay(card, [(tenant.invoices[0], Decimal(f"1.0{n}"))])
            for n in range(6)]
    db.session.commit()
    recent = services.recent_payments(tenant.account)
    assert [p.reference for p in recent] == [p.reference for p in reversed(made)][:5]
    assert {p.status for p in recent} == {"Succeeded"}
    assert all(p.currency == "USD" for p in recent)


def test_recent_invoices_are_the_five_newest_with_their_status(billing, tenant):
    for period in ("2026-06", "2026-07", "2026-08"):
        run_billing(Period.parse(period), account_ids=[tenant.account.id])
    card = gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    invoices = tenant.invoices
    gateway_factory.pay(card, [(invoices[-1], invoices[-1].balance_due)])
    gateway_factory.pay(card, [(invoices[-2], Decimal("1.00"))])
    db.session.commit()
    today = date(2026, 7, 20)  # July's invoice is due on July 31
    recent = services.recent_invoices(tenant.account, today)
    newest = list(reversed(tenant.invoices))[:5]
    assert [r.number for r in recent] == [i.number for i in newest]
    assert [r.status for r in recent] == ["Paid", "Partially paid", "Overdue", "Overdue",
                                             "Overdue"]
    assert [r.overdue for r in recent] == [False, False, True, True, True]
    assert [r.status for r in services.recent_invoices(tenant.account, date(2026, 6, 20))][
        2] == "Open"  # June's invoice before its due date
    assert recent[1].balance_due == newest[1].total - Decimal("1.00")


def test_the_second_tenant_sees_only_its_own(tenant):
    figures = services.build_dashboard(tenant.other, Role.ADMIN, MAY_15)
    others = invoices_of(tenant.other)
    assert figures.balance.currency == "CAD"
    assert figures.balance.due == sum(i.balance_due for i in others)
    assert figures.credit.available == Decimal("20.00")
    assert {r.number for r in figures.invoices} == {i.number for i in others}
    assert len(figures.payments) == 1 and figures.payments[0].amount == Decimal("5.00")
    assert len(figures.pending_changes) == 1
    home = services.build_dashboard(tenant.account, Role.ADMIN, MAY_15)
    assert home.payments == [] and home.pending_changes == []
    assert home.credit.available == Decimal("0.00")


# The "What's changed" banner ------------------------------------------------------------------


UPDATED = date(2026, 11, 26)
WINDOW = timedelta(days=services.WHATS_CHANGED_DAYS)


def article(updated: date) -> Article:
    return Article(slug=services.WHATS_CHANGED_SLUG, title="Control panel changes", summary="",
                   category="Control panel", tags=[], related=[], pages=[], updated=updated,
                   body="")


@pytest.mark.parametrize(("dismissed", "today", "shown"), [
    (None, UPDATED, True),
    (None, UPDATED + WINDOW, True),                    # the last day of the window
    (None, UPDATED + WINDOW + timedelta(days=1), False),  # years later: no greeting
    (UPDATED, UPDATED, False),                         # dismissed on the update's day
    (UPDATED + timedelta(days=3), UPDATED + timedelta(days=5), False),
    (UPDATED - timedelta(days=1), UPDATED, True),      # dismissed an older announcement
])
def test_banner_rule(dismissed, today, shown):
    assert services.banner_shown(article(UPDATED), dismissed, today) is shown


def test_no_article_no_banner():
    assert services.banner_shown(None, None, UPDATED) is False


@settings(max_examples=60, deadline=None)
@given(dismissed=st.dates(date(2020, 1, 1), date(2030, 1, 1)),
       first=st.dates(date(2020, 1, 1), date(2030, 1, 1)),
       later=st.integers(1, 400))
def test_a_newer_update_shows_a_dismissed_banner_again(dismissed, first, later):
    """Dismissed on or after an update: hidden; the article updated after that day: shown
    (on its update day) again."""
    if dismissed < first:
        dismissed = first
    assert not services.banner_shown(article(first), dismissed, dismissed)
    updated = dismissed + timedelta(days=later)
    assert services.banner_shown(article(updated), dismissed, updated)


def test_dismissing_twice_keeps_one_row_and_the_latest_day(factory):
    user = factory.user(Role.VIEWER)
    services.dismiss_banner(user.id, services.WHATS_CHANGED_SLUG, UPDATED)
    services.dismiss_banner(user.id, services.WHATS_CHANGED_SLUG, UPDATED + timedelta(days=2))
    services.dismiss_banner(user.id, services.WHATS_CHANGED_SLUG, UPDATED)
    db.session.commit()
    rows = db.session.scalars(select(BannerDismissal)).all()
    assert [(r.user_id, r.dismissed_on) for r in rows] == [(user.id,
                                                            UPDATED + timedelta(days=2))]
    assert services.dismissed_on(user.id, services.WHATS_CHANGED_SLUG) == UPDATED + timedelta(2)
    assert services.dismissed_on(factory.user(Role.VIEWER).id,
                                 services.WHATS_CHANGED_SLUG) is None
