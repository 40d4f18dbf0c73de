"""The billing run: one invoice per account and period, issued from the account's
subscriptions, usage and one-time fees (rated by app.billing.rating).

The cutover rule (app.billing.cutover): no period before the cutover month is billed, and an
invoice is dated its month's first day, or the cutover date for the cutover month, so that every
invoice the engine issues is dated on or after the cutover date and none is historical.

Idempotent: an invoice carries the key "<account id>:<period>", unique in the database, and an
account already billed for the period is skipped. Resumable: each account is billed and
committed in a transaction of its own, so a run that stops part-way is finished by running it
again. Several workers may run one period at once on PostgreSQL: each locks the account it
bills with FOR UPDATE SKIP LOCKED and passes over the accounts another worker holds.

Credit: when the account's auto-apply setting is on, each invoice takes the account's available
credit as it is issued, in the same transaction (app.credit.services.auto_apply_credit).

Late data (app.billing.late_data; app.billing.corrections rates it): the subscriptions a late
report marked are locked (FOR UPDATE, so a report being written is waited for) and re-rated
over every day the account's earlier invoices billed; the differences are adjustment lines on
the new invoice, which absorbs corrections in the reseller's favour. When they would make the
invoice negative, the corrections that are a credit become credit notes instead
(app.credit.services.issue_credit_note), one per subscription with the same lines and the
invoice's tax — first those of subscriptions whose service ended (no later invoice bills
anything for them), then the others while the invoice is still negative. The credit is
auto-applied like any other. Re-running a period changes nothing: the invoice's billing key
stops it, and what the corrections billed is read back as billed.
A fee dated in a month an earlier invoice billed in arrears is an adjustment line too.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Account
from app.billing.cutover import (
    configured_cutover,
    engine_issue_date,
    first_engine_arrears_start,
    first_engine_period_start,
)
from app.billing.hooks import run_before_billing
from app.billing.late_data import (
    correction_lines,
    credit_instead,
    fee_lines,
    issued_invoices,
    lock_rerated,
)
from app.billing.models import (
    ChargeModel,
    CreditNote,
    EndCustomer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    OneTimeCharge,
    Product,
    Subscription,
    SubscriptionChange,
    TaxRate,
    UsageRecord,
)
from app.billing.numbering import next_document_number
from app.billing.po_numbers import po_numbers_on
from app.billing.rating import (
    Change,
    DraftLine,
    OneTimeFee,
    Period,
    Terms,
    invoice_order,
    rate_period,
)
from app.credit.services import auto_apply_credit
from app.events.schemas import InvoiceIssued
from app.events.services import record_event
from app.extensions import db
from app.money import ZERO, line_tax

NO_END_CUSTOMER = "Account charges"


class BillingError(Exception):
    """The run cannot bill this period (e.g. it is before the cutover)."""


@dataclass
class RunResult:
    period: str
    issued: list[str] = field(default_factory=list)  # invoice numbers
    already_billed: int = 0
    nothing_to_bill: int = 0
    held_by_another_worker: int = 0
    credit_notes: list[str] = field(default_factory=list)  # numbers, from corrections
    credited_only: int = 0  # accounts given a credit note and no invoice

    @property
    def accounts_seen(self) -> int:
        return (len(self.issued) + self.already_billed + self.nothing_to_bill
                + self.held_by_another_worker + self.credited_only)


def tax_rate_for(account: Account, on: date) -> Decimal:
    """The account's sales tax rate on a day; zero when it is exempt or no rate applies."""
    if account.tax_exempt:
        return Decimal("0")
    rate = db.session.scalar(
        select(TaxRate.rate)
        .where(TaxRate.country == account.country, TaxRate.region == account.region,
               TaxRate.valid_from <= on)
        .order_by(TaxRate.valid_from.desc())
        .limit(1)
    )
    return rate if rate is not None else Decimal("0")


def load_terms(account_id: int, period: Period, currency: str = "USD") -> list[Terms]:
    """The account's subscriptions that can carry a charge in `period`, with their changes."""
    # Plain column rows, not ORM objects: a large account has tens of thousands of these.
    rows = db.session.execute(
        select(
            Subscription.id, Subscription.end_customer_id, EndCustomer.name.label("customer"),
            Product.name, Product.sku, Product.charge_model, Subscription.cycle,
            Subscription.start_date, Subscription.end_date, Subscription.quantity,
            Subscription.unit_price,
        )
        .join(Product, Subscription.product_id == Product.id)
        .join(EndCustomer, Subscription.end_customer_id == EndCustomer.id)
        .where(
            Subscription.account_id == account_id,
            Subscription.start_date <= period.start,
            (Subscription.end_date.is_(None)) | (Subscription.end_date >= period.previous_start),
        )
        .order_by(Subscription.id)
    ).all()
    changes: dict[int, list[Change]] = {}
    if rows:
        for subscription_id, effective_date, quantity, unit_price in db.session.execute(
            select(SubscriptionChange.subscription_id, SubscriptionChange.effective_date,
                   SubscriptionChange.quantity, SubscriptionChange.unit_price)
            .join(Subscription, SubscriptionChange.subscription_id == Subscription.id)
            .where(Subscription.account_id == account_id,
                   SubscriptionChange.effective_date <= period.start)
            .order_by(SubscriptionChange.effective_date, SubscriptionChange.id)
        ):
            changes.setdefault(subscription_id, []).append(
                Change(effective_date, quantity, unit_price)
            )
    return [
        Terms(
            id=row.id,
            end_customer_id=row.end_customer_id,
            end_customer_name=row.customer,
            name=row.name,
            sku=row.sku,
            charge_model=row.charge_model,
            cycle=row.cycle,
            start_date=row.start_date,
            end_date=row.end_date,
            quantity=row.quantity,
            unit_price=row.unit_price,
            changes=tuple(changes.get(row.id, ())),
            currency=currency,
        )
        for row in rows
    ]


def load_usage(account_id: int, period: Period) -> dict[int, list[tuple[date, Decimal]]]:
    """The previous month's usage readings of the account's usage subscriptions, by day."""
    rows = db.session.execute(
        select(UsageRecord.subscription_id, UsageRecord.usage_date, UsageRecord.quantity)
        .join(Subscription, UsageRecord.subscription_id == Subscription.id)
        .join(Product, Subscription.product_id == Product.id)
        .where(
            Subscription.account_id == account_id,
            Product.charge_model == ChargeModel.USAGE,
            UsageRecord.usage_date >= period.previous_start,
            UsageRecord.usage_date <= period.previous_end,
        )
        .order_by(UsageRecord.subscription_id, UsageRecord.usage_date)
    )
    usage: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for subscription_id, day, quantity in rows:
        usage[subscription_id].append((day, Decimal(quantity)))
    return usage


def load_fees(account_id: int, period: Period) -> list[OneTimeFee]:
    """One-time fees dated up to the previous month's end and not invoiced yet. A fee dated
    before the engine's first arrears month belongs to the legacy system's history and is
    never billed here (app.billing.services refuses to record one)."""
    rows = db.session.execute(
        select(OneTimeCharge, EndCustomer.name, Product.name)
        .outerjoin(EndCustomer, OneTimeCharge.end_customer_id == EndCustomer.id)
        .outerjoin(Subscription, OneTimeCharge.subscription_id == Subscription.id)
        .outerjoin(Product, Subscription.product_id == Product.id)
        .where(
            OneTimeCharge.account_id == account_id,
            OneTimeCharge.invoice_id.is_(None),
            OneTimeCharge.charge_date <= period.previous_end,
            OneTimeCharge.charge_date >= first_engine_arrears_start(configured_cutover()),
        )
        .order_by(OneTimeCharge.charge_date, OneTimeCharge.id)
    ).all()
    return [
        OneTimeFee(
            id=fee.id,
            end_customer_id=fee.end_customer_id,
            end_customer_name=customer or NO_END_CUSTOMER,
            subscription_id=fee.subscription_id,
            subscription_name=product or "One-time services",
            description=fee.description,
            amount=fee.amount,
            charge_date=fee.charge_date,
        )
        for fee, customer, product in rows
    ]


def _lock_account(account_id: int) -> Account | None:
    """Lock the account row for this transaction; None when another worker holds it."""
    query = select(Account).where(Account.id == account_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.scalar(query)


def billing_key(account_id: int, period: Period) -> str:
    return f"{account_id}:{period.key}"


def issue_invoice(account: Account, period: Period, lines: list[DraftLine]) -> Invoice:
    """Number, total and store an invoice with its lines, and record `invoice.issued`."""
    issue_date = engine_issue_date(period.start, configured_cutover())
    rate = tax_rate_for(account, issue_date)
    taxes = [line_tax(line.amount, rate) for line in lines]
    subtotal = sum((line.amount for line in lines), ZERO)
    tax_total = sum(taxes, ZERO)
    # The PO numbers in effect on the issue date, copied like the bill-to.
    po_numbers = po_numbers_on(account.id, issue_date)
    invoice = Invoice(
        number=next_document_number("INV", issue_date.year),
        account_id=account.id,
        billing_key=billing_key(account.id, period),
        period_start=period.start,
        period_end=period.end,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=account.payment_terms_days),
        po_number=po_numbers.account,
        currency=account.currency,
        bill_to_name=account.legal_name,
        bill_to_address="\n".join(account.address_lines),
        bill_to_tax_id=account.tax_id,
        tax_exempt=account.tax_exempt,
        subtotal=subtotal,
        tax_total=tax_total,
        total=subtotal + tax_total,
        credit_applied=ZERO,
        amount_paid=ZERO,
        status=InvoiceStatus.PAID if subtotal + tax_total <= 0 else InvoiceStatus.OPEN,
        line_count=len(lines),
    )
    db.session.add(invoice)
    db.session.flush()
    # Core executemany, not the ORM's bulk insert: an invoice may carry 10,000 lines.
    db.session.execute(
        insert(InvoiceLine.__table__),
        [
            {
                "invoice_id": invoice.id,
                "position": position,
                "end_customer_id": line.end_customer_id,
                "end_customer_name": line.end_customer_name,
                "subscription_id": line.subscription_id,
                "subscription_name": line.subscription_name,
                "sku": line.sku,
                "charge_type": line.charge_type,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
                "tax_rate": rate,
                "tax": tax,
                "service_start": line.service_start,
                "service_end": line.service_end,
                "span_days": line.span_days,
                "po_number": po_numbers.customers.get(line.end_customer_id),
            }
            for position, (line, tax) in enumerate(zip(lines, taxes, strict=True), start=1)
        ],
    )
    record_event(
        InvoiceIssued(
            invoice_number=invoice.number,
            account_number=account.number,
            period=period.key,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            currency=invoice.currency,
            subtotal=invoice.subtotal,
            tax=invoice.tax_total,
            total=invoice.total,
            lines=invoice.line_count,
        ),
        account_id=account.id,
    )
    return invoice


def bill_account(account_id: int, period: Period) -> tuple[str, Invoice | None]:
    """Bill one account for `period` in the current transaction (the caller commits).

    Returns the outcome — "issued", "credited" (credit notes from corrections and no invoice),
    "already_billed", "nothing_to_bill" or "held" (another worker has the account) — and the
    invoice issued, if any.
    """
    outcome, invoice, _ = bill_account_with_notes(account_id, period)
    return outcome, invoice


def bill_account_with_notes(account_id: int, period: Period
                            ) -> tuple[str, Invoice | None, list[CreditNote]]:
    """`bill_account`, with the credit notes the corrections issued."""
    account = _lock_account(account_id)
    if account is None:
        return "held", None, []
    key = billing_key(account_id, period)
    if db.session.scalar(select(Invoice.id).where(Invoice.billing_key == key)) is not None:
        return "already_billed", None, []
    rerated = lock_rerated(account_id)
    fees = load_fees(account_id, period)
    # Only a fee dated before the previous month can be late (its month already invoiced).
    late_fee = any(fee.charge_date < period.previous_start for fee in fees)
    invoices = issued_invoices(account_id, period) if rerated or late_fee else []
    lines = invoice_order(
        rate_period(load_terms(account_id, period, account.currency), period,
                    load_usage(account_id, period), [], configured_cutover())
        + fee_lines(fees, invoices))
    notes = []
    found = correction_lines(account, period, lines, rerated, invoices)
    if found:
        lines = invoice_order(lines + [line for adjustments in found.values()
                                       for line in adjustments])
        if sum((line.amount for line in lines), ZERO) < 0:
            issue_date = engine_issue_date(period.start, configured_cutover())
            lines, notes = credit_instead(account, period, lines, found,
                                          tax_rate_for(account, issue_date), issue_date)
    if rerated:
        db.session.execute(update(Subscription).where(Subscription.id.in_(rerated))
                           .values(rebill_from=None))
    if not lines:
        return ("credited" if notes else "nothing_to_bill"), None, notes
    invoice = issue_invoice(account, period, lines)
    auto_apply_credit(invoice)
    if fees:
        db.session.execute(
            update(OneTimeCharge)
            .where(OneTimeCharge.id.in_([fee.id for fee in fees]))
            .values(invoice_id=invoice.id)
        )
    return "issued", invoice, notes


def check_not_before_cutover(period: Period, cutover: date) -> None:
    """Raises BillingError for a period before the cutover month: the legacy system billed it."""
    if period.start < first_engine_period_start(cutover):
        raise BillingError(
            f"{period.key} is before the cutover ({cutover.isoformat()}): those invoices are "
            "historical; import them with `flask legacy import`."
        )


def check_period(period: Period, cutover: date, today: date) -> None:
    """Raises BillingError for a period before the cutover month, or whose invoice date (the
    cutover date for the cutover month) is still to come."""
    check_not_before_cutover(period, cutover)
    if engine_issue_date(period.start, cutover) > today:
        raise BillingError(f"{period.key} has not started yet.")


def run_billing(
    period: Period,
    *,
    account_ids: list[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Bill every account (or `account_ids`) for `period`, committing account by account.
    Raises BillingError for a period before the cutover month."""
    check_not_before_cutover(period, configured_cutover())
    run_before_billing(date.today())
    result = RunResult(period=period.key)
    if account_ids is None:
        billed = select(Invoice.account_id).where(Invoice.period_start == period.start,
                                                  Invoice.billing_key.is_not(None))
        account_ids = list(db.session.scalars(
            select(Account.id).where(Account.id.not_in(billed)).order_by(Account.id)
        ))
        result.already_billed = db.session.scalar(
            select(func.count()).select_from(billed.subquery())
        ) or 0
        db.session.commit()
    for account_id in account_ids:
        try:
            outcome, invoice, notes = bill_account_with_notes(account_id, period)
            number = invoice.number if invoice else None
            note_numbers = [note.number for note in notes]
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            key = billing_key(account_id, period)
            if db.session.scalar(select(Invoice.id).where(Invoice.billing_key == key)) is None:
                raise
            # Another worker issued this account's invoice between our check and insert.
            outcome, number, note_numbers = "already_billed", None, []
        result.credit_notes += note_numbers
        if outcome == "issued":
            result.issued.append(number)
        elif outcome == "credited":
            result.credited_only += 1
        elif outcome == "already_billed":
            result.already_billed += 1
        elif outcome == "nothing_to_bill":
            result.nothing_to_bill += 1
        else:
            result.held_by_another_worker += 1
        if progress:
            progress(1)
    return result
