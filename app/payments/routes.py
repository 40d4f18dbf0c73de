"""The pay flow (form → Review → Confirm payment), the payments list and receipts."""

from datetime import date

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.accounts.models import Account
from app.billing.models import Invoice
from app.credit.services import credit_balance
from app.extensions import db
from app.formatting import money
from app.money import ZERO
from app.payments import bp, methods, pay, settlement
from app.payments.gateways import get_gateway
from app.payments.gateways.base import MethodKind
from app.payments.gateways.sandbox import ACH_SETTLEMENT_BUSINESS_DAYS
from app.payments.models import PaymentDraft, PaymentMethod
from app.payments.pay_forms import (
    ConfirmForm,
    PayForm,
    PaymentFilterForm,
    pay_form,
    posted_invoice_ids,
)
from app.payments.receipts import (
    STATUS_BADGES,
    STATUS_LABELS,
    PaymentFilters,
    build_receipt,
    get_payment_or_404,
    list_payments,
    method_choices,
    receipt_pdf,
)
from app.payments.services import processing_invoice_ids
from app.web import (
    PAYMENT_MADE,
    current_account_id,
    htmx_redirect,
    is_fragment_request,
    render,
    send_download,
    with_trigger,
)

PAY_PAGE = "payments/pay.html"
METHODS_ENDPOINT = "payments.method_list"


def _account() -> Account:
    return db.session.get(Account, current_account_id())


def _payer() -> Account:
    """The signed-in user's account. Raises PayNotAllowed (403) for a role that cannot pay."""
    account = _account()
    pay.check_can_pay(current_user.role)
    return account


def _methods_page_url() -> str | None:
    """The payment methods page, where methods are added (when the application serves it)."""
    if METHODS_ENDPOINT in current_app.view_functions:
        return url_for(METHODS_ENDPOINT)
    return None


def _default_method(usable: list[PaymentMethod]) -> str | None:
    """The account's default method when it can be charged, or else the first that can."""
    default = next((m for m in usable if m.is_default), usable[0] if usable else None)
    return str(default.id) if default else None


def _draft_form(account: Account, draft: PaymentDraft, today: date, preselect: str | None = None
                ) -> PayForm:
    """The pay form as the draft left it (its reviewed plan), or with the defaults: every
    payable invoice (or only `preselect`, an invoice number) at its balance due."""
    invoices = pay.payable_invoices(account.id)
    usable = methods.usable_methods(account.id, today)
    data: dict = {"draft": draft.key}
    reviewed = {invoice_id: amount for invoice_id, amount in pay.draft_selections(draft)}
    if reviewed:
        extra = [i for i in reviewed if i not in {invoice.id for invoice in invoices}]
        invoices += _account_invoices(account.id, extra)
        for invoice in invoices:
            data[f"pay_{invoice.id}"] = invoice.id in reviewed
            data[f"amount_{invoice.id}"] = str(reviewed.get(invoice.id, invoice.balance_due))
        data["apply_credit"] = draft.apply_credit
        data["method"] = str(draft.method_id) if draft.method_id else _default_method(usable)
    else:
        numbers = {invoice.number for invoice in invoices}
        only = preselect if preselect in numbers else None
        for invoice in invoices:
            data[f"pay_{invoice.id}"] = only is None or invoice.number == only
            data[f"amount_{invoice.id}"] = str(invoice.balance_due)
        data["method"] = _default_method(usable)
    return pay_form(invoices, usable, formdata=None, data=data)


def _account_invoices(account_id: int, ids) -> list[Invoice]:
    if not ids:
        return []
    return list(db.session.scalars(select(Invoice).where(
        Invoice.account_id == account_id, Invoice.id.in_(list(ids)))
        .order_by(Invoice.issue_date, Invoice.id)))


def _posted_form(account: Account, today: date) -> PayForm:
    """The pay form as posted: the payable invoices, and any other invoice of the account the
    form names (paid in the meantime), so that its box keeps what was typed."""
    invoices = pay.payable_invoices(account.id)
    offered = {invoice.id for invoice in invoices}
    named = posted_invoice_ids(request.form.keys()) - offered
    invoices = sorted(invoices + _account_invoices(account.id, named),
                      key=lambda invoice: (invoice.issue_date, invoice.id))
    return pay_form(invoices, methods.usable_methods(account.id, today))


def _totals(account: Account, form: PayForm) -> dict:
    """Live totals of what the form holds: the amounts that read well, the credit if asked."""
    amounts = [amount for invoice_id, amount in form.selections()]
    invoices_total = sum(amounts, ZERO)
    credit = credit_balance(account) if form.apply_credit.data else ZERO
    applied = min(max(credit, ZERO), invoices_total)
    return {"invoices_total": invoices_total, "credit_applied": applied,
            "to_charge": invoices_total - applied,
            "incomplete": len(amounts) != len(form.chosen())}


def _form_page(account: Account, form: PayForm, today: date, *, notice: str | None = None,
               status: int = 200):
    held = processing_invoice_ids(account.id)
    context = {
        "form": form,
        "account": account,
        "today": today,
        "held": held,
        "credit_available": credit_balance(account),
        "totals": _totals(account, form),
        "notice": notice,
        "methods_url": _methods_page_url(),
        "ach_days": ACH_SETTLEMENT_BUSINESS_DAYS,
        "has_ach": any(method.kind == MethodKind.ACH for method in form.usable_methods),
    }
    return render(PAY_PAGE, "payments/_pay_form.html", step="form", **context), status


def _review_page(account: Account, draft: PaymentDraft, plan: pay.Plan):
    return render(PAY_PAGE, "payments/_pay_review.html", step="review", account=account,
                  draft=draft, plan=plan, ach_days=ACH_SETTLEMENT_BUSINESS_DAYS,
                  is_ach=plan.method is not None and plan.method.kind == MethodKind.ACH,
                  confirm_form=ConfirmForm(formdata=None, data={"draft": draft.key}))


def _after_confirmation(account: Account, draft: PaymentDraft):
    """A confirmed draft shows what it did: its payment's receipt, or the credit it applied."""
    if draft.payment_id is not None:
        return htmx_redirect(url_for("payments.receipt", payment_id=draft.payment_id))
    lines = pay.draft_selections(draft)
    credit = pay.draft_credit_shares(draft)
    invoices = {invoice.id: invoice for invoice in _account_invoices(account.id, credit)}
    rows = [(invoices[invoice_id], credit[invoice_id]) for invoice_id, _ in lines
            if invoice_id in credit and invoice_id in invoices]
    return render(PAY_PAGE, "payments/_pay_done.html", step="done", account=account,
                  draft=draft, rows=rows, total=sum(credit.values(), ZERO))


@bp.route("/pay", endpoint="pay")
def pay_page():
    account = _payer()
    today = date.today()
    key = request.args.get("draft")
    if not key:
        # A draft for this form, and its own address: back, reload or a second tab then
        # show this payment's state rather than start another.
        draft = pay.open_draft(account.id, current_user.id)
        db.session.commit()
        invoice = request.args.get("invoice")
        target = url_for("payments.pay", draft=draft.key,
                         invoice=invoice if invoice and len(invoice) <= 40 else None)
        return redirect(target, code=303)
    draft = pay.get_draft_or_404(account.id, key)
    if draft.confirmed_at is not None:
        return _after_confirmation(account, draft)
    if request.args.get("step") == "review" and draft.lines:
        try:
            plan = pay.plan_payment(account, pay.draft_selections(draft),
                                    apply_credit=draft.apply_credit, method_id=draft.method_id,
                                    today=today)
        except pay.PlanInvalid as invalid:
            form = _draft_form(account, draft, today)
            form.add_plan_errors(invalid.errors)
            return _form_page(account, form, today, notice=pay.REVIEW_AGAIN, status=422)
        return _review_page(account, draft, plan)
    return _form_page(account, _draft_form(account, draft, today, request.args.get("invoice")),
                      today)


@bp.route("/pay/totals", methods=["POST"])
def pay_totals():
    """The totals of the pay form as it is being filled in (htmx), without saving anything."""
    account = _payer()
    if not is_fragment_request():
        return redirect(url_for("payments.pay"), code=303)
    form = _posted_form(account, date.today())
    form.validate()
    return render("payments/_pay_totals.html", totals=_totals(account, form), account=account)


@bp.route("/pay/review", methods=["POST"])
def pay_review():
    account = _payer()
    today = date.today()
    form = _posted_form(account, today)
    valid = form.validate()
    draft = pay.get_draft_or_404(account.id, form.draft.data or "")
    if draft.confirmed_at is not None:
        return htmx_redirect(url_for("payments.pay", draft=draft.key))
    if valid:
        try:
            plan = pay.plan_payment(account, form.selections(),
                                    apply_credit=form.apply_credit.data,
                                    method_id=form.method_id(), today=today)
        except pay.PlanInvalid as invalid:
            form.add_plan_errors(invalid.errors)
        else:
            pay.review_draft(draft, plan)
            db.session.commit()
            review_url = url_for("payments.pay", draft=draft.key, step="review")
            if not is_fragment_request():
                return redirect(review_url, code=303)
            body = _review_page(account, draft, plan)
            return body, 200, {"HX-Push-Url": review_url}
    return _form_page(account, form, today, status=422)


@bp.route("/pay/confirm", methods=["POST"])
def pay_confirm():
    account = _payer()
    today = date.today()
    form = ConfirmForm()
    if not form.validate():
        return redirect(url_for("payments.pay"), code=303)
    key = form.draft.data
    try:
        confirmation = pay.confirm_draft(account.id, key, today=today)
    except pay.PlanInvalid as invalid:
        db.session.rollback()
        draft = pay.get_draft_or_404(account.id, key)
        again = _draft_form(account, draft, today)
        again.add_plan_errors(invalid.errors)
        return _form_page(account, again, today, notice=invalid.message, status=422)
    db.session.commit()
    payment = confirmation.payment
    if confirmation.outcome == "failed":
        draft = pay.get_draft_or_404(account.id, key)
        again = _draft_form(account, draft, today)
        again.add_plan_errors({pay.METHOD: payment.failure_reason})
        notice = (f"Your payment of {money(payment.amount, payment.currency)} with "
                  f"{payment.method_label} did not go through, and nothing was charged. "
                  "Choose another method, or check the card, and review the payment again.")
        return _form_page(account, again, today, notice=notice, status=422)
    flash(*_outcome_message(confirmation))
    if payment is None:
        return with_trigger(htmx_redirect(url_for("payments.pay", draft=key)), PAYMENT_MADE)
    return with_trigger(htmx_redirect(url_for("payments.receipt", payment_id=payment.id)),
                        PAYMENT_MADE)


def _outcome_message(confirmation: pay.Confirmation) -> tuple[str, str]:
    """A line above the receipt saying what the confirmation did (the receipt says the rest)."""
    payment = confirmation.payment
    if confirmation.replayed:
        return "This payment was confirmed already; nothing more was charged.", "info"
    if payment is None:
        return "Your credit paid the invoices; nothing was charged.", "success"
    amount = money(payment.amount, payment.currency)
    if payment.status.value == "processing":
        return f"Thank you: your bank payment of {amount} was submitted.", "success"
    if payment.status.value == "unknown":
        return f"Your payment of {amount} was submitted.", "info"
    return f"Thank you: your payment of {amount} succeeded.", "success"


# --- Payments and receipts --------------------------------------------------------------------


def _payment_filters(form: PaymentFilterForm) -> PaymentFilters:
    def valid(field, default=None):
        return field.data if field.data and not field.errors else default

    method = valid(form.method)
    return PaymentFilters(status=valid(form.status, "all"),
                          method_id=int(method) if method else None,
                          date_from=valid(form["from"]), date_to=valid(form["to"]),
                          page=valid(form.page, 1))


@bp.route("/payments")
def payment_list():
    account_id = current_account_id()
    form = PaymentFilterForm(request.args)
    form.method.choices = [SelectChoice("", "All methods"), *method_choices(account_id)]
    form.validate()
    filters = _payment_filters(form)
    result = list_payments(account_id, filters)
    args = {key: value for key, value in request.args.items() if key != "page"}
    pages = {
        "previous": url_for("payments.payment_list", **args, page=result.page - 1)
        if result.page > 1 else None,
        "next": url_for("payments.payment_list", **args, page=result.page + 1)
        if result.page < result.pages else None,
    }
    return render("payments/payments.html", "payments/_payments_table.html", form=form,
                  result=result, pages=pages, labels=STATUS_LABELS, badges=STATUS_BADGES,
                  filtered=filters != PaymentFilters(page=filters.page),
                  can_pay=current_user.role in pay.PAY_ROLES,
                  oob_fields=is_fragment_request())


@bp.route("/payments/<int:payment_id>")
def receipt(payment_id: int):
    account = _account()
    payment = get_payment_or_404(account.id, payment_id)
    can_pay = current_user.role in pay.PAY_ROLES
    return render("payments/receipt.html", receipt=build_receipt(payment), account=account,
                  payable=bool(pay.payable_invoices(account.id)) and can_pay,
                  retry=settlement.retry_status(payment, get_gateway().today()),
                  can_retry=can_pay)


@bp.route("/payments/<int:payment_id>.pdf", endpoint="receipt_pdf")
def receipt_pdf_download(payment_id: int):
    account = _account()
    payment = get_payment_or_404(account.id, payment_id)
    return send_download(receipt_pdf(build_receipt(payment), account.legal_name, account.number),
                         filename=f"receipt-{payment.reference}.pdf", mimetype="application/pdf")
