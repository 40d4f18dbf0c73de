"""Change requests as the ERP sees them: read a submitted request and its documents,
acknowledge it (in review) and decide it (approved with an effective date, or rejected with a
reason for the reseller). Drafts are the reseller's own and do not exist here."""

import io
from datetime import UTC, date, datetime
from typing import Literal

from flask import Response, send_file, url_for
from pydantic import Field

from app.changes.documents import document_path
from app.changes.models import ChangeRequest, ChangeRequestDocument
from app.changes.services import acknowledge_request, decide_request, find_request
from app.erp.api.errors import ApiError, FieldErrors
from app.erp.api.framework import endpoint
from app.erp.api.schemas import Day, RequestModel, ResponseModel, Text

TAG = "Change requests"
DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")


class AcknowledgeIn(RequestModel):
    note: Text(500) | None = None


class DecisionIn(RequestModel):
    decision: Literal["approve", "reject"]
    reason: Text(1000) | None = Field(
        default=None, description="Shown to the reseller; required to reject.")
    effective_date: Day | None = Field(
        default=None, description="When an approved change applies to the account (default "
                                  "today); only with approve.")


class DocumentOut(ResponseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    download: str = Field(description="The document's path under this API.")


class TimelineEntryOut(ResponseModel):
    what: str
    at: datetime
    actor: str
    note: str | None


class ChangeRequestOut(ResponseModel):
    reference: str
    account_number: str
    type: str
    status: str
    proposed: dict[str, str]
    previous: dict[str, str]
    submitted_at: datetime | None
    submitted_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    effective_date: Day | None
    applied_at: datetime | None
    documents: list[DocumentOut]
    timeline: list[TimelineEntryOut]


def _request_or_404(request_reference: str) -> ChangeRequest:
    """The submitted (not draft) change request with this reference. Raises ApiError (404)."""
    found = find_request(request_reference)
    if found is None:
        raise ApiError(404, f"No change request has the reference {request_reference}.")
    return found


def _document_out(request: ChangeRequest, document: ChangeRequestDocument) -> DocumentOut:
    return DocumentOut(
        id=document.id, filename=document.filename, content_type=document.content_type,
        size=document.size, sha256=document.sha256,
        download=url_for("erp_api.change_request_document",
                         request_reference=request.reference, document_id=document.id))


def _out(request: ChangeRequest) -> ChangeRequestOut:
    return ChangeRequestOut(
        reference=request.reference, account_number=request.account.number,
        type=request.type.value, status=request.status.value,
        proposed={name: str(value) for name, value in request.proposed.items()},
        previous={name: str(value) for name, value in request.previous.items()},
        submitted_at=request.submitted_at,
        submitted_by=request.submitted_by.email if request.submitted_by else None,
        decided_at=request.decided_at, decision_reason=request.decision_reason,
        effective_date=request.effective_date, applied_at=request.applied_at,
        documents=[_document_out(request, document) for document in request.documents],
        timeline=[TimelineEntryOut(what=entry.what, at=entry.at, actor=entry.actor,
                                   note=entry.note) for entry in request.events])


@endpoint("GET", "/change-requests/<request_reference>", response=ChangeRequestOut,
          errors=(404,), tag=TAG, summary="Read a change request")
def change_request(request_reference: str) -> ChangeRequestOut:
    """A submitted change request: what the reseller asks to change, from what, its
    documents (each with its download path) and its timeline."""
    return _out(_request_or_404(request_reference))


@endpoint("GET", "/change-requests/<request_reference>/documents/<int:document_id>",
          response=None, files=DOCUMENT_TYPES, errors=(404,), tag=TAG,
          summary="Download a supporting document")
def change_request_document(request_reference: str, document_id: int) -> Response:
    """One supporting document of the request, as an attachment, with the media type its
    content was checked to be."""
    request = _request_or_404(request_reference)
    document = next((found for found in request.documents if found.id == document_id), None)
    if document is None or not document_path(document.storage_key).is_file():
        raise ApiError(404, f"{request.reference} has no document {document_id}.")
    # Read whole (at most MAX_DOCUMENT_BYTES): no open file outlives the response.
    body = io.BytesIO(document_path(document.storage_key).read_bytes())
    response = send_file(body, mimetype=document.content_type, as_attachment=True,
                         download_name=document.filename, max_age=0, conditional=False,
                         etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response


@endpoint("POST", "/change-requests/<request_reference>/acknowledge", body=AcknowledgeIn,
          response=ChangeRequestOut, errors=(404, 409), tag=TAG,
          summary="Acknowledge a change request (in review)")
def acknowledge_change_request(body: AcknowledgeIn, request_reference: str
                               ) -> ChangeRequestOut:
    """The ERP has the request: it shows as In review. Acknowledging a request already in
    review changes nothing; a cancelled or decided one answers 409."""
    return _out(acknowledge_request(_request_or_404(request_reference), note=body.note))


@endpoint("POST", "/change-requests/<request_reference>/decision", body=DecisionIn,
          response=ChangeRequestOut, errors=(404, 409), tag=TAG,
          summary="Approve or reject a change request")
def decide_change_request(body: DecisionIn, request_reference: str) -> ChangeRequestOut:
    """Approve (applied to the account on `effective_date`, today by default; at once when
    that has come) or reject with a reason the reseller reads. A submitted request is
    acknowledged on the way. A request already decided or cancelled answers 409."""
    if body.decision == "reject" and not (body.reason or "").strip():
        raise FieldErrors({"reason": "A rejection needs a reason for the reseller."})
    if body.decision == "reject" and body.effective_date is not None:
        raise FieldErrors({"effective_date": "An effective date goes with an approval only."})
    request = decide_request(_request_or_404(request_reference),
                             approve=body.decision == "approve", reason=body.reason,
                             effective_date=body.effective_date, today=_today())
    return _out(request)


def _today() -> date:
    return datetime.now(UTC).date()
