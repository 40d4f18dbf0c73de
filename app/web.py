"""Web helpers in one place: page-or-fragment rendering, htmx redirects, access control,
security headers, and reading untrusted input (whole numbers, request size, NUL characters)."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Flask,
    Request,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter, Map

from app.extensions import htmx

# The largest whole number a URL or form may carry: PostgreSQL's INTEGER (ids, page numbers).
MAX_INT = 2**31 - 1
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,10}")

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


# Events sent to the page in an `HX-Trigger` header after a change succeeds, so that what shows
# the account's figures (the dashboard's tiles) reloads itself.
PAYMENT_MADE = "payment-made"
ACCOUNT_CHANGED = "account-changed"


def with_trigger(response: Response, event: str) -> Response:
    """`response` with an `HX-Trigger` header that fires `event` on the page's body."""
    response.headers["HX-Trigger"] = event
    return response


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


def parse_int(text: Any, minimum: int = -MAX_INT - 1, maximum: int = MAX_INT) -> int:
    """`text` as a whole number in ASCII digits within `minimum`…`maximum`; ValueError for
    anything else. Python's int() also takes the digits of other scripts ('٣', '１２') and
    numbers of any size, which a database column refuses, and str.isdigit() passes '²',
    which int() refuses."""
    if not isinstance(text, str) or not _WHOLE_NUMBER.fullmatch(text.strip()):
        raise ValueError("not a whole number in digits 0-9")
    value = int(text.strip())
    if not minimum <= value <= maximum:
        raise ValueError("out of range")
    return value


def positive_int(text: Any) -> int:
    """A positive id or page number, for `request.args.get(name, type=positive_int)`."""
    return parse_int(text, minimum=1)


class IntConverter(IntegerConverter):
    """`<int:…>` in URLs: ASCII digits only and at most MAX_INT, so that a path with other
    digits or a huge number is a 404 rather than a database error."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_INT, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _without_nul(value: Any) -> Any:
    """`value` with each NUL character of its text (also inside JSON lists and objects)
    replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


class TextParameters(ImmutableMultiDict):
    """Query and form parameters whose text has no NUL character: a NUL byte is never text a
    person typed, and PostgreSQL can neither store nor compare it. It becomes U+FFFD, as
    Werkzeug already does with bytes that are not UTF-8, so a field keeps everything else."""

    def __init__(self, mapping: Any = None) -> None:
        if isinstance(mapping, MultiDict):
            mapping = mapping.items(multi=True)
        elif isinstance(mapping, dict):
            mapping = [(key, value) for key, values in mapping.items()
                       for value in (values if isinstance(values, list | tuple) else [values])]
        if mapping is not None:
            mapping = [(_without_nul(key), _without_nul(value)) for key, value in mapping]
        super().__init__(mapping)


class PortalRequest(Request):
    """Parameters and JSON bodies without NUL characters (TextParameters). A form's
    urlencoded body is text and is held to MAX_FORM_MEMORY_SIZE, like a text part of a
    multipart body; MAX_CONTENT_LENGTH (room for an uploaded document) bounds the rest."""

    parameter_storage_class = TextParameters

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        return _without_nul(super().get_json(force=force, silent=silent, cache=cache))

    @property
    def max_content_length(self) -> int | None:
        limit = Request.max_content_length.fget(self)  # type: ignore[attr-defined]
        if self._max_content_length is None and current_app \
                and self.mimetype == "application/x-www-form-urlencoded":
            form_limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
            return form_limit if limit is None else min(limit, form_limit)
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def _not_found_for_nul_in_path() -> None:
    """No page's address has a NUL character in it (and PostgreSQL cannot compare one)."""
    if "\x00" in request.path:
        abort(404)


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


def init_url_converters(app: Flask) -> None:
    """Before any route is added: `<int:…>` takes ASCII digits up to MAX_INT only."""
    app.url_map.converters["int"] = IntConverter


def init_web(app: Flask) -> None:
    app.request_class = PortalRequest
    app.before_request(_not_found_for_nul_in_path)
    app.before_request(_require_login)
    app.after_request(_security_headers)
