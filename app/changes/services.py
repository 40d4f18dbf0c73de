"""Change requests (SPEC §10): the reseller's side (a draft, its values, documents and
attestation, then submit or cancel) and the ERP's side (acknowledge, decide, apply on the
effective date). Every transition is a named function that locks the request, checks its
state and raises ChangeRequestStateError otherwise; each one writes a timeline row, an audit
entry and, when the ERP must know, an outbox event. Services flush, the caller commits."""

from collections.abc import Mapping
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Account, User
from app.audit.services import ERP, SYSTEM, Actor, audit, user_actor
from app.changes import validation
from app.changes.documents import StoredDocument
from app.changes.models import (
    OPEN_STATUSES,
    ChangeRequest,
    ChangeRequestDocument,
    ChangeRequestEvent,
    ChangeStatus,
    ChangeType,
    Step,
)
from app.errors import DomainError
from app.events.schemas import (
    ChangeRequestApplied,
    ChangeRequestApproved,
    ChangeRequestCancelled,
    ChangeRequestInReview,
    ChangeRequestRejected,
    ChangeRequestSubmitted,
)
from app.events.services import record_event
from app.extensions import db

STEPS = (Step.SCOPE, Step.VALUES, Step.DOCUMENTS, Step.REVIEW)
# What a request of each type may change ("parts"), and the fields each part has.
PARTS = {
    ChangeType.LEGAL_NAME: ("legal_name", "trading_name"),
    ChangeType.ADDRESS: ("address",),
    ChangeType.TAX: ("tax_id", "tax_exempt"),
}
REQUIRED_PARTS = {ChangeType.LEGAL_NAME: ("legal_name",), ChangeType.ADDRESS: ("address",),
                  ChangeType.TAX: ()}
PART_FIELDS = {
    "legal_name": ("legal_name",),
    "trading_name": ("trading_name",),
    "address": validation.ADDRESS_FIELDS,
    "tax_id": ("tax_id",),
    "tax_exempt": ("tax_exempt",),
}
# Where each field of a request lives on the Account.
ACCOUNT_ATTRIBUTES = {
    "legal_name": "legal_name", "trading_name": "trading_name",
    "line1": "address_line1", "line2": "address_line2", "city": "city", "region": "region",
    "postal_code": "postal_code", "tax_id": "tax_id", "tax_exempt": "tax_exempt",
}
EXEMPT, NOT_EXEMPT = "yes", "no"
MAX_TEXT = 200
MAX_DOCUMENTS = 5
ATTESTATION_TEXT = ("I confirm that the information in this request is correct and that I am "
                    "authorised to make this change for {legal_name}.")


class ChangeRequestError(DomainError):
    status = 409


class ChangeRequestStateError(ChangeRequestError):
    """The request is not in a state that allows this transition."""


class OpenRequestExists(ChangeRequestError):
    """The account already has a submitted or in-review request of this type."""

    def __init__(self, request: ChangeRequest) -> None:
        super().__init__(f"A {request.type.label.lower()} request ({request.reference}) is "
                         "already waiting for a decision. You can start another one when it "
                         "is decided or cancelled.")
        self.request = request


class IncompleteRequest(ChangeRequestError):
    """The draft cannot be submitted yet; `step` is where to fix it."""

    status = 422

    def __init__(self, message: str, step: Step) -> None:
        super().__init__(message)
        self.step = step


def _now() -> datetime:
    return datetime.now(UTC)


def _actor_name(actor: User | Actor) -> str:
    return actor.name if isinstance(actor, Actor) else f"{actor.name} ({actor.email})"


def _timeline(request: ChangeRequest, what: str, actor: User | Actor,
              note: str | None = None, at: datetime | None = None) -> None:
    request.events.append(ChangeRequestEvent(what=what, actor=_actor_name(actor)[:254],
                                             note=note, at=at or _now()))


def _lock(request: ChangeRequest) -> ChangeRequest:
    """The request re-read under a row lock (PostgreSQL), so two transitions serialise."""
    return db.session.scalars(
        select(ChangeRequest).where(ChangeRequest.id == request.id)
        .with_for_update().execution_options(populate_existing=True)
    ).one()


# Reading -------------------------------------------------------------------------------------

def get_request(account_id: int, request_id: int) -> ChangeRequest | None:
    """The account's request with this id; None for another account's or no request."""
    return db.session.scalar(select(ChangeRequest).where(
        ChangeRequest.id == request_id, ChangeRequest.account_id == account_id))


def find_draft(account_id: int, kind: ChangeType) -> ChangeRequest | None:
    return db.session.scalar(select(ChangeRequest).where(
        ChangeRequest.account_id == account_id, ChangeRequest.type == kind,
        ChangeRequest.status == ChangeStatus.DRAFT))


def find_open(account_id: int, kind: ChangeType) -> ChangeRequest | None:
    return db.session.scalar(select(ChangeRequest).where(
        ChangeRequest.account_id == account_id, ChangeRequest.type == kind,
        ChangeRequest.status.in_(OPEN_STATUSES)))


def find_request(reference: str) -> ChangeRequest | None:
    """The submitted request with this reference ("CR-000123"), for the ERP; a draft is the
    reseller's own and is never found."""
    return db.session.scalar(select(ChangeRequest).where(
        ChangeRequest.reference == reference, ChangeRequest.status != ChangeStatus.DRAFT))


def current_values(account: Account, kind: ChangeType) -> dict[str, str]:
    """The account's values of every field a request of `kind` may change, as text."""
    values = {}
    for part in PARTS[kind]:
        for field in PART_FIELDS[part]:
            value = getattr(account, ACCOUNT_ATTRIBUTES[field])
            if field == "tax_exempt":
                value = EXEMPT if value else NOT_EXEMPT
            values[field] = value or ""
    return values


def request_fields(request: ChangeRequest) -> list[str]:
    """The fields the request changes, in form order."""
    return [field for part in PARTS[request.type] if part in request.parts
            for field in PART_FIELDS[part]]


def claims_exemption(request: ChangeRequest) -> bool:
    return (request.type == ChangeType.TAX and "tax_exempt" in request.parts
            and request.proposed.get("tax_exempt") == EXEMPT)


def documents_required(request: ChangeRequest) -> bool:
    """A legal name always needs proof; so does a claim of tax exemption (its certificate)."""
    return request.type == ChangeType.LEGAL_NAME or claims_exemption(request)


# The reseller's side -------------------------------------------------------------------------

def start_or_resume_draft(account: Account, kind: ChangeType, user: User) -> ChangeRequest:
    """The account's draft of this type, or a new one. Raises OpenRequestExists while a request
    of the type is submitted or in review."""
    draft = find_draft(account.id, kind)
    if draft is not None:
        return draft
    open_request = find_open(account.id, kind)
    if open_request is not None:
        raise OpenRequestExists(open_request)
    draft = ChangeRequest(account_id=account.id, type=kind, status=ChangeStatus.DRAFT,
                          step=Step.SCOPE, parts=list(REQUIRED_PARTS[kind]), proposed={},
                          previous={}, created_by_id=user.id)
    try:
        with db.session.begin_nested():
            db.session.add(draft)
            db.session.flush()
    except IntegrityError:
        # Another tab started the same draft a moment ago: resume that one.
        existing = find_draft(account.id, kind)
        if existing is None:
            raise
        return existing
    draft.reference = f"CR-{draft.id:06d}"
    _timeline(draft, "draft", user)
    audit("change_request.started", account_id=account.id, actor=user,
          details={"reference": draft.reference, "type": kind.value})
    db.session.flush()
    return draft


def _check_draft(request: ChangeRequest) -> None:
    if request.status != ChangeStatus.DRAFT:
        raise ChangeRequestStateError(
            f"{request.reference} is {request.status.label.lower()}: it can no longer be "
            "edited.")


def _reach(request: ChangeRequest, step: Step) -> None:
    """Move the draft's furthest step forward to `step` (never back)."""
    if STEPS.index(step) > STEPS.index(request.step):
        request.step = step


def choose_parts(request: ChangeRequest, parts: list[str]) -> dict[str, str]:
    """Step "What changes": which parts of the type the request changes. Returns errors by
    form field ("parts"); raises ChangeRequestStateError unless it is a draft."""
    _check_draft(request)
    allowed = PARTS[request.type]
    chosen = [part for part in allowed if part in parts or part in REQUIRED_PARTS[request.type]]
    if not chosen:
        return {"parts": "Choose at least one thing to change."}
    request.parts = chosen
    _reach(request, Step.VALUES)
    db.session.flush()
    return {}


def _check_text(value: str) -> str | None:
    return f"Use at most {MAX_TEXT} characters." if len(value) > MAX_TEXT else None


def validate_values(request: ChangeRequest, values: Mapping[str, str]) -> tuple[
        dict[str, str], dict[str, str]]:
    """The request's values checked and normalised: (clean values, errors by field)."""
    account = request.account
    fields = request_fields(request)
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in fields:
        clean[field] = (values.get(field) or "").strip()
    if "legal_name" in fields:
        name, message = validation.validate_legal_name(values.get("legal_name", ""),
                                                       current=account.legal_name)
        if message:
            errors["legal_name"] = message
        else:
            clean["legal_name"] = name
    if "trading_name" in fields:
        clean["trading_name"] = " ".join(clean["trading_name"].split())
        if message := _check_text(clean["trading_name"]):
            errors["trading_name"] = message
    if "line1" in fields:
        address, address_errors = validation.validate_address(
            {field: values.get(field, "") for field in validation.ADDRESS_FIELDS},
            country=account.country)
        errors.update(address_errors)
        if address is not None:
            clean.update({field: getattr(address, field) for field in validation.ADDRESS_FIELDS})
            current = current_values(account, ChangeType.ADDRESS)
            if all(clean[field] == current[field] for field in validation.ADDRESS_FIELDS):
                errors["line1"] = "This is your current address. Enter the new one."
    if "tax_id" in fields:
        tax_id, message = validation.validate_tax_id(values.get("tax_id", ""),
                                                     country=account.country)
        if message:
            errors["tax_id"] = message
        elif tax_id == (account.tax_id or ""):
            errors["tax_id"] = "This is your current tax ID. Enter the new one."
        else:
            clean["tax_id"] = tax_id
    if "tax_exempt" in fields:
        if clean["tax_exempt"] not in (EXEMPT, NOT_EXEMPT):
            errors["tax_exempt"] = "Choose whether your company is tax-exempt."
        elif (clean["tax_exempt"] == EXEMPT) == account.tax_exempt:
            errors["tax_exempt"] = ("Your account is already tax-exempt." if account.tax_exempt
                                    else "Your account is already not tax-exempt.")
    return clean, errors


def save_values(request: ChangeRequest, data: Mapping[str, str]) -> dict[str, str]:
    """Step "New values": keep what was typed (valid or not, so nothing is lost) and return
    the errors by field; with none, the draft moves on to its documents. Raises
    ChangeRequestStateError unless it is a draft."""
    _check_draft(request)
    fields = request_fields(request)
    clean, errors = validate_values(request, {f: data.get(f, "") for f in fields})
    proposed = dict(request.proposed)
    for field in fields:
        typed = (data.get(field) or "")[:MAX_TEXT * 5]
        proposed[field] = typed if field in errors else clean[field]
    request.proposed = proposed
    if not errors:
        _reach(request, Step.DOCUMENTS)
    db.session.flush()
    return errors


def add_document(request: ChangeRequest, stored: StoredDocument,
                 user: User) -> ChangeRequestDocument:
    """Attach a stored document. Raises ChangeRequestStateError unless it is a draft, and
    ChangeRequestError when it has MAX_DOCUMENTS already."""
    _check_draft(request)
    if len(request.documents) >= MAX_DOCUMENTS:
        raise ChangeRequestError(f"A request holds at most {MAX_DOCUMENTS} documents. Remove "
                                 "one first.", status=422)
    document = ChangeRequestDocument(
        storage_key=stored.storage_key, filename=stored.filename,
        content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
        uploaded_by_id=user.id)
    request.documents.append(document)
    audit("change_request.document_added", account_id=request.account_id, actor=user,
          details={"reference": request.reference, "filename": stored.filename,
                   "size": stored.size, "sha256": stored.sha256})
    db.session.flush()
    return document


def remove_document(request: ChangeRequest, document: ChangeRequestDocument,
                    user: User) -> str:
    """Detach a document from the draft; returns its storage key for the caller to delete the
    file after the commit. Raises ChangeRequestStateError unless it is a draft."""
    _check_draft(request)
    key = document.storage_key
    request.documents.remove(document)
    audit("change_request.document_removed", account_id=request.account_id, actor=user,
          details={"reference": request.reference, "filename": document.filename})
    db.session.flush()
    return key


def finish_documents(request: ChangeRequest) -> None:
    """Step "Supporting documents" done. Raises IncompleteRequest when a required document is
    missing."""
    _check_draft(request)
    if documents_required(request) and not request.documents:
        raise IncompleteRequest(_missing_documents_message(request), Step.DOCUMENTS)
    _reach(request, Step.REVIEW)
    db.session.flush()


def _missing_documents_message(request: ChangeRequest) -> str:
    if request.type == ChangeType.LEGAL_NAME:
        return ("Add a document that shows the new legal name, such as the certificate of "
                "name change.")
    return "Add your tax-exemption certificate."


def attestation_text(request: ChangeRequest) -> str:
    return ATTESTATION_TEXT.format(legal_name=request.account.legal_name)


def attest(request: ChangeRequest, user: User) -> None:
    """The admin confirms the attestation (kept with their name and the time). Raises
    ChangeRequestStateError unless it is a draft."""
    _check_draft(request)
    request.attested_by_id = user.id
    request.attested_name = user.name
    request.attestation_text = attestation_text(request)
    request.attested_at = _now()
    audit("change_request.attested", account_id=request.account_id, actor=user,
          details={"reference": request.reference})
    db.session.flush()


def check_complete(request: ChangeRequest) -> None:
    """Raises IncompleteRequest, naming the step to go back to, when the draft cannot be
    submitted: values with errors, a required document missing, or no attestation."""
    _, errors = validate_values(request, request.proposed)
    if errors or not request_fields(request):
        raise IncompleteRequest("Some of the new values need attention.", Step.VALUES)
    if documents_required(request) and not request.documents:
        raise IncompleteRequest(_missing_documents_message(request), Step.DOCUMENTS)
    if request.attested_at is None or request.attestation_text != attestation_text(request):
        raise IncompleteRequest("Tick the confirmation to submit the request.", Step.REVIEW)


def submit(request: ChangeRequest, user: User, ip: str | None) -> ChangeRequest:
    """draft → submitted: snapshots the account's current values, records
    `change_request.submitted` and an audit entry. Raises ChangeRequestStateError when it is
    not a draft (a second click), IncompleteRequest, or OpenRequestExists."""
    request = _lock(request)
    if request.status != ChangeStatus.DRAFT:
        raise ChangeRequestStateError(f"{request.reference} was already submitted.")
    check_complete(request)
    open_request = find_open(request.account_id, request.type)
    if open_request is not None:
        raise OpenRequestExists(open_request)
    fields = request_fields(request)
    now = _now()
    current = current_values(request.account, request.type)
    request.proposed = {field: request.proposed.get(field, "") for field in fields}
    request.previous = {field: current[field] for field in fields}
    request.status = ChangeStatus.SUBMITTED
    request.submitted_by_id = user.id
    request.submitted_at = now
    request.submitted_ip = ip
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        db.session.expire(request)
        raise OpenRequestExists(find_open(request.account_id, request.type) or request) \
            from None
    _timeline(request, ChangeStatus.SUBMITTED.value, user, at=now)
    record_event(_submitted_event(request, user), account_id=request.account_id)
    audit("change_request.submitted", account_id=request.account_id, actor=user,
          details={"reference": request.reference, "type": request.type.value,
                   "changes": ", ".join(fields)})
    db.session.flush()
    return request


def _event_value(field: str, values: Mapping[str, str]) -> str | bool | None:
    if field not in values:
        return None
    if field == "tax_exempt":
        return values[field] == EXEMPT
    return values[field]


def _submitted_event(request: ChangeRequest, user: User) -> ChangeRequestSubmitted:
    names = {"line1": "address_line1", "line2": "address_line2"}
    values = {}
    for field, attribute in ACCOUNT_ATTRIBUTES.items():
        name = names.get(field, attribute)
        values[f"proposed_{name}"] = _event_value(field, request.proposed)
        values[f"previous_{name}"] = _event_value(field, request.previous)
    return ChangeRequestSubmitted(
        reference=request.reference, change_type=request.type.value,
        status=request.status.value,
        changes=[names.get(field, field) for field in request.proposed], **values,
        country=request.account.country,
        document_names=[d.filename for d in request.documents],
        document_sizes=[d.size for d in request.documents],
        document_sha256=[d.sha256 for d in request.documents],
        submitted_by=user.email, submitted_at=request.submitted_at)


def cancel(request: ChangeRequest, user: User) -> ChangeRequest:
    """submitted → cancelled, by the reseller. Raises ChangeRequestStateError in any other
    state (once the ERP has it in review, only the ERP decides)."""
    request = _lock(request)
    if request.status != ChangeStatus.SUBMITTED:
        raise ChangeRequestStateError(
            f"{request.reference} is {request.status.label.lower()}: only a request that is "
            "still submitted can be cancelled.")
    now = _now()
    request.status = ChangeStatus.CANCELLED
    request.decided_at = now
    _timeline(request, ChangeStatus.CANCELLED.value, user, at=now)
    record_event(ChangeRequestCancelled(
        reference=request.reference, change_type=request.type.value,
        status=request.status.value, cancelled_by=user.email, cancelled_at=now),
        account_id=request.account_id)
    audit("change_request.cancelled", account_id=request.account_id, actor=user,
          details={"reference": request.reference})
    db.session.flush()
    return request


# The ERP's side ------------------------------------------------------------------------------

def acknowledge_request(request: ChangeRequest, *, note: str | None = None) -> ChangeRequest:
    """submitted → in_review (the ERP has it). Already in review: nothing changes. Raises
    ChangeRequestStateError in any other state."""
    request = _lock(request)
    if request.status == ChangeStatus.IN_REVIEW:
        return request
    if request.status != ChangeStatus.SUBMITTED:
        raise ChangeRequestStateError(
            f"{request.reference} is {request.status.label.lower()}: only a submitted request "
            "can be acknowledged.")
    request.status = ChangeStatus.IN_REVIEW
    _timeline(request, ChangeStatus.IN_REVIEW.value, ERP, note)
    record_event(ChangeRequestInReview(reference=request.reference,
                                       change_type=request.type.value,
                                       status=request.status.value, note=note),
                 account_id=request.account_id)
    audit("change_request.in_review", account_id=request.account_id, actor=ERP,
          details={"reference": request.reference})
    db.session.flush()
    return request


def decide_request(request: ChangeRequest, *, approve: bool, reason: str | None,
                   effective_date: date | None, today: date) -> ChangeRequest:
    """in_review (or submitted: acknowledged first, two timeline rows) → approved or rejected.
    A rejection needs a reason (ChangeRequestError otherwise). An approval takes effect on
    `effective_date` (default `today`) and is applied at once when that is not after today.
    Raises ChangeRequestStateError for a request that is decided, cancelled or a draft."""
    request = _lock(request)
    reason = (reason or "").strip() or None
    if not approve and reason is None:
        raise ChangeRequestError("A rejection needs a reason for the reseller.", status=422)
    if request.status == ChangeStatus.SUBMITTED:
        acknowledge_request(request)
    if request.status != ChangeStatus.IN_REVIEW:
        raise ChangeRequestStateError(
            f"{request.reference} is {request.status.label.lower()}: only a request in review "
            "can be decided.")
    request.decided_at = _now()
    request.decision_reason = reason
    common = {"reference": request.reference, "change_type": request.type.value}
    if approve:
        request.status = ChangeStatus.APPROVED
        request.effective_date = effective_date or today
        _timeline(request, ChangeStatus.APPROVED.value, ERP,
                  f"Takes effect on {request.effective_date.isoformat()}."
                  + (f" {reason}" if reason else ""))
        record_event(ChangeRequestApproved(**common, status=request.status.value,
                                           effective_date=request.effective_date,
                                           reason=reason), account_id=request.account_id)
        audit("change_request.approved", account_id=request.account_id, actor=ERP,
              details={"reference": request.reference,
                       "effective_date": request.effective_date.isoformat()})
        if request.effective_date <= today:
            _apply(request)
    else:
        request.status = ChangeStatus.REJECTED
        _timeline(request, ChangeStatus.REJECTED.value, ERP, reason)
        record_event(ChangeRequestRejected(**common, status=request.status.value,
                                           reason=reason), account_id=request.account_id)
        audit("change_request.rejected", account_id=request.account_id, actor=ERP,
              details={"reference": request.reference, "reason": reason})
    db.session.flush()
    return request


def _apply(request: ChangeRequest) -> None:
    """Write the approved values to the account. Issued invoices keep their bill-to snapshot;
    the next billing run uses the new values."""
    account = db.session.scalars(select(Account).where(Account.id == request.account_id)
                                 .with_for_update()).one()
    for field, value in request.proposed.items():
        if field == "tax_exempt":
            account.tax_exempt = value == EXEMPT
        elif field in ("line2", "trading_name", "tax_id"):
            setattr(account, ACCOUNT_ATTRIBUTES[field], value or None)
        else:
            setattr(account, ACCOUNT_ATTRIBUTES[field], value)
    now = _now()
    request.applied_at = now
    _timeline(request, "applied", SYSTEM, "The change was applied to your account.", at=now)
    record_event(ChangeRequestApplied(
        reference=request.reference, change_type=request.type.value,
        status=request.status.value, effective_date=request.effective_date, applied_at=now),
        account_id=request.account_id)
    audit("change_request.applied", account_id=request.account_id, actor=SYSTEM,
          details={"reference": request.reference, "changes": ", ".join(request.proposed)})
    db.session.flush()


def apply_due_changes(today: date) -> int:
    """Apply every approved request whose effective date has come and that is not applied yet;
    returns how many. Idempotent; on PostgreSQL two callers skip each other's rows."""
    due = db.session.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.status == ChangeStatus.APPROVED,
               ChangeRequest.applied_at.is_(None), ChangeRequest.effective_date <= today)
        .order_by(ChangeRequest.effective_date, ChangeRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    for request in due:
        _apply(request)
    return len(due)


def user_label(user: User | None) -> str:
    return user_actor(user).name if user is not None else "a former user"
