"""Domain errors and the HTTP error pages (a page, or a fragment for htmx)."""

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.web import is_fragment_request


class DomainError(Exception):
    """A rule of the business was broken; shown to the user with `status` (4xx)."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


def _render_error(status: int, title: str, message: str):
    template = "errors/_error.html" if is_fragment_request() else "errors/error.html"
    return render_template(template, status=status, title=title, message=message), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        return _render_error(error.status, "That did not work", error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            403: "You do not have access to this page. Ask an administrator of your account.",
            404: "We could not find that page. It may have moved; try searching the help.",
            413: "What you sent is too large for this site. Nothing was saved; send a smaller "
                 "file or less text.",
            429: "Too many attempts. Wait a minute and try again.",
        }
        return _render_error(
            error.code or 500,
            error.name,
            messages.get(error.code or 500, error.description or ""),
        )

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error", exc_info=error)
        return _render_error(
            500,
            "Something went wrong",
            "The page could not be shown. Nothing was changed; please try again.",
        )
