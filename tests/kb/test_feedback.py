"""Feedback votes: the form by htmx with its own CSRF token, and the limits on anonymous votes
that keep one network from stuffing an article's votes."""

import re

import pytest
from flask import Flask
from limits import parse
from sqlalchemy import func, select

from app.accounts.models import Role
from app.config import Config
from app.extensions import db
from app.kb.models import ArticleFeedback
from app.kb.routes import ARTICLE_ALREADY_VOTED, TOO_MANY_VOTES
from tests.conftest import IsolatedClient
from tests.kb.test_routes import votes

HX = {"HX-Request": "true"}
TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "203.0.113.99"


def remote(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def vote(app: Flask, slug: str, helpful: str = "no", address: str = ADDRESS, client=None,
         **data):
    """A vote by htmx from `client`, or from a fresh anonymous session."""
    client = client or app.test_client()
    return client.post(f"/help/{slug}/feedback", data={"helpful": helpful, **data},
                       headers=HX, **remote(address))


def limit_amount(app: Flask, name: str) -> int:
    return parse(app.config[name]).amount


@pytest.fixture(autouse=True)
def _one_app_context_per_request(app):
    """Each request in its own application context, as a server does (`g` is per request)."""
    app.test_client_class = IsolatedClient


@pytest.fixture
def slugs(app) -> list[str]:
    return sorted(app.extensions["kb_library"].articles)


# The anonymous vote limits ------------------------------------------------------------------


def test_twenty_fresh_sessions_from_one_address_cast_one_vote(app):
    """Stuffing: every new anonymous session used to add a "No" to the same article."""
    answers = [vote(app, "glossary").status_code for _ in range(20)]
    assert answers.count(200) == 1
    assert answers.count(429) == 19
    assert [(v.slug, v.helpful) for v in votes()] == [("glossary", False)]


def test_the_vote_after_the_limit_is_refused_with_a_reason_and_others_still_vote(app, slugs):
    allowed = limit_amount(app, "FEEDBACK_ANONYMOUS_RATE_LIMIT")
    for slug in slugs[:allowed]:
        assert vote(app, slug).status_code == 200, slug

    response = vote(app, slugs[allowed], comment="Too short.")
    body = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "<html" not in body and TOO_MANY_VOTES in body
    assert 'role="alert"' in body
    assert "Too short." in body  # what the reader wrote is kept
    assert len(votes()) == allowed

    assert vote(app, slugs[allowed], address=OTHER_ADDRESS).status_code == 200
    assert len(votes()) == allowed + 1


def test_a_second_anonymous_vote_on_one_article_from_one_address_is_refused(app):
    reader = app.test_client()
    assert vote(app, "glossary", "yes", client=reader).status_code == 200

    response = vote(app, "glossary", "no")
    assert response.status_code == 429
    assert ARTICLE_ALREADY_VOTED in response.get_data(as_text=True)

    # The first reader may still change their own answer; another network may still vote.
    assert vote(app, "glossary", "no", client=reader).status_code == 200
    assert vote(app, "glossary", "yes", address=OTHER_ADDRESS).status_code == 200
    assert sorted(v.helpful for v in votes()) == [False, True]


def test_changing_ones_own_vote_does_not_use_up_the_limit(app, slugs):
    allowed = limit_amount(app, "FEEDBACK_ANONYMOUS_RATE_LIMIT")
    reader = app.test_client()
    for answer in ["yes", "no"] * allowed:
        assert vote(app, "glossary", answer, client=reader).status_code == 200
    for slug in [s for s in slugs if s != "glossary"][: allowed - 1]:
        assert vote(app, slug).status_code == 200, slug
    assert len(votes()) == allowed


def test_refused_forms_do_not_use_up_the_limit(app):
    reader = app.test_client()
    for _ in range(3):
        response = reader.post("/help/glossary/feedback", data={}, headers=HX, **remote(ADDRESS))
        assert response.status_code == 422
    assert vote(app, "glossary", client=reader).status_code == 200


def test_without_javascript_a_refused_vote_is_a_page_saying_why(app):
    vote(app, "glossary")
    response = app.test_client().post(
        "/help/glossary/feedback", data={"helpful": "yes"}, **remote(ADDRESS)
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "<html" in body and ARTICLE_ALREADY_VOTED in body
    assert 'href="/help/glossary"' in body


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER, Role.STAFF])
def test_signed_in_readers_are_not_limited_by_address(app, factory, role):
    allowed = limit_amount(app, "FEEDBACK_ANONYMOUS_RATE_LIMIT")
    vote(app, "glossary")  # an anonymous vote from the same address first
    for _ in range(allowed + 1):
        reader = app.test_client()
        user = factory.user(role)
        reader.post("/login", data={"email": user.email, "password": "correct-horse-battery-7"})
        assert vote(app, "glossary", "yes", client=reader).status_code == 200
    assert len(votes()) == allowed + 2


def test_the_limits_count_per_address_not_per_session(app):
    """A reader who drops the session cookie is the same network."""
    assert vote(app, "glossary").status_code == 200
    assert vote(app, "getting-started").status_code == 200
    assert vote(app, "glossary", address=OTHER_ADDRESS).status_code == 200
    assert vote(app, "glossary").status_code == 429


# The form by htmx, with CSRF on as in production -----------------------------------------


def count_votes(csrf_app) -> int:
    with csrf_app.app_context():
        return db.session.scalar(select(func.count()).select_from(ArticleFeedback))


def test_the_article_loads_the_form_by_htmx_and_its_token_works(csrf_app, csrf_client):
    page = csrf_client.get("/help/glossary")
    html = page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers
    assert "X-CSRFToken" not in html and "csrf_token" not in html
    assert 'hx-get="/help/glossary/feedback" hx-trigger="load"' in html
    assert 'href="/help/glossary/feedback"' in html  # without JavaScript

    fragment = csrf_client.get("/help/glossary/feedback", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in body and 'hx-post="/help/glossary/feedback"' in body
    assert fragment.headers["Cache-Control"] == "no-store"
    token = TOKEN_RE.search(body).group(1)

    sent = csrf_client.post("/help/glossary/feedback", headers=HX,
                            data={"csrf_token": token, "helpful": "yes"})
    assert sent.status_code == 200
    assert "Thank you for your feedback" in sent.get_data(as_text=True)
    assert count_votes(csrf_app) == 1

    # Reloaded, the fragment shows the reader's answer.
    again = csrf_client.get("/help/glossary/feedback", headers=HX).get_data(as_text=True)
    assert "You answered <strong>Yes</strong>" in again


def test_a_vote_without_the_token_is_refused(csrf_app, csrf_client):
    csrf_client.get("/help/glossary/feedback", headers=HX)
    response = csrf_client.post("/help/glossary/feedback", headers=HX, data={"helpful": "yes"})
    assert response.status_code == 400
    other = csrf_app.test_client()  # a token from another session is no good either
    token = TOKEN_RE.search(
        other.get("/help/glossary/feedback", headers=HX).get_data(as_text=True)
    ).group(1)
    response = csrf_client.post("/help/glossary/feedback", headers=HX,
                                data={"helpful": "yes", "csrf_token": token})
    assert response.status_code == 400
    assert count_votes(csrf_app) == 0


def test_without_javascript_the_feedback_page_votes(csrf_app, csrf_client):
    page = csrf_client.get("/help/glossary/feedback")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<html" in body and "Feedback on" in body
    assert 'aria-label="Breadcrumb"' in body
    token = TOKEN_RE.search(body).group(1)
    sent = csrf_client.post("/help/glossary/feedback",
                            data={"csrf_token": token, "helpful": "no", "comment": "More."})
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/help/glossary#feedback")
    article = csrf_client.get("/help/glossary")
    html = article.get_data(as_text=True)
    assert "Thank you for your feedback." in html  # the flashed message
    assert "You answered <strong>No</strong> and left a comment" in html
    assert count_votes(csrf_app) == 1


def test_the_feedback_fragment_of_an_unknown_article_is_404(client):
    assert client.get("/help/nope/feedback", headers=HX).status_code == 404


# The article that tells readers about the limits -------------------------------------------

ONE = {1: "one"}
EVERY = {"hour": "an hour", "day": "a day"}


def test_getting_started_states_the_anonymous_vote_limits(app):
    """The numbers in the article are the limits' defaults."""
    per_article = parse(Config.FEEDBACK_ANONYMOUS_ARTICLE_LIMIT)
    overall = parse(Config.FEEDBACK_ANONYMOUS_RATE_LIMIT)
    assert per_article.multiples == overall.multiples == 1
    text = " ".join(s.text for s in app.extensions["kb_library"].get("getting-started").sections)
    assert (f"can send {ONE[per_article.amount]} vote per article "
            f"{EVERY[per_article.GRANULARITY.name]}") in text
    assert f"at most {overall.amount} votes {EVERY[overall.GRANULARITY.name]}" in text


def test_votes_on_unknown_articles_do_not_use_up_the_limit(app):
    allowed = limit_amount(app, "FEEDBACK_ANONYMOUS_RATE_LIMIT")
    for _ in range(allowed + 1):
        assert vote(app, "no-such-article").status_code == 404
    assert vote(app, "glossary").status_code == 200
