import secrets

from flask import abort, flash, request, session, url_for
from flask_login import current_user

from app.accounts.models import Role
from app.extensions import db
from app.kb import bp, services
from app.kb.articles import CATEGORIES
from app.kb.forms import FeedbackForm
from app.search.forms import SearchForm
from app.search.services import record_click
from app.web import (
    htmx_redirect,
    is_fragment_request,
    positive_int,
    public,
    render,
    roles_required,
)


def _get_article_or_404(slug: str):
    """The article with this slug; raises 404 when there is none."""
    article = services.get_library().get(slug)
    if article is None:
        abort(404)
    return article


def _voter() -> str:
    """Who is voting: the signed-in user, or a random id kept in an anonymous reader's session."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    if "voter_id" not in session:
        session["voter_id"] = secrets.token_urlsafe(16)
    return f"anon:{session['voter_id']}"


@bp.route("")
@public
def index():
    library = services.get_library()
    categories = [(slug, name, library.in_category(slug)) for slug, name in CATEGORIES.items()]
    return render(
        "kb/index.html",
        categories=categories,
        form=SearchForm(formdata=None),
        getting_started=library.get("getting-started"),
        announcement=library.get("marketplace-enhancements-april-2018"),
    )


@bp.route("/category/<slug>")
@public
def category(slug: str):
    if slug not in CATEGORIES:
        abort(404)
    return render(
        "kb/category.html",
        category_slug=slug,
        category_name=CATEGORIES[slug],
        articles=services.get_library().in_category(slug),
        form=SearchForm(formdata=None, category=slug),
    )


@bp.route("/<slug>")
@public
def article(slug: str):
    article = _get_article_or_404(slug)
    search_id = request.args.get("sq", type=positive_int)
    if search_id and search_id == session.get("last_search_id"):
        record_click(search_id, slug)
        db.session.commit()
    vote = services.find_vote(slug, _voter()) if "voter_id" in session or \
        current_user.is_authenticated else None
    return render(
        "kb/article.html",
        article=article,
        related=services.get_library().related(article),
        feedback_form=FeedbackForm(formdata=None),
        vote=vote,
    )


@bp.route("/<slug>/feedback", methods=["POST"])
@public
def feedback(slug: str):
    article = _get_article_or_404(slug)
    form = FeedbackForm()
    if not form.validate():
        return render(
            "kb/article.html", "kb/_feedback.html", article=article,
            related=services.get_library().related(article), feedback_form=form, vote=None,
        ), 422
    vote = services.record_vote(
        slug=slug,
        voter=_voter(),
        user_id=current_user.id if current_user.is_authenticated else None,
        helpful=form.helpful.data == "yes",
        comment=form.comment.data,
    )
    db.session.commit()
    if is_fragment_request():
        return render("kb/_feedback.html", article=article, feedback_form=form, vote=vote)
    flash("Thank you for your feedback.", "success")
    return htmx_redirect(url_for("kb.article", slug=slug, _anchor="feedback"))


@bp.route("/insights")
@roles_required(Role.STAFF)
def insights():
    titles = {slug: a.title for slug, a in services.get_library().articles.items()}
    return render("kb/insights.html", insights=services.content_insights(), titles=titles)
