import secrets

from flask import abort, current_app, flash, g, make_response, request, session, url_for
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app.accounts.models import Role
from app.extensions import db, limiter
from app.kb import bp, services
from app.kb.articles import CATEGORIES
from app.kb.forms import FeedbackForm
from app.kb.models import ANONYMOUS_VOTER, SIGNED_IN_VOTER
from app.kb.pages import help_page
from app.search.forms import SearchForm
from app.search.services import record_click
from app.web import (
    htmx_redirect,
    is_fragment_request,
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
        return f"{SIGNED_IN_VOTER}{current_user.id}"
    if "voter_id" not in session:
        session["voter_id"] = secrets.token_urlsafe(16)
    return f"{ANONYMOUS_VOTER}{session['voter_id']}"


def _anonymous_vote_limit() -> str:
    return current_app.config["FEEDBACK_ANONYMOUS_RATE_LIMIT"]


def _anonymous_article_limit() -> str:
    return current_app.config["FEEDBACK_ANONYMOUS_ARTICLE_LIMIT"]


def _address_and_article() -> str:
    return f"{get_remote_address()} {request.view_args.get('slug', '')}"


def _not_a_new_anonymous_vote() -> bool:
    """The anonymous vote limits count only new votes by readers who are not signed in: not
    signed-in readers, not a vote that will be refused anyway (no such article, a form with
    errors or without its CSRF token), not a change of one's own vote."""
    if request.method != "POST":
        return True
    if "feedback_exempt" not in g:
        g.feedback_exempt = (
            current_user.is_authenticated
            or services.get_library().get(request.view_args["slug"]) is None
            or not FeedbackForm().validate()
            or ("voter_id" in session
                and services.find_vote(request.view_args["slug"], _voter()) is not None)
        )
    return g.feedback_exempt


# What a refused anonymous vote is told; true whatever the limits are set to.
TOO_MANY_VOTES = ("Your network has sent as many votes as we take from readers who are not "
                  "signed in for now. Try again later, or sign in to vote.")
ARTICLE_ALREADY_VOTED = ("A vote on this article was already sent from your network. "
                         "Try again later, or sign in to vote.")


@bp.route("")
@public
def index():
    def build(shared: bool) -> str:
        library = services.get_library()
        categories = [(slug, name, library.in_category(slug)) for slug, name in CATEGORIES.items()]
        return render(
            "kb/index.html",
            categories=categories,
            form=SearchForm(formdata=None),
            getting_started=library.get("getting-started"),
            announcement=library.get("marketplace-enhancements-april-2018"),
            shared_page=shared,
        )

    return help_page("index", build)


@bp.route("/category/<slug>")
@public
def category(slug: str):
    if slug not in CATEGORIES:
        abort(404)

    def build(shared: bool) -> str:
        return render(
            "kb/category.html",
            category_slug=slug,
            category_name=CATEGORIES[slug],
            articles=services.get_library().in_category(slug),
            form=SearchForm(formdata=None, category=slug),
            shared_page=shared,
        )

    return help_page(f"category/{slug}", build)


@bp.route("/<slug>")
@public
def article(slug: str):
    article = _get_article_or_404(slug)
    # `sq` names the reader's own latest search; it is compared with the session's key as
    # text, so nothing the reader types is parsed or reaches the database.
    search_id = session.get("last_search_id")
    if search_id and request.args.get("sq") == str(search_id):
        # A click from the reader's own search (the session is read, never written here).
        record_click(search_id, slug)
        db.session.commit()

    def build(shared: bool) -> str:
        # The shared page loads the feedback form by htmx (making the form makes a CSRF token,
        # which needs a session); a reader's own page includes it, with their vote.
        form = vote = None
        if not shared:
            form = FeedbackForm(formdata=None)
            if "voter_id" in session or current_user.is_authenticated:
                vote = services.find_vote(slug, _voter())
        return render(
            "kb/article.html",
            article=article,
            related=services.get_library().related(article),
            feedback_form=form,
            vote=vote,
            shared_page=shared,
        )

    return help_page(f"article/{slug}", build)


def _feedback_response(article, form: FeedbackForm, vote, status: int = 200, refusal=None):
    """The feedback form (a fragment for htmx, a page of its own without JavaScript). It holds
    a CSRF token of the reader's session, so it is never stored."""
    response = make_response(render(
        "kb/feedback.html", "kb/_feedback.html",
        article=article, feedback_form=form, vote=vote, refusal=refusal,
    ), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<slug>/feedback", methods=["GET", "POST"])
@public
@limiter.limit(_anonymous_vote_limit, methods=["POST"], scope="anonymous-votes",
               exempt_when=_not_a_new_anonymous_vote, error_message=TOO_MANY_VOTES)
@limiter.limit(_anonymous_article_limit, methods=["POST"], key_func=_address_and_article,
               scope="anonymous-article-votes", exempt_when=_not_a_new_anonymous_vote,
               error_message=ARTICLE_ALREADY_VOTED)
def feedback(slug: str):
    article = _get_article_or_404(slug)
    if request.method == "GET":
        vote = None
        if "voter_id" in session or current_user.is_authenticated:
            vote = services.find_vote(slug, _voter())
        return _feedback_response(article, FeedbackForm(formdata=None), vote)
    form = FeedbackForm()
    if not form.validate():
        return _feedback_response(article, form, None, 422)
    vote = services.record_vote(
        slug=slug,
        voter=_voter(),
        user_id=current_user.id if current_user.is_authenticated else None,
        helpful=form.helpful.data == "yes",
        comment=form.comment.data,
    )
    db.session.commit()
    if is_fragment_request():
        return _feedback_response(article, form, vote)
    flash("Thank you for your feedback.", "success")
    return htmx_redirect(url_for("kb.article", slug=slug, _anchor="feedback"))


@bp.errorhandler(RateLimitExceeded)
def too_many_votes(error: RateLimitExceeded):
    """A refused anonymous vote (the feedback form is the Help Center's only limited view): the
    form again, with what the reader entered and why."""
    article = _get_article_or_404(request.view_args["slug"])
    return _feedback_response(article, FeedbackForm(), None, 429, refusal=error.description)


@bp.route("/insights")
@roles_required(Role.STAFF)
def insights():
    titles = {slug: a.title for slug, a in services.get_library().articles.items()}
    return render("kb/insights.html", insights=services.content_insights(), titles=titles)
