"""Help Center pages for every kind of reader, feedback votes and the staff insights page."""

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.extensions import db
from app.kb.models import ArticleFeedback

CONTRACT_SLUGS = [
    "marketplace-enhancements-april-2018", "what-will-my-invoice-look-like",
    "how-do-i-retrieve-historical-invoice-information",
    "how-do-i-submit-a-payment-for-open-invoices", "how-do-i-add-ach-as-a-payment-method",
    "how-is-the-credit-on-my-account-used", "how-do-i-change-my-account-information",
    "how-do-i-change-my-tax-information", "control-panel-changes",
]
READERS = [None, Role.ADMIN, Role.BILLING, Role.VIEWER, Role.STAFF]
HREF_RE = re.compile(r'href="([^"]+)"')


def votes() -> list[ArticleFeedback]:
    db.session.expire_all()
    return list(db.session.scalars(select(ArticleFeedback).order_by(ArticleFeedback.id)))


@pytest.fixture
def library(app):
    return app.extensions["kb_library"]


def test_contract_articles_exist_and_the_library_is_complete(library):
    assert set(CONTRACT_SLUGS) <= set(library.articles)
    assert {"getting-started", "glossary"} <= set(library.articles)
    assert len(library.articles) >= 20
    assert {a.category for a in library.articles.values()} == {
        "whats-new", "invoices-billing", "payments", "account-information", "control-panel"
    }


def test_announcement_links_to_every_announced_article(library):
    announcement = library.get("marketplace-enhancements-april-2018")
    assert announcement.category == "whats-new"
    linked = {link.removeprefix("help:") for link in announcement.links}
    assert set(CONTRACT_SLUGS) - {announcement.slug} <= linked


@pytest.mark.parametrize("role", READERS)
def test_help_home_lists_every_article(client, factory, login, library, role):
    if role:
        login(factory.user(role))
    body = client.get("/help").get_data(as_text=True)
    for slug in library.articles:
        assert f'href="/help/{slug}"' in body


@pytest.mark.parametrize("role", READERS)
def test_article_page_for_every_reader(client, factory, login, role):
    if role:
        login(factory.user(role))
    response = client.get("/help/how-is-the-credit-on-my-account-used")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'aria-label="Breadcrumb"' in body
    assert "On this page" in body and "Related articles" in body
    assert "<time datetime=" in body
    assert "Was this helpful?" in body


def test_every_article_and_category_page_renders(client, library):
    for slug in library.articles:
        assert client.get(f"/help/{slug}").status_code == 200, slug
    for category in ("whats-new", "invoices-billing", "payments", "account-information",
                     "control-panel"):
        assert client.get(f"/help/category/{category}").status_code == 200


def test_unknown_category_is_404(client):
    assert client.get("/help/category/nothing-here").status_code == 404


def test_no_broken_link_in_any_article(client, library):
    """Every link in every article leads to a page that exists, and to an anchor on it."""
    pages: dict[str, str] = {}
    for article in library.articles.values():
        for href in HREF_RE.findall(article.html):
            if href.startswith("#"):
                assert f'id="{href[1:]}"' in article.html, (article.slug, href)
                continue
            parts = urlsplit(href)
            assert not parts.scheme or parts.scheme == "mailto", (article.slug, href)
            if parts.path not in pages:
                response = client.get(parts.path)
                assert response.status_code in (200, 302), (article.slug, href)
                pages[parts.path] = response.get_data(as_text=True)
            if parts.fragment:
                assert f'id="{parts.fragment}"' in pages[parts.path], (article.slug, href)


def test_anonymous_vote_with_comment(client):
    response = client.post(
        "/help/glossary/feedback", data={"helpful": "no", "comment": "Add R-codes."}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/help/glossary#feedback")
    [vote] = votes()
    assert (vote.slug, vote.helpful, vote.comment, vote.user_id) == (
        "glossary", False, "Add R-codes.", None
    )
    assert "You answered <strong>No</strong>" in client.get("/help/glossary").get_data(
        as_text=True
    )


def test_htmx_vote_returns_the_thank_you_fragment(client):
    response = client.post(
        "/help/glossary/feedback", data={"helpful": "yes"}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and "Thank you for your feedback" in body


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.VIEWER, Role.STAFF])
def test_one_vote_per_reader_and_article(client, factory, login, role):
    login(factory.user(role))
    client.post("/help/glossary/feedback", data={"helpful": "yes"})
    client.post("/help/glossary/feedback", data={"helpful": "no"})
    client.post("/help/getting-started/feedback", data={"helpful": "yes"})
    assert [(v.slug, v.helpful) for v in votes()] == [
        ("glossary", False), ("getting-started", True)
    ]


def test_two_anonymous_readers_vote_separately(client, app):
    client.post("/help/glossary/feedback", data={"helpful": "yes"},
                environ_base={"REMOTE_ADDR": "198.51.100.1"})
    app.test_client().post("/help/glossary/feedback", data={"helpful": "yes"},
                           environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert len(votes()) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [({}, "Choose Yes or No."), ({"helpful": "maybe"}, "Not a valid choice"),
     ({"helpful": "yes", "comment": "x" * 1001}, "under 1,000 characters")],
)
def test_bad_feedback_says_why_and_keeps_the_comment(client, data, message):
    response = client.post("/help/glossary/feedback", data=data, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    if "comment" in data:
        assert data["comment"] in body
    assert votes() == []


def test_feedback_on_unknown_article_is_404(client):
    assert client.post("/help/nope/feedback", data={"helpful": "yes"}).status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.VIEWER])
def test_insights_are_for_staff_only(client, factory, login, role):
    login(factory.user(role))
    assert client.get("/help/insights").status_code == 403
    assert client.get("/help/insights", headers={"HX-Request": "true"}).status_code == 403


def test_staff_insights_show_queries_clicks_and_helpfulness(client, app, factory, login):
    reader = app.test_client()
    reader.get("/help/search?q=credit")
    reader.get("/help/search?q=zzqqxx")
    reader.post("/help/glossary/feedback", data={"helpful": "no", "comment": "Needs R-codes"})
    login(factory.user(Role.STAFF))
    body = client.get("/help/insights").get_data(as_text=True)
    assert "<td>credit</td>" in body and "<td>zzqqxx</td>" in body
    assert "Needs R-codes" in body
    assert '<span class="stat__value">2</span>' in body


def test_empty_insights_have_empty_states(client, factory, login):
    login(factory.user(Role.STAFF))
    body = client.get("/help/insights").get_data(as_text=True)
    assert "No searches yet." in body and "No comments yet." in body


def insight_row(body: str, slug: str) -> list[str]:
    row = re.search(rf'<tr id="votes-{slug}">(.*?)</tr>', body, re.S).group(1)
    return re.findall(r'<td class="num">([^<]*)</td>', row)


def test_insights_show_signed_in_and_anonymous_votes_apart(client, app, factory, login):
    for number, answer in enumerate(["no", "no", "yes"], start=1):
        app.test_client().post("/help/glossary/feedback", data={"helpful": answer},
                               environ_base={"REMOTE_ADDR": f"198.51.100.{number}"})
    for answer in ["yes", "yes"]:
        reader = app.test_client()
        user = factory.user(Role.ADMIN)
        reader.post("/login", data={"email": user.email, "password": "correct-horse-battery-7"})
        reader.post("/help/glossary/feedback", data={"helpful": answer, "comment": "Clear."})
    app.test_client().post("/help/getting-started/feedback", data={"helpful": "no",
                                                                   "comment": "Too long."})
    login(factory.user(Role.STAFF))
    body = client.get("/help/insights").get_data(as_text=True)
    # Signed in: yes, no; not signed in: yes, no; helpful (3 of 5).
    assert insight_row(body, "glossary") == ["2", "0", "1", "2", "60%"]
    assert insight_row(body, "getting-started") == ["0", "0", "0", "1", "0%"]
    assert insight_row(body, "tax-exempt-status") == ["0", "0", "0", "0", "—"]
    assert re.search(r'id="votes-signed-in">2<', body)
    assert re.search(r'id="votes-anonymous">4<', body)
    assert body.count("Helpful · Signed in") == 2
    assert body.count("Not helpful · Not signed in") == 1


def test_a_deleted_users_vote_still_counts_as_signed_in(client, app, factory, login):
    user = factory.user(Role.VIEWER)
    reader = app.test_client()
    reader.post("/login", data={"email": user.email, "password": "correct-horse-battery-7"})
    reader.post("/help/glossary/feedback", data={"helpful": "yes"})
    [vote] = votes()
    vote.user_id = None  # what ON DELETE SET NULL leaves
    db.session.commit()
    login(factory.user(Role.STAFF))
    body = client.get("/help/insights").get_data(as_text=True)
    assert insight_row(body, "glossary") == ["1", "0", "0", "0", "100%"]
