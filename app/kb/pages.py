"""Help Center pages that are the same for every anonymous reader.

Such a page holds nothing from a session (no CSRF token: the forms on it come by htmx with their
own), so it is rendered once per process for each page and version of the articles, sent with a
strong ETag, and answering it sets no cookie. Signed-in readers get their own page every time.
A shared page may depend on its URL path only: not on the query string, the host or a cookie.
"""

import hashlib
from collections.abc import Callable

from flask import Response, current_app, make_response, request, session
from flask_login import current_user

from app.kb.services import get_library

FLASHES_KEY = "_flashes"  # where Flask keeps flashed messages in the session


def is_shared_request() -> bool:
    """True when this reader gets the page every anonymous reader gets: nobody is signed in,
    and no flashed message waits in the session (a message is never lost to a stored page)."""
    return not current_user.is_authenticated and FLASHES_KEY not in session


def _shared(key: str, build: Callable[[bool], str]) -> tuple[str, str]:
    """The shared page `key` and its ETag, rendered at most once per version of the articles
    (their content hash) and application root. Templates that reload in development are
    rendered every time."""
    app = current_app
    version = (get_library().content_hash, request.script_root)
    store = app.extensions.get("kb_shared_pages")
    if store is None or store[0] != version:
        # A new version of the articles: the pages of the old one are never asked for again.
        store = app.extensions["kb_shared_pages"] = (version, {})
    pages: dict[str, tuple[str, str]] = store[1]
    entry = pages.get(key)
    if entry is None or app.jinja_env.auto_reload:
        html = build(True)
        entry = pages[key] = (html, hashlib.sha256(html.encode()).hexdigest()[:32])
    return entry


def help_page(key: str, build: Callable[[bool], str]) -> Response:
    """The response for a Help Center page; `build(shared)` renders it.

    A signed-in reader, or one with a message waiting, gets their own page, never stored
    (`no-store`). Everyone else gets the shared page with its ETag and `no-cache`: a browser
    asks again each time (a 304 when nothing changed) rather than showing the anonymous page
    after its reader signed in.
    """
    if not is_shared_request():
        response = make_response(build(False))
        response.headers["Cache-Control"] = "no-store"
        return response
    html, etag = _shared(key, build)
    response = make_response(html)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)
