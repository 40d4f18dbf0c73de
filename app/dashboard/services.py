"""The dashboard (SPEC §11), decided here and drawn by the templates: what the account owes,
its credit, its next invoice date, the payment methods and change requests that need a look,
its latest payments and invoices, and whether the "What's changed" banner greets the user.

Each figure comes from its domain's services (billing, payments, credit, changes), always for
one account; the page runs a fixed number of queries whatever the account's size.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from babel.dates import format_date
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Account, Role
from app.billing.cutover import configured_cutover, engine_issue_date
from app.billing.invoices import UNPAID
from app.billing.models import Invoice, InvoiceStatus
from app.changes.account_info import pending_changes
from app.changes.models import TYPE_LABELS
from app.changes.views import STATUS_TONES
from app.credit.services import credit_balance
from app.dashboard.models import BannerDismissal
from app.extensions import db
from app.formatting import LOCALE, medium_date
from app.kb.articles import Article
from app.money import ZERO, round_money
from app.payments.gateways.base import MethodKind
from app.payments.methods import list_methods, method_state
from app.payments.models import PaymentMethod
from app.payments.pay import PAY_ROLES
from app.payments.receipts import STATUS_BADGES, STATUS_LABELS, PaymentFilters, list_payments

# How many of the latest payments and invoices the dashboard lists.
RECENT_COUNT = 5
# A card whose last valid day is this close (or closer) needs attention.
CARD_EXPIRY_WARNING_DAYS = 60
# The article the "What's changed" banner announces, and how long after the article's
# `updated:` date the banner keeps greeting users who have not dismissed it.
WHATS_CHANGED_SLUG = "control-panel-changes"
WHATS_CHANGED_DAYS = 90
# The Help Center article each tile links to.
TILE_HELP = {
    "balance": "how-do-i-submit-a-payment-for-open-invoices",
    "credit": "how-is-the-credit-on-my-account-used",
    "next_invoice": "what-will-my-invoice-look-like",
    "methods": "how-do-i-add-ach-as-a-payment-method",
    "changes": "change-request-statuses",
    "payments": "payment-receipts",
    "invoices": "invoice-statuses",
}


# --- Balance due ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """What the open invoices still owe, what of it is past due, and the next due date."""

    currency: str
    due: Decimal
    open_count: int
    overdue: Decimal
    overdue_count: int
    next_due_date: date | None  # the earliest due date still ahead (today included)
    can_pay: bool

    @property
    def show_pay(self) -> bool:
        return self.can_pay and self.due > ZERO


def balance(account: Account, role: Role, today: date) -> Balance:
    """The account's open balances in one query. An invoice is overdue the day after its due
    date, as on the invoice list (`Invoice.is_overdue`)."""
    owed = Invoice.total - Invoice.credit_applied - Invoice.amount_paid
    late = Invoice.due_date < today
    due, open_count, overdue, overdue_count, next_due = db.session.execute(
        select(func.coalesce(func.sum(owed), 0), func.count(),
               func.coalesce(func.sum(case((late, owed), else_=0)), 0),
               func.count(case((late, 1))),
               func.min(case((~late, Invoice.due_date))))
        .where(Invoice.account_id == account.id, Invoice.status.in_(UNPAID))
    ).one()
    return Balance(account.currency, round_money(Decimal(due)), open_count,
                   round_money(Decimal(overdue)), overdue_count, next_due,
                   can_pay=role in PAY_ROLES)


# --- Credit and the next invoice --------------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    currency: str
    available: Decimal
    auto_apply: bool


def credit(account: Account) -> Credit:
    return Credit(account.currency, credit_balance(account), account.auto_apply_credit)


@dataclass(frozen=True)
class NextInvoice:
    issue_date: date
    period_start: date  # the month the invoice bills

    @property
    def period_label(self) -> str:
        """"December 2026"."""
        return format_date(self.period_start, "MMMM y", locale=LOCALE)


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def next_invoice(account: Account, today: date, cutover: date) -> NextInvoice:
    """The date of the account's next invoice from the billing run, dated as the engine dates
    it (app.billing.cutover.engine_issue_date): this month's, on its issue day until the run
    has billed the account, otherwise next month's (or the cutover's, before the cutover)."""
    this_month = today.replace(day=1)
    issue_date = engine_issue_date(this_month, cutover)
    if issue_date > today or (issue_date == today and not _billed(account, this_month)):
        return NextInvoice(issue_date, this_month)
    month = _month_after(today)
    return NextInvoice(engine_issue_date(month, cutover), month)


def _billed(account: Account, period_start: date) -> bool:
    return db.session.scalar(
        select(Invoice.id).where(Invoice.account_id == account.id,
                                 Invoice.period_start == period_start).limit(1)
    ) is not None


# --- Payment methods --------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodAttention:
    """A payment method that needs the reseller: its name, its badge and why."""

    label: str
    badge: str
    tone: str
    reason: str


def card_last_day(method: PaymentMethod) -> date:
    """A card is valid to the last day of its expiry month."""
    return date(method.exp_year, method.exp_month,
                calendar.monthrange(method.exp_year, method.exp_month)[1])


def methods_needing_attention(account: Account, today: date) -> tuple[list[MethodAttention], int]:
    """The account's methods that cannot pay, wait for micro-deposit verification, or are
    cards expiring within CARD_EXPIRY_WARNING_DAYS; and how many methods it has."""
    methods = list_methods(account.id)
    attention = []
    for method in methods:
        state = method_state(method, today)
        if state.can_verify:
            reason = "Enter the two micro-deposit amounts to verify this bank account"
            if state.verify_by:
                reason += f" by {medium_date(state.verify_by)}"
            attention.append(MethodAttention(method.label, state.badge, state.tone, reason + "."))
        elif not state.usable:
            attention.append(MethodAttention(method.label, state.badge, state.tone,
                                             state.reason or ""))
        elif method.kind == MethodKind.CARD \
                and card_last_day(method) - today <= timedelta(days=CARD_EXPIRY_WARNING_DAYS):
            attention.append(MethodAttention(
                method.label, "Expires soon", "warning",
                f"This card expires at the end of {state.expires}. Add the card that replaces it."))
    return attention, len(methods)


# --- Change requests, payments and invoices ---------------------------------------------------


@dataclass(frozen=True)
class PendingChange:
    request_id: int
    reference: str
    kind: str
    status: str
    tone: str
    text: str


def pending_change_requests(account: Account) -> list[PendingChange]:
    """Requests submitted, in review, or approved and not yet applied, oldest first."""
    pending = sorted(pending_changes(account.id).values(), key=lambda p: p.request.id)
    return [PendingChange(p.request.id, p.request.reference or "", TYPE_LABELS[p.request.type],
                          p.request.status.label, STATUS_TONES[p.request.status], p.text)
            for p in pending]


@dataclass(frozen=True)
class RecentPayment:
    payment_id: int
    reference: str
    received_on: date
    amount: Decimal
    currency: str
    method_label: str
    status: str
    tone: str


def recent_payments(account: Account) -> list[RecentPayment]:
    payments = list_payments(account.id, PaymentFilters()).payments[:RECENT_COUNT]
    return [RecentPayment(p.id, p.reference, p.received_on, p.amount, p.currency, p.method_label,
                          STATUS_LABELS[p.status], STATUS_BADGES[p.status]) for p in payments]


INVOICE_STATUSES = {
    InvoiceStatus.OPEN: ("Open", "info"),
    InvoiceStatus.PARTIALLY_PAID: ("Partially paid", "warning"),
    InvoiceStatus.PAID: ("Paid", "success"),
    InvoiceStatus.VOID: ("Void", "muted"),
}
OVERDUE = ("Overdue", "danger")


@dataclass(frozen=True)
class RecentInvoice:
    number: str
    issue_date: date
    due_date: date
    total: Decimal
    balance_due: Decimal
    currency: str
    status: str
    tone: str
    overdue: bool


def recent_invoices(account: Account, today: date) -> list[RecentInvoice]:
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.account_id == account.id)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(RECENT_COUNT)
    ).all()
    rows = []
    for invoice in invoices:
        overdue = invoice.is_overdue(today)
        status, tone = OVERDUE if overdue else INVOICE_STATUSES[invoice.status]
        rows.append(RecentInvoice(invoice.number, invoice.issue_date, invoice.due_date,
                                  invoice.total, invoice.balance_due, invoice.currency, status,
                                  tone, overdue))
    return rows


# --- The whole dashboard ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    balance: Balance
    credit: Credit
    next_invoice: NextInvoice
    methods_attention: list[MethodAttention]
    method_count: int
    pending_changes: list[PendingChange]
    payments: list[RecentPayment]
    invoices: list[RecentInvoice]


def build_dashboard(account: Account, role: Role, today: date) -> Dashboard:
    attention, method_count = methods_needing_attention(account, today)
    return Dashboard(
        balance=balance(account, role, today),
        credit=credit(account),
        next_invoice=next_invoice(account, today, configured_cutover()),
        methods_attention=attention,
        method_count=method_count,
        pending_changes=pending_change_requests(account),
        payments=recent_payments(account),
        invoices=recent_invoices(account, today),
    )


# --- The "What's changed" banner --------------------------------------------------------------


def banner_shown(article: Article | None, dismissed_on: date | None, today: date) -> bool:
    """Whether the banner announcing `article` greets a user today: while the article was
    updated at most WHATS_CHANGED_DAYS ago, unless the user dismissed it on or after that
    update. An update after a dismissal shows it again."""
    if article is None or today - article.updated > timedelta(days=WHATS_CHANGED_DAYS):
        return False
    return dismissed_on is None or dismissed_on < article.updated


def dismissed_on(user_id: int, slug: str) -> date | None:
    return db.session.scalar(
        select(BannerDismissal.dismissed_on)
        .where(BannerDismissal.user_id == user_id, BannerDismissal.slug == slug)
    )


def dismiss_banner(user_id: int, slug: str, today: date) -> None:
    """Remember that the user dismissed the banner announcing `slug` today. Dismissing twice
    at once (a double click) keeps one row."""
    dismissal = db.session.get(BannerDismissal, (user_id, slug))
    if dismissal is not None:
        dismissal.dismissed_on = max(dismissal.dismissed_on, today)
        db.session.flush()
        return
    try:
        with db.session.begin_nested():
            db.session.add(BannerDismissal(user_id=user_id, slug=slug, dismissed_on=today))
    except IntegrityError:
        db.session.get(BannerDismissal, (user_id, slug), populate_existing=True
                       ).dismissed_on = today
        db.session.flush()
