"""The account page and the guided change requests (SPEC §10). Every user of the account reads
them; only an admin starts, edits, submits or cancels a request and changes the billing
contact. Request and document ids are looked up within the signed-in user's account, so
another account's id is a 404; staff have no account and get a 403."""

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.accounts.models import Account, Role
from app.accounts.reauth import reauthentication_required
from app.changes import account_info, bp, services
from app.changes.documents import (
    ACCEPTED,
    DocumentRejected,
    delete_document,
    describe_limits,
    document_path,
    store_document,
)
from app.changes.forms import (
    VALIDATE_TRIGGER,
    AddressForm,
    BillingContactForm,
    ConfirmForm,
    DocumentForm,
    LegalNameForm,
    ReviewForm,
    ScopeForm,
    TaxForm,
)
from app.changes.models import STEP_LABELS, ChangeRequest, ChangeStatus, ChangeType, Step
from app.changes.views import (
    STATUS_TONES,
    STEP_ENDPOINTS,
    TIMELINE_LABELS,
    change_summary,
    step_links,
)
from app.extensions import db
from app.web import (
    ACCOUNT_CHANGED,
    current_account_id,
    htmx_redirect,
    is_fragment_request,
    parse_int,
    render,
    with_trigger,
)

ADMIN_ONLY = ("Only an admin of your account can change the account's information or its "
              "change requests. Ask an admin of your account.")
VALUE_FORMS = {ChangeType.LEGAL_NAME: LegalNameForm, ChangeType.ADDRESS: AddressForm,
               ChangeType.TAX: TaxForm}


@bp.context_processor
def _labels() -> dict:
    return {"status_tones": STATUS_TONES, "timeline_labels": TIMELINE_LABELS}


def _account() -> Account:
    return db.session.get(Account, current_account_id())


def _is_admin() -> bool:
    return current_user.role == Role.ADMIN


def _refusal(status: int, title: str, message: str):
    template = "errors/_error.html" if is_fragment_request() else "errors/error.html"
    return render_template(template, status=status, title=title, message=message), status


def _admin_refusal():
    return _refusal(403, "Only an admin can do this", ADMIN_ONLY)


def _request_or_404(request_id: int) -> ChangeRequest:
    """The signed-in user's account's request; 404 for any other (403 for staff)."""
    change = services.get_request(current_account_id(), request_id)
    if change is None:
        abort(404)
    return change


def _draft_or_redirect(request_id: int) -> ChangeRequest | None:
    """The draft to edit; None when the request is no longer a draft (the caller sends the
    browser to its page)."""
    change = _request_or_404(request_id)
    return change if change.status == ChangeStatus.DRAFT else None


def _step_url(change: ChangeRequest, step: Step | None = None) -> str:
    return url_for(STEP_ENDPOINTS[step or change.step], request_id=change.id)


def _to_detail(change: ChangeRequest):
    return htmx_redirect(url_for("changes.request_detail", request_id=change.id))


def _step_page(change: ChangeRequest, step: Step, fragment: str, status: int = 200, **context):
    return render("changes/step.html", fragment, change=change, step=step,
                  step_label=STEP_LABELS[step], steps=step_links(change, step),
                  step_fragment=fragment, **context), status


# The account page ----------------------------------------------------------------------------

def _company_context(account: Account, contact_form: BillingContactForm | None = None,
                     editing: bool = False, message: str | None = None) -> dict:
    return {
        "account": account, "pending": account_info.pending_changes(account.id),
        "drafts": account_info.drafts(account.id),
        "certificates": account_info.tax_certificates(account),
        "can_change": _is_admin(), "types": ChangeType,
        "tax_id_label": services.validation.tax_id_label(account.country),
        "contact_form": contact_form, "editing_contact": editing, "message": message,
    }


@bp.route("")
def company():
    return render("changes/company.html", "changes/_company.html",
                  **_company_context(_account()))


def _contact_form(account: Account) -> BillingContactForm:
    return BillingContactForm(name=account.billing_contact_name,
                              email=account.billing_contact_email,
                              phone=account.billing_contact_phone)


@bp.route("/billing-contact", methods=["GET", "POST"])
def billing_contact():
    """GET: the billing contact form (the account page's card for htmx); POST: save it."""
    if not _is_admin():
        return _admin_refusal()
    account = _account()
    form = _contact_form(account)
    if request.method == "GET":
        return render("changes/billing_contact.html", "changes/_billing_contact.html",
                      **_company_context(account, form, editing=True))
    if not form.validate_on_submit():
        return render("changes/billing_contact.html", "changes/_billing_contact.html",
                      **_company_context(account, form, editing=True)), 422
    changed = account_info.update_billing_contact(
        account, name=(form.name.data or "").strip(), email=(form.email.data or "").strip(),
        phone=(form.phone.data or "").strip(), user=current_user._get_current_object())
    db.session.commit()
    message = ("The billing contact was changed. It applies at once." if changed
               else "Nothing changed.")
    if is_fragment_request():
        return render_template("changes/_billing_contact.html",
                               **_company_context(account, message=message))
    flash(message, "success")
    return redirect(url_for("changes.company"), code=303)


# The list and a request's page ---------------------------------------------------------------

@bp.route("/changes")
def request_list():
    try:
        page = parse_int(request.args.get("page", "1"), minimum=1)
    except ValueError:
        page = 1
    listing = account_info.list_requests(current_account_id(), page)
    return render("changes/requests.html", "changes/_requests.html", listing=listing,
                  can_change=_is_admin(), types=ChangeType)


@bp.route("/changes/<int:request_id>")
def request_detail(request_id: int):
    change = _request_or_404(request_id)
    return render("changes/request.html", "changes/_request.html", change=change,
                  summary=change_summary(change), can_change=_is_admin(),
                  steps=step_links(change, change.step) if change.status == ChangeStatus.DRAFT
                  else [], continue_url=_step_url(change)
                  if change.status == ChangeStatus.DRAFT else None,
                  step_label=STEP_LABELS[change.step])


# Starting a request: step "What changes" -----------------------------------------------------

def _scope_form(change_type: ChangeType, parts: list[str] | None = None) -> ScopeForm:
    if request.method == "POST":
        return ScopeForm()
    parts = parts or []
    return ScopeForm(formdata=None, **{part: part in parts for part in ("trading_name",
                                                                        "tax_id",
                                                                        "tax_exempt")})


@bp.route("/changes/new", methods=["GET", "POST"])
def new_request():
    change_type = ChangeType.from_slug(request.args.get("type", ""))
    if change_type is None:
        abort(404)
    if not _is_admin():
        return _admin_refusal()
    account = _account()
    draft = services.find_draft(account.id, change_type)
    if draft is not None:
        return htmx_redirect(_step_url(draft))
    open_request = services.find_open(account.id, change_type)
    if open_request is not None:
        status = 409 if request.method == "POST" else 200
        return render("changes/open_exists.html", open_request=open_request,
                      change_type=change_type), status
    form = _scope_form(change_type)
    if request.method == "POST" and form.validate_on_submit():
        draft = services.start_or_resume_draft(account, change_type,
                                               current_user._get_current_object())
        errors = services.choose_parts(draft, _chosen_parts(form))
        if not errors:
            db.session.commit()
            return htmx_redirect(_step_url(draft, Step.VALUES))
        db.session.rollback()
        form.tax_id.errors = [errors["parts"]]
    status = 422 if form.errors else 200
    return render("changes/step.html", "changes/_scope.html", change_type=change_type,
                  form=form, action=url_for("changes.new_request", type=change_type.slug),
                  account=account, change=None, step=Step.SCOPE,
                  steps=step_links(None, Step.SCOPE), step_label=STEP_LABELS[Step.SCOPE],
                  step_fragment="changes/_scope.html"), status


def _chosen_parts(form: ScopeForm) -> list[str]:
    return [name for name in ("trading_name", "tax_id", "tax_exempt") if form[name].data]


@bp.route("/changes/<int:request_id>/what-changes", methods=["GET", "POST"])
def edit_scope(request_id: int):
    if not _is_admin():
        return _admin_refusal()
    change = _draft_or_redirect(request_id)
    if change is None:
        return _to_detail(_request_or_404(request_id))
    form = _scope_form(change.type, change.parts)
    if request.method == "POST" and form.validate_on_submit():
        errors = services.choose_parts(change, _chosen_parts(form))
        if not errors:
            db.session.commit()
            return htmx_redirect(_step_url(change, Step.VALUES))
        form.tax_id.errors = [errors["parts"]]
    status = 422 if form.errors else 200
    return _step_page(change, Step.SCOPE, "changes/_scope.html", status, form=form,
                      change_type=change.type, account=change.account,
                      action=url_for("changes.edit_scope", request_id=change.id))


# Step "New values" ---------------------------------------------------------------------------

def _values_form(change: ChangeRequest, data=None):
    """The new values form of the request's type, with the parts it changes, the account's
    country's labels and the as-you-type check on each field."""
    form_class = VALUE_FORMS[change.type]
    if data is None:
        form = form_class(formdata=None, data=dict(change.proposed))
    else:
        form = form_class(formdata=data)
    if hasattr(form, "for_country"):
        form.for_country(change.account.country)
    fields = services.request_fields(change)
    for name in [field.name for field in form]:
        if name not in fields and name != "csrf_token":
            delattr(form, name)
    check_url = url_for("changes.validate_field", request_id=change.id)
    for name in fields:
        form[name].render_kw = {
            "hx-post": f"{check_url}?field={name}", "hx-trigger": VALIDATE_TRIGGER,
            "hx-target": f"#field-{name}", "hx-swap": "outerHTML", "hx-sync": "this:replace"}
    if change.type == ChangeType.TAX and "tax_exempt" in fields:
        form.tax_exempt.render_kw = None  # radio buttons: checked on Continue
    return form


def _apply_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        if name in form:
            form[name].errors = [message]


def _values_page(change: ChangeRequest, form, status: int = 200):
    return _step_page(change, Step.VALUES, "changes/_values.html", status, form=form,
                      current=services.current_values(change.account, change.type),
                      fields=services.request_fields(change))


@bp.route("/changes/<int:request_id>/values", methods=["GET", "POST"])
def edit_values(request_id: int):
    if not _is_admin():
        return _admin_refusal()
    change = _draft_or_redirect(request_id)
    if change is None:
        return _to_detail(_request_or_404(request_id))
    if request.method == "GET":
        form = _values_form(change)
        if change.step != Step.VALUES:
            _, errors = services.validate_values(change, change.proposed)
            _apply_errors(form, errors if any(change.proposed.values()) else {})
        return _values_page(change, form)
    form = _values_form(change, request.form)
    form.validate()  # CSRF; the values are checked by the service
    if form.errors:
        return _values_page(change, form, 422)
    errors = services.save_values(change, {name: form[name].data or ""
                                           for name in services.request_fields(change)})
    db.session.commit()
    if errors:
        _apply_errors(form, errors)
        return _values_page(change, form, 422)
    return htmx_redirect(_step_url(change, Step.DOCUMENTS))


@bp.route("/changes/<int:request_id>/values/check", methods=["POST"])
def validate_field(request_id: int):
    """As the reseller types: one field of the New values form, checked (a fragment)."""
    if not _is_admin():
        return _admin_refusal()
    change = _draft_or_redirect(request_id)
    if change is None:
        abort(409)
    name = request.args.get("field", "")
    if name not in services.request_fields(change):
        abort(404)
    form = _values_form(change, request.form)
    values = {field: request.form.get(field, "") for field in services.request_fields(change)}
    _, errors = services.validate_values(change, values)
    if name in errors:
        form[name].errors = [errors[name]]
    return render_template("changes/_value_field.html", form=form, name=name,
                           current=services.current_values(change.account, change.type))


# Step "Supporting documents" -----------------------------------------------------------------

def _documents_page(change: ChangeRequest, form: DocumentForm | None = None,
                    status: int = 200, error: str | None = None):
    return _step_page(change, Step.DOCUMENTS, "changes/_documents.html", status,
                      form=form or DocumentForm(formdata=None), error=error,
                      required=services.documents_required(change),
                      limits=describe_limits(), accepted=", ".join(ACCEPTED.values()),
                      max_documents=services.MAX_DOCUMENTS)


@bp.route("/changes/<int:request_id>/documents", methods=["GET", "POST"])
def edit_documents(request_id: int):
    """GET: the documents step; POST: Continue to the review."""
    if not _is_admin():
        return _admin_refusal()
    change = _draft_or_redirect(request_id)
    if change is None:
        return _to_detail(_request_or_404(request_id))
    if request.method == "GET":
        return _documents_page(change)
    if not ConfirmForm().validate_on_submit():
        return _documents_page(change, status=400)
    try:
        services.finish_documents(change)
    except services.IncompleteRequest as missing:
        db.session.rollback()
        return _documents_page(change, status=422, error=missing.message)
    db.session.commit()
    return htmx_redirect(_step_url(change, Step.REVIEW))


@bp.route("/changes/<int:request_id>/documents/upload", methods=["POST"])
def upload_document(request_id: int):
    if not _is_admin():
        return _admin_refusal()
    change = _draft_or_redirect(request_id)
    if change is None:
        return _to_detail(_request_or_404(request_id))
    form = DocumentForm()
    upload = form.document.data if form.validate_on_submit() else None
    if not hasattr(upload, "stream") or not upload.filename:
        form.document.errors = list(form.document.errors) or [
            f"Choose a file to upload: {describe_limits()}"]
        return _documents_page(change, form, 422)
    if len(change.documents) >= services.MAX_DOCUMENTS:
        form.document.errors = [f"A request holds at most {services.MAX_DOCUMENTS} documents. "
                                "Remove one first."]
        return _documents_page(change, form, 422)
    try:
        stored = store_document(upload.stream, upload.filename)
    except DocumentRejected as rejected:
        form.document.errors = [rejected.message]
        return _documents_page(change, form, 413 if rejected.too_large else 422)
    try:
        services.add_document(change, stored, current_user._get_current_object())
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_document(stored.storage_key)
        raise
    flash(f"{stored.filename} was added.", "success")
    return htmx_redirect(_step_url(change, Step.DOCUMENTS))


@bp.route("/changes/<int:request_id>/documents/<int:document_id>/remove", methods=["POST"])
def remove_document(request_id: int, document_id: int):
    if not _is_admin():
        return _admin_refusal()
    change = _draft_or_redirect(request_id)
    if change is None:
        return _to_detail(_request_or_404(request_id))
    document = next((d for d in change.documents if d.id == document_id), None)
    if document is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    filename = document.filename
    key = services.remove_document(change, document, current_user._get_current_object())
    db.session.commit()
    delete_document(key)
    flash(f"{filename} was removed.", "success")
    return htmx_redirect(_step_url(change, Step.DOCUMENTS))


@bp.route("/changes/<int:request_id>/documents/<int:document_id>")
def download_document(request_id: int, document_id: int):
    """A supporting document, as an attachment, to the account's users only."""
    change = _request_or_404(request_id)
    document = next((d for d in change.documents if d.id == document_id), None)
    if document is None or not document_path(document.storage_key).is_file():
        abort(404)
    # Read whole (at most MAX_DOCUMENT_BYTES): no open file outlives the response.
    body = io.BytesIO(document_path(document.storage_key).read_bytes())
    response = send_file(body, mimetype=document.content_type,
                         as_attachment=True, download_name=document.filename,
                         max_age=0, conditional=False, etag=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Step "Review" and submit --------------------------------------------------------------------

def _review_page(change: ChangeRequest, form: ReviewForm, status: int = 200):
    form.confirm.label.text = services.attestation_text(change)
    return _step_page(change, Step.REVIEW, "changes/_review.html", status, form=form,
                      summary=change_summary(change),
                      required=services.documents_required(change))


@bp.route("/changes/<int:request_id>/review", methods=["GET", "POST"])
def review(request_id: int):
    """GET: the summary and the attestation; POST: attest, confirm the password if it was not
    confirmed lately (the attestation is kept meanwhile), then submit."""
    if not _is_admin():
        return _admin_refusal()
    change = _request_or_404(request_id)
    if change.status != ChangeStatus.DRAFT:
        if request.method == "POST":
            flash(f"{change.reference} was already submitted.", "info")
        return _to_detail(change)
    if request.method == "GET":
        attested = change.attested_at is not None \
            and change.attestation_text == services.attestation_text(change)
        return _review_page(change, ReviewForm(formdata=None, confirm=attested))
    form = ReviewForm()
    if not form.validate_on_submit():
        return _review_page(change, form, 422)
    services.attest(change, current_user._get_current_object())
    db.session.commit()
    return _submit(change.id)


@reauthentication_required
def _submit(request_id: int):
    change = _request_or_404(request_id)
    try:
        services.submit(change, current_user._get_current_object(), request.remote_addr)
    except services.IncompleteRequest as incomplete:
        db.session.rollback()
        flash(incomplete.message, "warning")
        return htmx_redirect(_step_url(change, incomplete.step))
    except services.ChangeRequestStateError:
        db.session.rollback()
        flash(f"{change.reference} was already submitted.", "info")
        return _to_detail(change)
    db.session.commit()
    flash(f"{change.reference} was submitted. We will show the ERP's decision here.", "success")
    return with_trigger(_to_detail(change), ACCOUNT_CHANGED)


# Cancel --------------------------------------------------------------------------------------

@bp.route("/changes/<int:request_id>/cancel", methods=["GET", "POST"])
def cancel_request(request_id: int):
    """GET asks for confirmation; POST cancels (only while the request is submitted)."""
    if not _is_admin():
        return _admin_refusal()
    change = _request_or_404(request_id)
    if change.status != ChangeStatus.SUBMITTED:
        return _refusal(409, "This request can no longer be cancelled",
                        f"{change.reference} is {change.status.label.lower()}: only a request "
                        "that is still submitted can be cancelled.")
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        services.cancel(change, current_user._get_current_object())
        db.session.commit()
        flash(f"{change.reference} was cancelled.", "success")
        return with_trigger(_to_detail(change), ACCOUNT_CHANGED)
    return render("changes/cancel.html", "changes/_cancel.html", change=change, form=form)

