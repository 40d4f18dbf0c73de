"""Re-authentication before a sensitive change (SPEC §14): adding a bank account, submitting a
legal or tax change. A view decorated with `reauthentication_required` runs only when the
signed-in user typed their password again in this session within
`services.REAUTHENTICATION_WINDOW`; otherwise the user is sent to "Confirm your password"
(`auth.confirm_password`), which brings them back to the page afterwards.

The time is kept on the server-side session row, so signing out, a new sign-in or a copied
cookie never carries it over, and signing in does not count as confirming."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request, url_for
from flask_login import current_user

from app.accounts import services
from app.web import htmx_redirect


def reauthentication_required(view: Callable) -> Callable:
    """Run `view` only within the window after the user confirmed their password; else
    redirect (HX-Redirect for htmx) to the confirmation, which returns to this page. A form
    sent after the window closed returns to its page by GET: its POST is not replayed."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if services.reauthenticated_recently(current_user.session_token):
            return view(*args, **kwargs)
        back = request.full_path if request.method == "GET" and request.query_string \
            else request.path
        return htmx_redirect(url_for("auth.confirm_password", next=back))

    return wrapped
