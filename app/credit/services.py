"""Credit: creating it, applying it to invoices and undoing an application. Every change is a
ledger entry (app.ledger); the invoice keeps the ledger's sum in `credit_applied`.

The rules, as `how-is-the-credit-on-my-account-used` states them (SPEC §9):
1. Credit is in the account's currency and never expires.
2. With auto-apply on (the default), available credit is applied to each newly issued invoice,
   oldest credit first, up to the invoice total.
3. With it off, the reseller applies credit to chosen open invoices; an application to an
   invoice that has no payment on it can be reversed by the reseller.
4. An overpayment becomes credit.

Credit is spent under a lock on the account row, so two applications at once cannot spend the
same credit twice. Services flush; the caller commits.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.accounts.models import Account, Role, User, utcnow
from app.audit.services import audit
from app.billing.models import CreditNote, Invoice, InvoiceStatus
from app.billing.numbering import next_document_number
from app.billing.transitions import (
    PAYABLE,
    InvoiceStateError,
    lock_invoice,
    reverse_credit,
)
from app.billing.transitions import (
    apply_credit as apply_credit_to_invoice,
)
from app.errors import DomainError
from app.events.schemas import CreditApplied, CreditAutoApplyChanged, CreditReversed
from app.events.services import record_event
from app.extensions import db
from app.formatting import money
from app.ledger import services as ledger
from app.ledger.models import CreditSource, EntryKind, LedgerEntry
from app.money import CENT, ZERO

CREDIT_SOURCE_LABELS = {
    CreditSource.CREDIT_NOTE: "Credit note",
    CreditSource.OVERPAYMENT: "Overpayment",
    CreditSource.RETURNED_CREDIT: "Returned credit",
}


# The outbox event that records who turned auto-apply off or on, and when.
AUTO_APPLY_CHANGED = CreditAutoApplyChanged.TYPE


class CreditError(DomainError):
    status = 409


class CreditApplicationRefused(CreditError):
    """Amounts for chosen invoices that cannot all be applied: `errors` names each invoice
    whose amount is refused (invoice number → reason), `total_error` says why the amounts
    together are refused. Nothing was applied."""

    def __init__(self, errors: dict[str, str], total_error: str | None = None) -> None:
        super().__init__(" ".join([*errors.values(), *([total_error] if total_error else [])]))
        self.errors = errors
        self.total_error = total_error


def lock_account(account_id: int) -> Account:
    """The account row, locked until the transaction ends: the lock that serialises spending
    its credit."""
    return db.session.scalar(
        select(Account).where(Account.id == account_id).with_for_update()
        .execution_options(populate_existing=True)
    )


def credit_balance(account: Account) -> Decimal:
    """Credit the account can spend, from the ledger."""
    return ledger.credit_balance(account.id)


def account_balance(account: Account) -> Decimal:
    """What the account owes: the balance due of its open invoices minus its credit (negative
    when the credit is larger)."""
    due = db.session.scalar(
        select(func.sum(Invoice.total - Invoice.credit_applied - Invoice.amount_paid))
        .where(Invoice.account_id == account.id, Invoice.status.in_(PAYABLE))
    )
    return Decimal(due or 0).quantize(ZERO) - credit_balance(account)


def create_credit(
    account: Account,
    amount: Decimal,
    source: CreditSource,
    *,
    effective_on: date,
    reference: str,
    memo: str = "",
    credit_note_id: int | None = None,
    payment_id: int | None = None,
) -> LedgerEntry:
    """Credit the account may spend, in its currency. Raises CreditError for an amount of
    zero or less."""
    if amount <= ZERO:
        raise CreditError("Credit must be more than zero.")
    return ledger.post_entry(
        EntryKind.CREDIT, account_id=account.id, currency=account.currency, amount=amount,
        effective_on=effective_on, reference=reference,
        memo=memo or CREDIT_SOURCE_LABELS[source], credit_source=source,
        credit_note_id=credit_note_id, payment_id=payment_id,
    )


def issue_credit_note(account: Account, amount: Decimal, reason: str, *, issue_date: date,
                      invoice: Invoice | None = None, number: str | None = None) -> CreditNote:
    """A numbered credit note and the credit it gives the account. `number` is the ERP's
    number of a credit note it issued; without it the portal numbers it ("CN-YYYY-NNNNNN").
    Raises CreditError for an amount of zero or less."""
    if amount <= ZERO:
        raise CreditError("A credit note must be more than zero.")
    note = CreditNote(
        number=number or next_document_number("CN", issue_date.year), account_id=account.id,
        invoice_id=invoice.id if invoice else None, issue_date=issue_date, amount=amount,
        currency=account.currency, reason=reason,
    )
    db.session.add(note)
    db.session.flush()
    create_credit(account, amount, CreditSource.CREDIT_NOTE, effective_on=issue_date,
                  reference=note.number, memo=reason, credit_note_id=note.id)
    return note


def apply_credit(invoice: Invoice, amount: Decimal, *, on: date | None = None
                 ) -> list[LedgerEntry]:
    """Apply `amount` of the account's credit to an open invoice, oldest credit first (one
    ledger entry per credit drawn from). Raises CreditError when the account has less credit,
    InvoiceStateError when the invoice is not open or owes less."""
    account = lock_account(invoice.account_id)
    invoice = lock_invoice(invoice.id)
    if invoice.currency != account.currency:
        raise CreditError("Credit can only pay invoices in the account's currency.")
    if invoice.status not in PAYABLE:
        raise InvoiceStateError(f"Invoice {invoice.number} is {invoice.status.value}; "
                                "it cannot take credit.")
    if amount > credit_balance(account):
        raise CreditError("The account does not have that much credit.")
    apply_credit_to_invoice(invoice, amount)
    on = on or date.today()
    entries, left = [], amount
    for lot, available in ledger.credit_lots(account.id):
        drawn = min(available, left)
        entries.append(ledger.post_entry(
            EntryKind.CREDIT_APPLICATION, account_id=account.id, currency=account.currency,
            amount=drawn, effective_on=on, reference=invoice.number,
            memo=f"Applied to {invoice.number}", invoice_id=invoice.id, credit_entry_id=lot.id,
        ))
        left -= drawn
        if left == ZERO:
            break
    record_event(CreditApplied(invoice_number=invoice.number, amount=amount,
                               currency=invoice.currency), account_id=account.id)
    return entries


def auto_apply_credit(invoice: Invoice) -> Decimal:
    """On issue: apply available credit up to the invoice total when the account's auto-apply
    setting is on. Returns the amount applied (zero when none)."""
    account = db.session.get(Account, invoice.account_id)
    if not account.auto_apply_credit or invoice.status not in PAYABLE:
        return ZERO
    amount = min(credit_balance(account), invoice.balance_due)
    if amount <= ZERO:
        return ZERO
    apply_credit(invoice, amount, on=invoice.issue_date)
    return amount


def set_auto_apply(account: Account, on: bool, *, user: User) -> bool:
    """Turn the account's credit auto-apply on or off (SPEC §9 rule 3). The outbox event
    AUTO_APPLY_CHANGED records who did it and when. Returns False, recording nothing, when the
    setting already was `on`. Raises CreditError (403) unless `user` is an admin of the
    account."""
    if user.account_id != account.id or user.role != Role.ADMIN:
        raise CreditError("Only an admin of the account can change credit auto-apply.",
                          status=403)
    account = lock_account(account.id)
    if account.auto_apply_credit == on:
        return False
    account.auto_apply_credit = on
    record_event(CreditAutoApplyChanged(account_number=account.number, auto_apply=on,
                                        changed_by=user.email, changed_at=utcnow()),
                 account_id=account.id)
    audit("credit.auto_apply_changed", account_id=account.id, actor=user,
          details={"auto_apply": on})
    db.session.flush()
    return True


def _refusal(invoice: Invoice, amount: Decimal) -> str | None:
    """Why `amount` of credit cannot go to `invoice` (locked, of the account), or None."""
    if amount <= ZERO:
        return "Enter an amount more than zero."
    if invoice.status not in PAYABLE:
        state = invoice.status.value.replace("_", " ")
        return f"Invoice {invoice.number} is {state}; it cannot take credit."
    if amount > invoice.balance_due:
        due = money(invoice.balance_due, invoice.currency)
        return f"That is more than the balance due of {due}."
    if amount != amount.quantize(CENT):
        return "Enter the amount to the cent."
    return None


def apply_credit_to_invoices(account: Account, amounts: Iterable[tuple[Invoice, Decimal]], *,
                             on: date | None = None) -> list[LedgerEntry]:
    """Apply credit to invoices the reseller chose, each its own amount, all or nothing: the
    oldest invoice first, each taking the oldest credit first (one `apply_credit` per
    invoice). Raises CreditApplicationRefused, applying nothing, when no amount is given, an
    invoice is not the account's or appears twice, an amount is not more than zero or is more
    than its invoice's balance due, the invoice is not open, or the amounts add up to more
    than the account's credit."""
    account = lock_account(account.id)
    chosen = list(amounts)
    if not chosen:
        raise CreditApplicationRefused({}, "Enter the credit to apply to at least one invoice.")
    if len({invoice.id for invoice, _ in chosen}) != len(chosen):
        raise CreditApplicationRefused({}, "Each invoice can be chosen once.")
    if any(invoice.account_id != account.id for invoice, _ in chosen):
        raise CreditApplicationRefused({}, "Credit can only go to the account's own invoices.")
    # Locked in id order (as payments lock them), then applied oldest first.
    locked = {invoice.id: lock_invoice(invoice.id)
              for invoice, _ in sorted(chosen, key=lambda pair: pair[0].id)}
    chosen = sorted(((locked[invoice.id], amount) for invoice, amount in chosen),
                    key=lambda pair: (pair[0].issue_date, pair[0].number))
    errors = {invoice.number: reason for invoice, amount in chosen
              if (reason := _refusal(invoice, amount))}
    total = sum((amount for _, amount in chosen), ZERO)
    available = credit_balance(account)
    total_error = None
    if total > available:
        total_error = (f"Together that is {money(total, account.currency)}, more than your "
                       f"available credit of {money(available, account.currency)}.")
    if errors or total_error:
        raise CreditApplicationRefused(errors, total_error)
    on = on or date.today()
    return [entry for invoice, amount in chosen for entry in apply_credit(invoice, amount, on=on)]


def _undo_application(entry: LedgerEntry, on: date) -> LedgerEntry:
    """Reverse one application, whatever the invoice's state (the caller decides that)."""
    invoice = lock_invoice(entry.invoice_id)
    reverse_credit(invoice, entry.amount)
    reversal = ledger.reverse_entry(entry, effective_on=on,
                                    memo=f"Credit taken off {invoice.number}")
    record_event(CreditReversed(invoice_number=invoice.number, amount=entry.amount,
                                currency=entry.currency), account_id=entry.account_id)
    return reversal


def reverse_credit_application(entry: LedgerEntry, *, on: date | None = None) -> LedgerEntry:
    """Take an application of credit off its invoice; the credit is available again. Only on
    an invoice with no payment on it (SPEC §9 rule 3). Raises CreditError for an entry that is
    not a standing application, InvoiceStateError when the invoice has a payment."""
    lock_account(entry.account_id)
    if entry.kind != EntryKind.CREDIT_APPLICATION or entry.is_reversal \
            or ledger.is_reversed(entry):
        raise CreditError("That credit application cannot be reversed.")
    invoice = lock_invoice(entry.invoice_id)
    if invoice.status == InvoiceStatus.VOID or invoice.amount_paid > ZERO:
        raise InvoiceStateError(f"Invoice {invoice.number} has a payment on it; its credit "
                                "stays applied.")
    return _undo_application(entry, on or date.today())


def reverse_invoice_credit(invoice: Invoice, *, on: date | None = None) -> list[LedgerEntry]:
    """Take all the credit off an invoice that has no payment on it (SPEC §9 rule 3): every
    standing application, whichever call or credit it came from, is reversed, and the credit
    is available again. One `credit.reversed` event for the whole amount. Raises
    InvoiceStateError when the invoice has a payment on it (or is void), CreditError when it
    has no credit applied."""
    lock_account(invoice.account_id)
    invoice = lock_invoice(invoice.id)
    if invoice.status == InvoiceStatus.VOID or invoice.amount_paid > ZERO:
        raise InvoiceStateError(f"Invoice {invoice.number} has a payment on it; its credit "
                                "stays applied.")
    applications = ledger.open_entries(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                                       LedgerEntry.invoice_id == invoice.id)
    if not applications:
        raise CreditError(f"Invoice {invoice.number} has no credit applied to it.")
    on = on or date.today()
    reversals = []
    for application in reversed(applications):
        reverse_credit(invoice, application.amount)
        reversals.append(ledger.reverse_entry(
            application, effective_on=on, memo=f"Credit taken off {invoice.number}"))
    record_event(CreditReversed(invoice_number=invoice.number,
                                amount=sum((entry.amount for entry in applications), ZERO),
                                currency=invoice.currency), account_id=invoice.account_id)
    return reversals


def take_back_credit(lot: LedgerEntry, *, on: date, memo: str) -> None:
    """Withdraw a credit entry in full (an overpayment whose payment came back): first the
    applications drawn from it, newest first — their invoices reopen — then the credit itself.
    The caller holds the account lock."""
    applications = ledger.open_entries(LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
                                       LedgerEntry.credit_entry_id == lot.id)
    for application in reversed(applications):
        _undo_application(application, on)
    ledger.reverse_entry(lot, effective_on=on, memo=memo)
