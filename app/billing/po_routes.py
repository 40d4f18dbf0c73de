"""The PO numbers page (SPEC §6): the account's default PO number and each end customer's, in
effect today and scheduled, and a form that adds an entry (admins and billing users).

A plain form POST answers with a redirect (303) to the page; htmx gets the page's content back
with what happened said at its top. Refused input comes back with 422 and the form as typed,
each message next to its field. Another account's end customer is a 404."""

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.accounts.models import Role
from app.billing import bp
from app.billing.forms import ACCOUNT_SCOPE, PONumberForm
from app.billing.po_numbers import (
    WHOLE_ACCOUNT,
    PONumberRefused,
    end_customers,
    get_end_customer_or_404,
    po_schedules,
    schedule_po_number,
)
from app.errors import DomainError
from app.extensions import db
from app.formatting import medium_date
from app.web import current_account_id, is_fragment_request, render

EDITORS = (Role.ADMIN, Role.BILLING)
EDITORS_ONLY = "Only an admin or billing user of your account can set PO numbers."
END_CUSTOMER_MESSAGE = "Choose the whole account or one of your end customers."


def _form(account_id: int, today: date, formdata=None) -> PONumberForm:
    """The form, over the account's end customers; empty with today's date, or as sent."""
    if formdata is None:
        form = PONumberForm(formdata=None, end_customer=ACCOUNT_SCOPE, effective_from=today)
    else:
        form = PONumberForm(formdata)
    form.end_customer.choices = [(ACCOUNT_SCOPE, WHOLE_ACCOUNT)] + [
        (str(customer.id), customer.name) for customer in end_customers(account_id)]
    return form


def _context(account_id: int, today: date, form: PONumberForm | None,
             notice: str | None = None) -> dict:
    can_edit = current_user.role in EDITORS
    return {
        "schedules": po_schedules(account_id, today),
        "form": (form or _form(account_id, today)) if can_edit else None,
        "can_edit": can_edit,
        "editors_only": EDITORS_ONLY,
        "notice": notice,
        "today": today,
    }


@bp.route("/po-numbers", methods=["GET", "POST"])
def po_numbers():
    """GET: the page (its content alone for htmx). POST: add an entry to a schedule."""
    account_id = current_account_id()
    today = date.today()
    if request.method == "GET":
        return render("billing/po_numbers.html", "billing/_po_numbers.html",
                      **_context(account_id, today, None))
    if current_user.role not in EDITORS:
        raise DomainError(EDITORS_ONLY, status=403)
    form = _form(account_id, today, request.form)
    valid = form.validate()
    customer = None
    if not form.end_customer.errors:
        try:
            customer_id = form.end_customer_id()
        except ValueError:
            form.end_customer.errors = [END_CUSTOMER_MESSAGE]
            valid = False
        else:
            if customer_id is not None:
                customer = get_end_customer_or_404(account_id, customer_id)
    if valid:
        try:
            entry = schedule_po_number(account_id, end_customer=customer,
                                       number=form.po_number.data,
                                       effective_from=form.effective_from.data, today=today,
                                       by=current_user._get_current_object())
        except PONumberRefused as refused:
            db.session.rollback()
            form[refused.field].errors = [*form[refused.field].errors, refused.message]
            valid = False
    if not valid:
        context = _context(account_id, today, form)
        if is_fragment_request():
            return render_template("billing/_po_numbers.html", **context), 422
        return render_template("billing/po_numbers.html", **context), 422
    db.session.commit()
    scope = customer.name if customer else "the whole account"
    day = medium_date(entry.effective_from)
    notice = (f"PO number {entry.number} applies to {scope} from {day}." if entry.number
              else f"No PO number for {scope} from {day} on.")
    if is_fragment_request():
        return render_template("billing/_po_numbers.html",
                               **_context(account_id, today, None, notice=notice))
    flash(notice, "success")
    return redirect(url_for("billing.po_numbers"), code=303)
