"""Wiring the API into the application: its blueprint and routes, CSRF exemption, the bearer
token check, and JSON errors for everything under the prefix — also for URLs no route
matches, which never reach the blueprint's own handlers."""

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.erp.api import (  # noqa: F401 - the route modules register their routes on `bp`
    PREFIX,
    bp,
    openapi,
    routes_changes,
    routes_credit,
    routes_events,
    routes_invoices,
    routes_payments,
    routes_subscriptions,
)
from app.erp.api.auth import require_token
from app.erp.api.errors import ApiError, error_response, from_http_exception
from app.errors import DomainError
from app.extensions import csrf, db


def _is_api_path() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def _unrouted_api_request() -> Response | None:
    """A URL under the prefix that no route matches (404) or a method it does not take
    (405): a JSON error, before the sign-in gate could redirect it to the login page."""
    error = request.routing_exception
    if error is None or not _is_api_path():
        return None
    headers = {}
    if isinstance(error, HTTPException) and error.code == 405:
        headers["Allow"] = ", ".join(error.valid_methods or [])  # type: ignore[attr-defined]
    return error_response(from_http_exception(error)  # type: ignore[arg-type]
                          if isinstance(error, HTTPException) else ApiError(404), headers)


def _api_error(error: Exception) -> Response:
    db.session.rollback()
    if isinstance(error, ApiError):
        return error_response(error)
    if isinstance(error, DomainError):
        return error_response(ApiError(error.status if 400 <= error.status < 500 else 409,
                                       error.message))
    if isinstance(error, RequestEntityTooLarge):
        return error_response(ApiError(413))
    if isinstance(error, HTTPException):
        headers = {}
        if error.code == 405:
            headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
        return error_response(from_http_exception(error), headers)
    current_app.logger.exception("Unhandled error in the ERP API", exc_info=error)
    return error_response(ApiError(500))


csrf.exempt(bp)
bp.before_request(require_token)
bp.register_error_handler(Exception, _api_error)


def init_api(app: Flask) -> None:
    """Register the API blueprint (call before app.web.init_web, so that unrouted API
    requests are answered before the sign-in gate)."""
    app.register_blueprint(bp)
    app.before_request(_unrouted_api_request)
