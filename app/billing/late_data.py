"""The billing run's side of late data (SPEC §12): which subscriptions wait to be re-rated,
what was billed for them, their adjustment lines (app.billing.corrections rates them) and the
credit notes that replace corrections an invoice cannot absorb. Services flush; the billing run
commits."""

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from app.accounts.models import Account
from app.billing.corrections import BilledLine, IssuedInvoice, corrections
from app.billing.cutover import configured_cutover, first_engine_period_start
from app.billing.models import (
    ChargeType,
    CreditNote,
    CreditNoteLine,
    EndCustomer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Product,
    Subscription,
    SubscriptionChange,
    UsageRecord,
)
from app.billing.rating import Change, DraftLine, OneTimeFee, Period, Terms, one_time_line
from app.credit.services import issue_credit_note
from app.extensions import db
from app.formatting import medium_date
from app.money import ZERO, line_tax


def lock_rerated(account_id: int) -> list[int]:
    """The account's subscriptions a late report marked, locked until the transaction ends:
    a report being written for one of them is waited for, and one written after waits."""
    query = (select(Subscription.id)
             .where(Subscription.account_id == account_id, Subscription.rebill_from.is_not(None))
             .order_by(Subscription.id))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(db.session.scalars(query))


def load_history(subscription_ids: list[int], currency: str) -> list[Terms]:
    """Subscriptions with every change they have, whatever its date."""
    rows = db.session.execute(
        select(Subscription.id, Subscription.end_customer_id, EndCustomer.name.label("customer"),
               Product.name, Product.sku, Product.charge_model, Subscription.cycle,
               Subscription.start_date, Subscription.end_date, Subscription.quantity,
               Subscription.unit_price)
        .join(Product, Subscription.product_id == Product.id)
        .join(EndCustomer, Subscription.end_customer_id == EndCustomer.id)
        .where(Subscription.id.in_(subscription_ids)).order_by(Subscription.id)
    ).all()
    changes: dict[int, list[Change]] = defaultdict(list)
    for subscription_id, effective_date, quantity, unit_price in db.session.execute(
        select(SubscriptionChange.subscription_id, SubscriptionChange.effective_date,
               SubscriptionChange.quantity, SubscriptionChange.unit_price)
        .where(SubscriptionChange.subscription_id.in_(subscription_ids))
        .order_by(SubscriptionChange.effective_date, SubscriptionChange.id)
    ):
        changes[subscription_id].append(Change(effective_date, quantity, unit_price))
    return [Terms(id=row.id, end_customer_id=row.end_customer_id, end_customer_name=row.customer,
                  name=row.name, sku=row.sku, charge_model=row.charge_model, cycle=row.cycle,
                  start_date=row.start_date, end_date=row.end_date, quantity=row.quantity,
                  unit_price=row.unit_price, changes=tuple(changes[row.id]), currency=currency)
            for row in rows]


def load_billed(account_id: int, subscription_ids: list[int]) -> dict[int, list[BilledLine]]:
    """What the account's subscriptions' stored lines billed: lines of issued (not void)
    invoices and of credit notes, fees left out (they carry no SKU). Found through the
    account's invoices (both indexed), so that no index of lines by subscription slows every
    invoice's insert."""
    billed: dict[int, list[BilledLine]] = defaultdict(list)
    for row in db.session.execute(
        select(InvoiceLine.subscription_id, Invoice.number, Invoice.period_start,
               InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.service_start,
               InvoiceLine.service_end, InvoiceLine.span_days)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.account_id == account_id,
               InvoiceLine.subscription_id.in_(subscription_ids),
               InvoiceLine.sku.is_not(None), Invoice.status != InvoiceStatus.VOID)
    ):
        billed[row[0]].append(BilledLine(*row[1:]))
    for row in db.session.execute(
        select(CreditNoteLine.subscription_id, CreditNote.number, CreditNote.issue_date,
               CreditNoteLine.quantity, CreditNoteLine.unit_price, CreditNoteLine.service_start,
               CreditNoteLine.service_end, CreditNoteLine.span_days)
        .join(CreditNote, CreditNoteLine.credit_note_id == CreditNote.id)
        .where(CreditNote.account_id == account_id,
               CreditNoteLine.subscription_id.in_(subscription_ids))
    ):
        billed[row[0]].append(BilledLine(*row[1:]))
    return billed


def load_readings(subscription_ids: list[int], until: date
                  ) -> dict[int, list[tuple[date, Decimal]]]:
    readings: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for subscription_id, day, quantity in db.session.execute(
        select(UsageRecord.subscription_id, UsageRecord.usage_date, UsageRecord.quantity)
        .where(UsageRecord.subscription_id.in_(subscription_ids), UsageRecord.usage_date <= until)
        .order_by(UsageRecord.usage_date)
    ):
        readings[subscription_id].append((day, Decimal(quantity)))
    return readings


def issued_invoices(account_id: int, before: Period) -> list[IssuedInvoice]:
    """The account's invoices of the billing run before `before`, oldest first."""
    return [IssuedInvoice(*row) for row in db.session.execute(
        select(Invoice.number, Invoice.period_start, Invoice.period_end)
        .where(Invoice.account_id == account_id, Invoice.billing_key.is_not(None),
               Invoice.status != InvoiceStatus.VOID, Invoice.period_start < before.start)
        .order_by(Invoice.period_start)
    )]


def correction_lines(account: Account, period: Period, lines: list[DraftLine],
                     subscription_ids: list[int], invoices: list[IssuedInvoice]
                     ) -> dict[int, list[DraftLine]]:
    """The adjustment lines of each re-rated subscription (app.billing.corrections)."""
    if not subscription_ids or not invoices:
        return {}
    history = load_history(subscription_ids, account.currency)
    billed = load_billed(account.id, subscription_ids)
    readings = load_readings(subscription_ids, period.previous_end)
    # From the account's first invoice of the engine on: what came before is the legacy
    # system's, or was never the engine's to bill.
    first_day = max(first_engine_period_start(configured_cutover()), invoices[0].period_start)
    new_lines: dict[int, list[DraftLine]] = defaultdict(list)
    for line in lines:
        if line.subscription_id is not None and line.sku is not None:
            new_lines[line.subscription_id].append(line)
    found = {}
    for terms in history:
        adjustments = corrections(terms, period, first_day, billed[terms.id],
                                  new_lines[terms.id], readings[terms.id], invoices)
        if adjustments:
            found[terms.id] = adjustments
    return found


def fee_lines(fees: list[OneTimeFee], invoices: list[IssuedInvoice]) -> list[DraftLine]:
    """The fees' lines: an adjustment when an earlier invoice billed the month of the fee's
    date in arrears (the fee was reported after it), a one-time line otherwise."""
    by_month = {invoice.period_start: invoice.number for invoice in invoices}
    lines = []
    for fee in fees:
        line = one_time_line(fee)
        month_after = (fee.charge_date.replace(day=28) + timedelta(days=4)).replace(day=1)
        if month_after in by_month:
            line = replace(line, charge_type=ChargeType.ADJUSTMENT, description=(
                f"Adjustment to {by_month[month_after]}: {fee.description}, dated "
                f"{medium_date(fee.charge_date)}"))
        lines.append(line)
    return lines


def issue_correction_note(account: Account, period: Period, terms: Terms,
                          lines: list[DraftLine], rate: Decimal, issue_date: date) -> CreditNote:
    """A credit note for the corrections of a subscription, dated `issue_date`, with its lines
    and their tax at `rate` (the invoice's)."""
    taxes = [line_tax(line.amount, rate) for line in lines]
    amount = -(sum((line.amount for line in lines), ZERO) + sum(taxes, ZERO))
    corrected = ", ".join(dict.fromkeys(
        line.description.split(":", 1)[0].removeprefix("Adjustment to ") for line in lines))
    reason = f"Adjustment to {corrected}: {terms.name} for {terms.end_customer_name}"
    if terms.end_date is not None and terms.end_date < period.start:
        reason += f", service ended {medium_date(terms.end_date)}"
    note = issue_credit_note(account, amount, reason[:300], issue_date=issue_date)
    db.session.execute(insert(CreditNoteLine.__table__), [
        {"credit_note_id": note.id, "subscription_id": line.subscription_id,
         "description": line.description, "quantity": line.quantity,
         "unit_price": line.unit_price, "amount": line.amount, "tax": tax,
         "service_start": line.service_start, "service_end": line.service_end,
         "span_days": line.span_days}
        for line, tax in zip(lines, taxes, strict=True)])
    return note


def credit_instead(account: Account, period: Period, lines: list[DraftLine],
                   found: dict[int, list[DraftLine]], rate: Decimal, issue_date: date
                   ) -> tuple[list[DraftLine], list[CreditNote]]:
    """An invoice that would be negative: the corrections that are a credit move to credit
    notes, one per subscription — first those of subscriptions whose service ended before
    the period (nothing more will be billed for them), then, while the invoice is still
    negative, the others. Returns the invoice's lines left and the notes issued."""
    history = {terms.id: terms for terms in load_history(list(found), account.currency)}
    credits = [(subscription_id, adjustments) for subscription_id, adjustments in found.items()
               if sum((line.amount for line in adjustments), ZERO) < 0]
    credits.sort(key=lambda item: not (history[item[0]].end_date is not None
                                       and history[item[0]].end_date < period.start))
    notes, moved = [], set()
    for subscription_id, adjustments in credits:
        if sum((line.amount for line in lines), ZERO) >= 0:
            break
        terms = history[subscription_id]
        notes.append(issue_correction_note(account, period, terms, adjustments, rate,
                                           issue_date))
        moved |= {id(line) for line in adjustments}
        lines = [line for line in lines if id(line) not in moved]
    return lines, notes
