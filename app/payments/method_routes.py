"""Payment methods pages (SPEC §8): the list, a card added on the gateway's hosted page, a US
bank account added by an admin after confirming their password, micro-deposit verification,
the default method and removal. Admin and billing users manage methods; only an admin adds a
bank account; a viewer reads the list. Every method id is looked up within the signed-in
user's account, so another account's id is a 404."""

from dataclasses import dataclass
from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from app.accounts.models import Account, Role, utcnow
from app.accounts.reauth import reauthentication_required
from app.errors import DomainError
from app.extensions import db
from app.payments import bp, methods
from app.payments.forms import BankAccountForm, MicroDepositForm
from app.payments.gateways import get_gateway
from app.payments.gateways.base import InvalidPaymentDetails, MethodKind
from app.payments.methods import ACH_CURRENCIES, ACH_CURRENCY_REFUSAL
from app.payments.models import MethodStatus
from app.web import (
    current_account_id,
    htmx_redirect,
    is_fragment_request,
    render,
    roles_required,
)

MANAGERS = (Role.ADMIN, Role.BILLING)
ADMIN_ONLY_REASON = ("Only an admin of your account can add a bank account, because an admin "
                     "accepts the debit authorisation for the company.")
# The card setups begun in this browser session, newest last: a return from the gateway is
# taken only for one of them, begun by the same user for the same account.
CARD_SETUPS = "card_setups"
MAX_CARD_SETUPS = 5


class CardSetupNotYours(DomainError):
    status = 404


@dataclass(frozen=True)
class Permissions:
    """What the signed-in user may do on the payment methods pages."""

    can_manage: bool
    can_add_bank_account: bool
    # Why there is no "Add a bank account" button, when that is worth saying.
    bank_account_note: str | None


def _account() -> Account:
    return db.session.get(Account, current_account_id())


def _today() -> date:
    return date.today()


def _permissions(account: Account) -> Permissions:
    can_manage = current_user.role in MANAGERS
    usd = account.currency in ACH_CURRENCIES
    note = None
    if can_manage and not usd:
        note = ACH_CURRENCY_REFUSAL.format(currency=account.currency)
    elif can_manage and current_user.role != Role.ADMIN:
        note = "Only an admin of your account can add a bank account."
    return Permissions(can_manage=can_manage,
                       can_add_bank_account=usd and current_user.role == Role.ADMIN,
                       bank_account_note=note)


def _list_context(account: Account, message: str | None = None, tone: str = "success") -> dict:
    today = _today()
    rows = [(method, methods.method_state(method, today))
            for method in methods.list_methods(account.id)]
    return {"rows": rows, "permissions": _permissions(account), "message": message,
            "message_tone": tone, "has_default": any(m.is_default for m, _ in rows)}


def _refusal(status: int, title: str, message: str):
    """An error page (or fragment) with its own one-sentence reason."""
    template = "errors/_error.html" if is_fragment_request() else "errors/error.html"
    return render_template(template, status=status, title=title, message=message), status


def _after_change(account: Account, message: str, tone: str = "success", status: int = 200):
    """After a change from the list: the list fragment with the message for htmx; otherwise
    the message is flashed and the browser goes back to the list."""
    if is_fragment_request():
        return render_template("payments/_methods.html",
                               **_list_context(account, message, tone)), status
    flash(message, tone)
    return redirect(url_for("payments.method_list"), code=303)


@bp.route("/payment-methods")
def method_list():
    return render("payments/methods.html", "payments/_methods.html",
                  **_list_context(_account()))


@bp.route("/payment-methods/<int:method_id>/default", methods=["POST"])
@roles_required(*MANAGERS)
def make_default(method_id: int):
    account = _account()
    method = methods.get_method_or_404(account.id, method_id)
    try:
        methods.set_default(method, _today())
    except methods.MethodStateError as refused:
        db.session.rollback()
        return _after_change(account, refused.message, "danger", status=422)
    db.session.commit()
    return _after_change(account, f"{method.label} is now your default payment method.")


@bp.route("/payment-methods/<int:method_id>/remove", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def remove_method(method_id: int):
    """GET asks for confirmation (a page, or a row of the list for htmx); POST removes."""
    account = _account()
    method = methods.get_method_or_404(account.id, method_id)
    if request.method == "GET":
        return render("payments/remove_method.html", "payments/_method_remove_row.html",
                      method=method, is_bank_account=method.kind == MethodKind.ACH)
    label = method.label
    methods.remove_method(method)
    db.session.commit()
    return _after_change(account, f"{label} was removed from your payment methods.")


# Cards: entered on the gateway's hosted page ------------------------------------------------


@bp.route("/payment-methods/new/card", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_card():
    """GET explains; POST opens a card setup at the gateway and sends the browser there."""
    account = _account()
    if request.method == "GET":
        return render("payments/new_card.html", account=account)
    setup = get_gateway().begin_card_setup(
        customer=account.number, return_url=url_for("payments.card_return", _external=True),
    )
    setups = [entry for entry in session.get(CARD_SETUPS, []) if isinstance(entry, dict)]
    setups.append({"reference": setup.reference, "user": current_user.id,
                   "account": account.id})
    session[CARD_SETUPS] = setups[-MAX_CARD_SETUPS:]
    db.session.commit()
    return htmx_redirect(setup.redirect_url)


def _take_card_setup(reference: str, account: Account) -> None:
    """Forget the setup begun in this session; raises CardSetupNotYours when this session's
    user did not begin it for this account (another user's or tenant's reference)."""
    setups = [entry for entry in session.get(CARD_SETUPS, []) if isinstance(entry, dict)]
    mine = {"reference": reference, "user": current_user.id, "account": account.id}
    if not reference or mine not in setups:
        raise CardSetupNotYours("This card form was not started in your session. Start adding "
                                "the card again from Payment methods.")
    session[CARD_SETUPS] = [entry for entry in setups if entry != mine]


@bp.route("/payment-methods/new/card/return")
@roles_required(*MANAGERS)
def card_return():
    """Where the gateway's hosted page sends the browser back to, with the setup's reference
    (and `cancelled` when no card was entered)."""
    account = _account()
    reference = request.args.get("reference", "")
    _take_card_setup(reference, account)
    if request.args.get("cancelled"):
        flash("No card was added.", "info")
        return redirect(url_for("payments.method_list"), code=303)
    card = get_gateway().finish_card_setup(reference)
    method = methods.add_card(account, card, user=current_user._get_current_object())
    db.session.commit()
    message = f"{method.label} was added."
    if method.is_default:
        message += " It is your default payment method."
    flash(message, "success")
    return redirect(url_for("payments.method_list"), code=303)


# Bank accounts (ACH): admin only, after re-authentication ----------------------------------


@bp.route("/payment-methods/new/ach", methods=["GET", "POST"])
def new_ach():
    account = _account()
    if current_user.role != Role.ADMIN:
        return _refusal(403, "Only an admin can add a bank account", ADMIN_ONLY_REASON)
    if account.currency not in ACH_CURRENCIES:
        status = 409 if request.method == "POST" else 200
        return render("payments/new_ach.html", account=account, form=None,
                      refusal=ACH_CURRENCY_REFUSAL.format(currency=account.currency)), status
    return _bank_account_form(account)


@reauthentication_required
def _bank_account_form(account: Account):
    payee = current_app.config["ISSUER_NAME"]
    wording = methods.authorisation_text(account, payee=payee)
    digest = methods.authorisation_digest(wording)
    form = BankAccountForm()
    if form.validate_on_submit():
        if form.authorisation_digest.data != digest:
            form.accept_authorisation.data = False
            form.accept_authorisation.errors.append(
                "The wording of the authorisation has changed. Read it again and accept it.")
        else:
            try:
                method = methods.add_bank_account(
                    account,
                    holder_name=form.holder_name.data,
                    routing_number=form.routing_number.data,
                    account_number=form.account_number.data,
                    account_type=form.account_type.data,
                    payee=payee,
                    authorisation=methods.Authorisation(
                        current_user._get_current_object(), request.remote_addr, utcnow()),
                    today=_today(),
                )
            except InvalidPaymentDetails as invalid:
                db.session.rollback()
                field = next((f for f in form if f.name == invalid.field), form.account_number)
                field.errors.append(invalid.message)
            else:
                db.session.commit()
                flash(f"We sent two small deposits to {method.label}. When they show on your "
                      "bank statement, enter them below to verify the account.", "success")
                return htmx_redirect(url_for("payments.verify_method", method_id=method.id))
    form.authorisation_digest.data = digest
    status = 422 if form.errors else 200
    return render("payments/new_ach.html", "payments/_ach_form.html", account=account,
                  form=form, authorisation=wording, refusal=None), status


@bp.route("/payment-methods/<int:method_id>/verify", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def verify_method(method_id: int):
    account = _account()
    method = methods.get_method_or_404(account.id, method_id)
    if method.kind != MethodKind.ACH:
        abort(404)
    today = _today()
    form = MicroDepositForm()
    status = 200
    if request.method == "POST":
        if method.status != MethodStatus.PENDING_VERIFICATION:
            status = 409  # verified, locked or expired already: the page says which
        elif form.validate_on_submit():
            amounts = (form.first_deposit.amount, form.second_deposit.amount)
            matched = methods.verify_bank_account(method, amounts, today=today)
            db.session.commit()
            if matched:
                flash(f"{method.label} is verified. You can now pay with it.", "success")
                return htmx_redirect(url_for("payments.method_list"))
            if method.status == MethodStatus.PENDING_VERIFICATION:
                left = methods.tries_left(method)
                form.first_deposit.errors = [
                    "These amounts do not match the two deposits we sent. Check your bank "
                    f"statement: {left} {'try' if left == 1 else 'tries'} left."]
            status = 422
        else:
            status = 422
    return render("payments/verify.html", "payments/_verify.html", method=method, form=form,
                  state=methods.method_state(method, today),
                  can_add_bank_account=_permissions(account).can_add_bank_account,
                  deposit_limit=methods.MICRO_DEPOSIT_LIMIT), status
