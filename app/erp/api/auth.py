"""Bearer tokens on every view of the API: `require_token` runs before each of them and
refuses (401 JSON) a request without a live token. A session cookie plays no part: the
signed-in browser user is never looked at."""

from flask import current_app, g, request

from app.erp import tokens
from app.erp.api.errors import ApiError
from app.erp.models import ErpApiToken
from app.extensions import db

SCHEME = "Bearer"


def _bearer_text() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, text = header.partition(" ")
    if scheme.lower() != SCHEME.lower() or not text.strip():
        return None
    return text.strip()


def require_token() -> None:
    """Before every view of the blueprint except those marked `token_not_required`: set
    `g.erp_token`, or raise ApiError (401)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "token_not_required", False):
        return
    text = _bearer_text()
    token = tokens.authenticate(text) if text else None
    if token is None:
        db.session.rollback()
        raise ApiError(401, "Send a valid, unrevoked bearer token: Authorization: Bearer "
                       "erp_….")
    if tokens.note_use(token):
        db.session.commit()  # bookkeeping, apart from the request's own transaction
    g.erp_token = token


def current_token() -> ErpApiToken:
    return g.erp_token


def token_not_required(view):
    """Mark a view of the API (the OpenAPI document) as readable without a token."""
    view.token_not_required = True
    return view
