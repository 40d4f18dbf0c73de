"""The credit page (SPEC §9): the balance, the auto-apply setting, credit applied to chosen open
invoices, credit taken off an unpaid invoice, and the ledger with its running balance.

Every POST answers a plain form with a redirect (303) and htmx with the page's content, which
the page swaps in place; refused input comes back with 422 (the apply form alone) or 409."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user

from app.accounts.models import Account, Role
from app.billing.invoices import get_invoice_or_404
from app.credit import bp
from app.credit.forms import ApplyCreditForm, AutoApplyForm, ReverseCreditForm
from app.credit.overview import (
    APPLY_FORM_INVOICES,
    credit_ledger,
    currency_name,
    last_auto_apply_change,
    open_invoices,
    reversible_invoices,
)
from app.credit.services import (
    CreditApplicationRefused,
    apply_credit_to_invoices,
    credit_balance,
    reverse_invoice_credit,
    set_auto_apply,
)
from app.errors import DomainError
from app.extensions import db
from app.formatting import money
from app.money import ZERO
from app.web import (
    current_account_id,
    is_fragment_request,
    positive_int,
    render,
    roles_required,
)

APPLIERS = (Role.ADMIN, Role.BILLING)

AUTO_APPLY_NOTICES = {
    True: "Auto-apply is on. Each new invoice takes your available credit when it is issued.",
    False: "Auto-apply is off. New invoices no longer take credit; apply it to the invoices "
           "you choose.",
}


@dataclass(frozen=True)
class Permissions:
    """What the signed-in user may do on the page (the routes check the same roles)."""

    apply: bool
    change_auto_apply: bool


def _account() -> Account:
    return db.session.get(Account, current_account_id())


def _permissions() -> Permissions:
    return Permissions(apply=current_user.role in APPLIERS,
                       change_auto_apply=current_user.role == Role.ADMIN)


def _apply_form(account: Account) -> tuple[ApplyCreditForm, list, bool]:
    """The apply form over the account's oldest open invoices (APPLY_FORM_INVOICES of them),
    with empty boxes, and whether the account has more."""
    invoices = open_invoices(account, APPLY_FORM_INVOICES + 1)
    shown = invoices[:APPLY_FORM_INVOICES]
    form = ApplyCreditForm(formdata=None,
                           data={"lines": [{"number": invoice.number} for invoice in shown]})
    return form, shown, len(invoices) > len(shown)


def _total(form: ApplyCreditForm) -> Decimal:
    """The sum of the amounts typed that are amounts (refused ones left out)."""
    return sum((line.amount.data for line in form.lines
                if line.amount.data is not None and not line.amount.process_errors), ZERO)


def _apply_context(account: Account, form: ApplyCreditForm, invoices: list,
                   more_invoices: bool = False, total_error: str | None = None,
                   balance: Decimal | None = None) -> dict:
    balance = credit_balance(account) if balance is None else balance
    return {"account": account, "currency": account.currency, "balance": balance,
            "today": date.today(), "apply_form": form,
            "apply_rows": list(zip(form.lines, invoices, strict=True)),
            "more_open_invoices": more_invoices, "apply_limit": APPLY_FORM_INVOICES,
            "total": _total(form), "total_error": total_error}


def _context(account: Account, *, page: int = 1, notice: str | None = None,
             refusal: str | None = None) -> dict:
    permissions = _permissions()
    balance = credit_balance(account)
    context = {
        "account": account,
        "currency": account.currency,
        "currency_name": currency_name(account.currency),
        "balance": balance,
        "permissions": permissions,
        "auto_apply_change": last_auto_apply_change(account),
        "auto_apply_form": AutoApplyForm(formdata=None),
        "reverse_form": ReverseCreditForm(formdata=None),
        "reversible": reversible_invoices(account),
        "ledger": credit_ledger(account, page),
        "notice": notice,
        "refusal": refusal,
    }
    if permissions.apply:
        context.update(_apply_context(account, *_apply_form(account), balance=balance))
    return context


def _done(account: Account, notice: str):
    """After a change: the page again, with what happened said at its top."""
    if is_fragment_request():
        return make_response(render_template("credit/_credit.html",
                                             **_context(account, notice=notice)),
                             retarget="#credit-page", reswap="innerHTML")
    flash(notice, "success")
    return redirect(url_for("credit.overview"), code=303)


@bp.get("/credit")
def overview():
    """The credit page; htmx asks for the ledger alone (another page of it)."""
    account = _account()
    page = request.args.get("page", 1, type=positive_int)
    return render("credit/credit.html", "credit/_ledger.html", **_context(account, page=page))


@bp.post("/credit/apply")
@roles_required(*APPLIERS)
def apply():
    """Apply credit to the invoices given an amount, all or nothing (422 with the form, each
    refusal next to its box, when anything is refused). An invoice of another account is a
    404."""
    account = _account()
    form = ApplyCreditForm()
    valid = form.validate()
    invoices = [get_invoice_or_404(account.id, line.number.data or "") for line in form.lines]
    chosen = [(invoice, line.amount.data) for line, invoice in zip(form.lines, invoices,
                                                                   strict=True)
              if line.amount.data is not None]
    total_error = None
    if valid:
        try:
            apply_credit_to_invoices(account, chosen)
        except CreditApplicationRefused as refused:
            db.session.rollback()
            for line, invoice in zip(form.lines, invoices, strict=True):
                if invoice.number in refused.errors:
                    line.amount.errors = [refused.errors[invoice.number]]
            total_error, valid = refused.total_error, False
    if not valid:
        return _refused_amounts(account, form, invoices, total_error)
    db.session.commit()
    applied = sum((amount for _, amount in chosen), ZERO)
    count = len(chosen)
    return _done(account, f"{money(applied, account.currency)} of credit applied to {count} "
                          f"invoice{'s' if count != 1 else ''}.")


def _refused_amounts(account: Account, form: ApplyCreditForm, invoices: list,
                     total_error: str | None):
    context = _apply_context(account, form, invoices, total_error=total_error)
    if is_fragment_request():
        return make_response(render_template("credit/_apply_form.html", **context), 422,
                             retarget="#apply-credit", reswap="outerHTML")
    return render_template("credit/credit.html",
                           **{**_context(account), **context}), 422


@bp.get("/credit/apply/total")
@roles_required(*APPLIERS)
def apply_total():
    """The apply form's running total (htmx, as amounts are typed); a plain request goes to
    the page."""
    if not is_fragment_request():
        return redirect(url_for("credit.overview"))
    account = _account()
    form = ApplyCreditForm(request.args, meta={"csrf": False})
    return render_template("credit/_apply_total.html", currency=account.currency,
                           balance=credit_balance(account), total=_total(form))


@bp.post("/credit/auto-apply")
@roles_required(Role.ADMIN)
def auto_apply():
    """Turn auto-apply on or off (admins only)."""
    account = _account()
    form = AutoApplyForm()
    if not form.validate():
        abort(400)
    on = form.auto_apply.data == "on"
    set_auto_apply(account, on, user=current_user._get_current_object())
    db.session.commit()
    return _done(account, AUTO_APPLY_NOTICES[on])


@bp.post("/credit/invoices/<number>/reverse")
@roles_required(*APPLIERS)
def reverse(number: str):
    """Take all the credit off an invoice with no payment on it; 409 with the reason when it
    has one."""
    account = _account()
    invoice = get_invoice_or_404(account.id, number)
    if not ReverseCreditForm().validate():
        abort(400)
    try:
        reversals = reverse_invoice_credit(invoice)
    except DomainError as refusal:
        db.session.rollback()
        return _refused(account, refusal)
    db.session.commit()
    amount = -sum((entry.amount for entry in reversals), ZERO)
    return _done(account, f"{money(amount, account.currency)} of credit taken off {number}. "
                          "It is available again.")


def _refused(account: Account, refusal: DomainError):
    context = _context(account, refusal=refusal.message)
    if is_fragment_request():
        return make_response(render_template("credit/_credit.html", **context),
                             refusal.status, retarget="#credit-page", reswap="innerHTML")
    return render_template("credit/credit.html", **context), refusal.status
