from datetime import date

from flask import current_app, redirect, request, url_for
from flask_login import current_user

from app.accounts.models import Account
from app.billing import bp, exports
from app.billing.forms import DateRangeForm, InvoiceFilterForm
from app.billing.history import get_historical_or_404, historical_lines, list_historical
from app.billing.invoices import (
    STATUS_FILTERS,
    UNPAID,
    InvoiceFilters,
    can_pay,
    customer_lines,
    get_invoice_or_404,
    held_invoice_ids,
    invoice_groups,
    list_invoices,
    nest_lines,
)
from app.billing.statement import Statement, build_statement, default_range
from app.extensions import db
from app.web import (
    current_account_id,
    is_fragment_request,
    positive_int,
    render,
    send_download,
)


def _filters(form: InvoiceFilterForm) -> InvoiceFilters:
    """The valid filters of the form; a field with an error is left out (and shown)."""
    def valid(field, default=None):
        return field.data if field.data and not field.errors else default

    return InvoiceFilters(
        status=valid(form.status, "all"),
        date_from=valid(form["from"]),
        date_to=valid(form["to"]),
        q=(valid(form.q, "") or "").strip(),
        sort=valid(form.sort, "-issue_date"),
        page=valid(form.page, 1),
    )


@bp.route("/invoices")
def invoice_list():
    form = InvoiceFilterForm(request.args)
    form.validate()
    filters = _filters(form)
    today = date.today()
    account_id = current_account_id()
    return render(
        "billing/invoices.html",
        "billing/_invoice_table.html",
        form=form,
        filters=filters,
        result=list_invoices(account_id, filters, today),
        status_labels=STATUS_FILTERS,
        held=held_invoice_ids(account_id),
        today=today,
        oob_fields=is_fragment_request(),
    )


def _pay_url(invoice, *, external: bool = False) -> str | None:
    """Where this invoice is paid online, while it has a balance due."""
    if invoice.status not in UNPAID:
        return None
    return url_for("payments.pay", invoice=invoice.number, _external=external)


@bp.route("/invoices/<number>")
def invoice_detail(number: str):
    account_id = current_account_id()
    invoice = get_invoice_or_404(account_id, number)
    groups = invoice_groups(invoice)
    expanded = request.args.get("expand")
    lines = customer_lines(invoice, expanded) if expanded else None
    return render("billing/invoice.html", invoice=invoice, groups=groups, expanded=expanded,
                  expanded_lines=lines, expanded_nested=nest_lines(lines or []),
                  today=date.today(),
                  pay_url=_pay_url(invoice) if can_pay(current_user.role) else None,
                  processing=invoice.id in held_invoice_ids(account_id))


@bp.route("/invoices/<number>/customers/<key>")
def invoice_customer_lines(number: str, key: str):
    invoice = get_invoice_or_404(current_account_id(), number)
    lines = customer_lines(invoice, key)
    if is_fragment_request():
        return render("billing/_customer_lines.html", invoice=invoice, lines=lines,
                      nested=nest_lines(lines))
    return redirect(url_for("billing.invoice_detail", number=number, expand=key,
                            _anchor=f"customer-{key}"))


@bp.route("/invoices/<number>.pdf")
def invoice_pdf(number: str):
    account_id = current_account_id()
    invoice = get_invoice_or_404(account_id, number)
    pdf = exports.invoice_pdf(invoice, pay_url=_pay_url(invoice, external=True),
                              processing=invoice.id in held_invoice_ids(account_id))
    return send_download(pdf, filename=f"{invoice.number}.pdf", mimetype="application/pdf")


@bp.route("/invoices/<number>.csv")
def invoice_csv(number: str):
    invoice = get_invoice_or_404(current_account_id(), number)
    return send_download(exports.invoice_csv(invoice), filename=f"{invoice.number}.csv",
                         mimetype="text/csv")


@bp.route("/history")
def history():
    page = request.args.get("page", 1, type=positive_int)
    return render("billing/history.html", result=list_historical(current_account_id(), page),
                  cutover=current_app.config["CUTOVER_DATE"])


@bp.route("/history/<number>")
def historical_invoice(number: str):
    invoice = get_historical_or_404(current_account_id(), number)
    return render("billing/historical_invoice.html", invoice=invoice,
                  lines=historical_lines(invoice))


@bp.route("/history/<number>.pdf")
def historical_pdf(number: str):
    invoice = get_historical_or_404(current_account_id(), number)
    return send_download(exports.historical_pdf(invoice), filename=f"{invoice.number}.pdf",
                         mimetype="application/pdf")


@bp.route("/history/<number>.csv")
def historical_csv(number: str):
    invoice = get_historical_or_404(current_account_id(), number)
    return send_download(exports.historical_csv(invoice), filename=f"{invoice.number}.csv",
                         mimetype="text/csv")


def _statement() -> tuple[DateRangeForm, Statement]:
    form = DateRangeForm(request.args)
    form.validate()
    default_from, default_to = default_range(date.today())
    start, end = form["from"], form["to"]
    date_from = start.data if start.data and not start.errors else default_from
    date_to = end.data if end.data and not end.errors else default_to
    if date_to < date_from:
        date_from, date_to = default_from, default_to
    # The boxes show the period the statement covers, unless the reader's entry had an error.
    if not start.errors:
        start.data = date_from
    if not end.errors:
        end.data = date_to
    account = db.session.get(Account, current_account_id())
    return form, build_statement(account, date_from, date_to)


@bp.route("/statement")
def statement():
    form, result = _statement()
    return render("billing/statement.html", "billing/_statement.html", form=form,
                  statement=result, oob_fields=is_fragment_request())


@bp.route("/statement.pdf")
def statement_pdf():
    _, result = _statement()
    return send_download(exports.statement_pdf(result),
                         filename=f"statement-{result.date_from}-{result.date_to}.pdf",
                         mimetype="application/pdf")


@bp.route("/statement.csv")
def statement_csv():
    _, result = _statement()
    return send_download(exports.statement_csv(result),
                         filename=f"statement-{result.date_from}-{result.date_to}.csv",
                         mimetype="text/csv")
