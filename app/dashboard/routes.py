from datetime import date

from flask import redirect, url_for
from flask_login import current_user

from app.dashboard import bp, services
from app.dashboard.forms import DismissForm
from app.extensions import db
from app.kb.services import get_library
from app.web import (
    ACCOUNT_CHANGED,
    PAYMENT_MADE,
    current_account_id,
    htmx_redirect,
    is_fragment_request,
    public,
    render,
)

# The events after which the tiles reload themselves (sent by the pay and change routes).
TILE_TRIGGER = f"{PAYMENT_MADE} from:body, {ACCOUNT_CHANGED} from:body"


def _whats_changed(today: date):
    """The article the banner announces when it greets the signed-in user today, else None."""
    article = get_library().get(services.WHATS_CHANGED_SLUG)
    if article is None:
        return None
    dismissed_on = services.dismissed_on(current_user.id, article.slug)
    return article if services.banner_shown(article, dismissed_on, today) else None


def _tile_help() -> dict:
    library = get_library()
    return {tile: library.get(slug) for tile, slug in services.TILE_HELP.items()}


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("kb.index"))
    if current_user.is_staff:
        return redirect(url_for("kb.insights"))
    today = date.today()
    account = current_user.account
    dashboard = services.build_dashboard(account, current_user.role, today)
    tiles = {"dashboard": dashboard, "tile_trigger": TILE_TRIGGER, "help": _tile_help()}
    if is_fragment_request():
        return render("dashboard/_tiles.html", **tiles)
    return render("dashboard/index.html", account=account, whats_changed=_whats_changed(today),
                  dismiss_form=DismissForm(), **tiles)


@bp.route("/whats-changed/dismiss", methods=["POST"])
def dismiss_whats_changed():
    """Dismiss the "What's changed" banner for the signed-in user (staff have none: 403).
    htmx gets the note that replaces the banner; a form post goes back to the dashboard."""
    current_account_id()
    form = DismissForm()
    if form.validate_on_submit():
        services.dismiss_banner(current_user.id, services.WHATS_CHANGED_SLUG, date.today())
        db.session.commit()
    if is_fragment_request():
        return render("dashboard/_banner_dismissed.html",
                      article=get_library().get(services.WHATS_CHANGED_SLUG))
    return htmx_redirect(url_for("dashboard.index"))
