"""Web helpers in one place: page-or-fragment rendering, htmx redirects, access control and
security headers."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import htmx

# Content-Security-Policy without unsafe-inline or unsafe-eval; htmx runs under it because its
# configuration (templates/base.html) disables eval and its inline indicator styles.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)


def is_fragment_request() -> bool:
    """True for an htmx request that wants a fragment; history restores get the whole page."""
    return bool(htmx) and not htmx.history_restore_request


def render(page: str, fragment: str | None = None, **context: Any) -> str:
    """Render `page`, or `fragment` alone when htmx asks for it (one URL, page or fragment)."""
    if fragment and is_fragment_request():
        return render_template(fragment, **context)
    return render_template(page, **context)


def htmx_redirect(location: str) -> Response:
    """Redirect a normal request with 303, an htmx request with HX-Redirect."""
    if htmx:
        response = Response(status=204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def public(view: Callable) -> Callable:
    """Mark a view as reachable without signing in; every other route requires a session."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable:
    """Allow the view only to signed-in users with one of `roles`; others get a 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def current_account_id() -> int:
    """The signed-in reseller's account id; 403 for users without one (distributor staff)."""
    account_id = getattr(current_user, "account_id", None)
    if account_id is None:
        abort(403)
    return account_id


def send_download(body: bytes | str, *, filename: str, mimetype: str) -> Response:
    """A file download (PDF, CSV) that is never cached and names its file."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _require_login() -> Response | None:
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "is_public", False) or current_user.is_authenticated:
        return None
    if htmx:
        response = Response(status=401)
        response.headers["HX-Redirect"] = url_for("auth.login", next=request.full_path)
        return response
    return redirect(url_for("auth.login", next=request.full_path))


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        response.vary.add("HX-Request")
        if current_user.is_authenticated:
            # Pages with account data are never stored by the browser or a proxy.
            headers["Cache-Control"] = "no-store"
    return response


def init_web(app: Flask) -> None:
    app.before_request(_require_login)
    app.after_request(_security_headers)
