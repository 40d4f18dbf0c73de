"""The inbound ERP API, `/api/erp/v1` (SPEC §13): JSON in, JSON out, a bearer token on every
call (`Authorization: Bearer erp_…`, see app.erp.tokens), an optional `Idempotency-Key` on
every POST, and an OpenAPI 3.1 document at `/api/erp/v1/openapi.json` generated from the same
pydantic models that validate the requests, so the two cannot drift.

The browser's rules stay away from it: the blueprint is CSRF-exempt and never reads or sets a
session cookie; its views pass the portal's sign-in gate (`app.web.public`) only because
`auth.require_token`, run before every view of the blueprint, refuses a request without a live
token (401 JSON). Every answer under the prefix is JSON, errors included (`errors.py`), also
for URLs no route matches.

Each request is one transaction: the view's services flush, `framework.endpoint` commits once
when the view returns and rolls everything back on any error, so nothing is half-applied.

Adding an endpoint
------------------
In a `routes_<topic>.py` module of this package (imported by `registration.py`)::

    class DecisionIn(RequestModel):            # app.erp.api.schemas: strict, extra fields refused
        decision: Literal["approve", "reject"]
        reason: Text | None = None              # Text, Money, … from schemas.py

    class DecisionOut(ResponseModel):
        id: int
        status: str

    @endpoint("POST", "/change-requests/<int:request_id>/decision", body=DecisionIn,
              response=DecisionOut, errors=(404, 409), tag="Change requests",
              summary="Decide a change request")
    def decide(body: DecisionIn, request_id: int) -> DecisionOut:
        ...call the domain's service; raise ApiError(404, …) / FieldErrors({...}) / let a
        DomainError (its status, 409 for a wrong state) through...
        return DecisionOut(...)

`endpoint` registers the URL, validates the body (400 with a message per field) and the query
(`query=` a RequestModel), handles Idempotency-Key, commits, serialises the response model, and
adds the operation — parameters, body, responses with their error bodies, security — to the
OpenAPI document. 400, 401 and 415 (for bodies) are documented for every operation; list the
others it can answer in `errors`.
"""

from flask import Blueprint

PREFIX = "/api/erp/v1"

bp = Blueprint("erp_api", __name__, url_prefix=PREFIX)
