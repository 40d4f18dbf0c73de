"""`flask billing check`: every stored money figure against the ledger (app.ledger).

Invoices keep `amount_paid` and `credit_applied`, and payments their status, next to the ledger
rows that are the truth; this compares them all and names each difference. It lives outside
the domains because it reads all of them (billing, payments, credit) and none may import
payments from billing.
"""

from decimal import Decimal

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.accounts.models import Account
from app.billing import bp as billing_bp
from app.billing.models import Invoice, InvoiceStatus
from app.billing.transitions import status_for
from app.extensions import db
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import ZERO
from app.payments.models import Payment, PaymentStatus

# Payments whose money the ledger holds: received, on its way, or not answered for yet (an
# `unknown` payment holds its invoices until the gateway tells what became of it).
HOLDING = (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED, PaymentStatus.UNKNOWN)


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(ZERO)


def _sums(*where, by) -> dict[int, Decimal]:
    rows = db.session.execute(
        select(by, func.sum(LedgerEntry.amount)).where(by.is_not(None), *where).group_by(by))
    return {key: _money(total) for key, total in rows}


def check_invoices() -> list[str]:
    paid = _sums(LedgerEntry.kind == EntryKind.ALLOCATION, by=LedgerEntry.invoice_id)
    credited = _sums(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION, by=LedgerEntry.invoice_id)
    problems = []
    for invoice in db.session.scalars(select(Invoice).order_by(Invoice.id)):
        ledger_paid, ledger_credit = paid.get(invoice.id, ZERO), credited.get(invoice.id, ZERO)
        if _money(invoice.amount_paid) != ledger_paid:
            problems.append(f"Invoice {invoice.number}: amount_paid is {invoice.amount_paid}, "
                            f"the ledger says {ledger_paid}.")
        if _money(invoice.credit_applied) != ledger_credit:
            problems.append(f"Invoice {invoice.number}: credit_applied is "
                            f"{invoice.credit_applied}, the ledger says {ledger_credit}.")
        if invoice.status == InvoiceStatus.VOID:
            continue
        if invoice.balance_due < ZERO:
            problems.append(f"Invoice {invoice.number}: balance due {invoice.balance_due} is "
                            "below zero.")
        elif invoice.status != status_for(invoice):
            problems.append(f"Invoice {invoice.number}: status is {invoice.status.value}, its "
                            f"balance says {status_for(invoice).value}.")
    return problems


def check_payments() -> list[str]:
    received = _sums(LedgerEntry.kind == EntryKind.PAYMENT, by=LedgerEntry.payment_id)
    allocated = _sums(LedgerEntry.kind == EntryKind.ALLOCATION, by=LedgerEntry.payment_id)
    overpaid = _sums(LedgerEntry.kind == EntryKind.CREDIT,
                     LedgerEntry.credit_source == CreditSource.OVERPAYMENT,
                     by=LedgerEntry.payment_id)
    problems = []
    for payment in db.session.scalars(select(Payment).order_by(Payment.id)):
        expected = _money(payment.amount) if payment.status in HOLDING else ZERO
        got = received.get(payment.id, ZERO)
        if got != expected:
            problems.append(f"Payment {payment.reference} ({payment.status.value}): the ledger "
                            f"holds {got} received, expected {expected}.")
        spent = allocated.get(payment.id, ZERO) + overpaid.get(payment.id, ZERO)
        if spent != got:
            problems.append(f"Payment {payment.reference}: {spent} allocated and credited, "
                            f"{got} received.")
    return problems


def check_credit() -> list[str]:
    problems = []
    created = _sums(LedgerEntry.kind == EntryKind.CREDIT, by=LedgerEntry.account_id)
    applied = _sums(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION, by=LedgerEntry.account_id)
    for account in db.session.scalars(select(Account).order_by(Account.id)):
        balance = created.get(account.id, ZERO) - applied.get(account.id, ZERO)
        if balance < ZERO:
            problems.append(f"Account {account.number}: credit balance {balance} is below zero.")
    lots = _sums(LedgerEntry.kind == EntryKind.CREDIT, by=func.coalesce(
        LedgerEntry.reverses_id, LedgerEntry.id))
    drawn = _sums(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                  by=LedgerEntry.credit_entry_id)
    for lot_id, total in drawn.items():
        if total > lots.get(lot_id, ZERO):
            problems.append(f"Credit entry {lot_id}: {total} applied from {lots.get(lot_id)}.")
    foreign = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.currency, Account.number)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.currency != Account.currency))
    problems += [f"Ledger entry {entry_id} is in {currency}, account {number} is not."
                 for entry_id, currency, number in foreign]
    return problems


def check_all() -> list[str]:
    """Every difference between stored figures and the ledger, in words (none: consistent)."""
    return check_invoices() + check_payments() + check_credit()


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Compare invoices, payments and credit with the ledger; exit 1 on any difference."""
    problems = check_all()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo("Invoices, payments and credit agree with the ledger.")


def init_app(app: Flask) -> None:
    billing_bp.cli.add_command(check_command)
