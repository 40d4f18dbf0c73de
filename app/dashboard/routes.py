from flask import redirect, url_for
from flask_login import current_user

from app.dashboard import bp
from app.kb.services import get_library
from app.web import public, render


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("kb.index"))
    if current_user.is_staff:
        return redirect(url_for("kb.insights"))
    library = get_library()
    return render(
        "dashboard/index.html",
        account=current_user.account,
        whats_changed=library.get("control-panel-changes"),
    )
