"""The Help Center pages anonymous readers share: no session and no cookie, rendered once per
process and version of the articles, revalidated by ETag; signed-in readers get their own."""

import re
import shutil

import pytest
from flask import template_rendered
from sqlalchemy import select

from app.accounts.models import Role
from app.extensions import db
from app.kb.articles import load_library
from app.search.models import SearchQuery

SHARED_PAGES = ["/help", "/help/glossary", "/help/what-will-my-invoice-look-like",
                "/help/category/payments", "/help/category/whats-new"]


@pytest.mark.parametrize("path", SHARED_PAGES)
def test_anonymous_readers_get_no_cookie(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "X-CSRFToken" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"]
    assert {"Cookie", "HX-Request"} <= set(response.vary)


@pytest.mark.parametrize("path", SHARED_PAGES)
def test_no_cookie_with_csrf_on_as_in_production(csrf_client, path):
    response = csrf_client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", SHARED_PAGES)
def test_a_reader_with_a_session_still_gets_the_shared_page(client, path):
    client.get("/help/search?q=invoice")  # searching keeps the search in a session cookie
    assert client.get_cookie("session") is not None
    response = client.get(path)
    assert "Set-Cookie" not in response.headers
    assert response.headers["ETag"] == client.application.test_client().get(path).headers["ETag"]


def test_the_page_is_rendered_once_and_revalidated_with_its_etag(client):
    rendered = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    client.application.extensions.pop("kb_shared_pages", None)  # as in a new process
    with template_rendered.connected_to(record, client.application):
        first = client.get("/help/glossary")
        second = client.application.test_client().get("/help/glossary")
        assert second.get_data() == first.get_data()
        assert rendered.count("kb/article.html") == 1

        again = client.get("/help/glossary", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert "Set-Cookie" not in again.headers
    assert client.get("/help/glossary", headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_content_change_shows_at_once(client, app, tmp_path, monkeypatch):
    before = client.get("/help/glossary")
    assert "Glossary of invoice words" not in before.get_data(as_text=True)

    content = tmp_path / "articles"
    shutil.copytree(app.config["CONTENT_DIR"], content)
    source = content / "glossary.md"
    source.write_text(_retitle(source.read_text(), "Glossary of invoice words"))
    monkeypatch.setitem(app.extensions, "kb_library", load_library(content, app))

    after = client.get("/help/glossary")
    assert "Glossary of invoice words" in after.get_data(as_text=True)
    assert after.headers["ETag"] != before.headers["ETag"]
    stale = client.get("/help/glossary", headers={"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200


def _retitle(text: str, title: str) -> str:
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.startswith("title:"):
            lines[number] = f"title: {title}\n"
            return "".join(lines)
    raise AssertionError("the article has no title line")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.VIEWER, Role.STAFF])
def test_signed_in_readers_get_their_own_page(client, factory, login, role):
    anonymous = client.application.test_client().get("/help/glossary")
    user = factory.user(role, name="Dana Reader")
    login(user)
    response = client.get("/help/glossary",
                          headers={"If-None-Match": anonymous.headers["ETag"]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers
    assert "Dana Reader" in body and "Sign out" in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    # Their feedback form is part of their page, with their vote.
    client.post("/help/glossary/feedback", data={"helpful": "yes"})
    body = client.get("/help/glossary").get_data(as_text=True)
    assert "You answered <strong>Yes</strong>" in body
    assert 'hx-post="/help/glossary/feedback"' in body


@pytest.mark.parametrize("path", ["/help", "/help/category/payments"])
def test_signed_in_readers_get_their_own_help_home_and_categories(client, factory, login,
                                                                   path):
    login(factory.user(Role.ADMIN, name="Dana Reader"))
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Dana Reader" in response.get_data(as_text=True)


def test_a_flashed_message_is_shown_not_lost_to_the_shared_page(client):
    client.post("/help/glossary/feedback", data={"helpful": "yes"})
    shared = client.application.test_client().get("/help/glossary")
    response = client.get("/help/glossary", headers={"If-None-Match": shared.headers["ETag"]})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Thank you for your feedback." in response.get_data(as_text=True)
    # Shown once; then the reader is back on the shared page.
    after = client.get("/help/glossary")
    assert "Thank you for your feedback." not in after.get_data(as_text=True)
    assert after.headers["ETag"] == shared.headers["ETag"]


def test_the_sign_out_message_shows_on_the_help_home(client, factory, login):
    login(factory.user(Role.ADMIN))
    client.post("/logout")
    response = client.get("/help")
    assert "You are signed out." in response.get_data(as_text=True)
    assert "You are signed out." not in client.get("/help").get_data(as_text=True)


def test_a_click_from_the_readers_search_is_recorded_without_a_cookie(client):
    body = client.get("/help/search?q=glossary").get_data(as_text=True)
    [search] = db.session.scalars(select(SearchQuery)).all()
    [key] = set(re.findall(r"\?sq=(\d+)", body))
    response = client.get(f"/help/glossary?sq={key}")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    db.session.expire_all()
    assert db.session.get(SearchQuery, search.id).clicked_slug == "glossary"


def test_a_click_with_someone_elses_search_id_is_not_recorded(client, app):
    app.test_client().get("/help/search?q=glossary")
    [search] = db.session.scalars(select(SearchQuery)).all()
    client.get(f"/help/glossary?sq={search.id}")
    db.session.expire_all()
    assert db.session.get(SearchQuery, search.id).clicked_slug is None


def test_shared_pages_keep_breadcrumbs_related_search_and_page_help(client, app):
    article = app.extensions["kb_library"].get("what-will-my-invoice-look-like")
    body = client.get(f"/help/{article.slug}").get_data(as_text=True)
    assert 'aria-label="Breadcrumb"' in body
    for slug in article.related:
        assert f'href="/help/{slug}"' in body
    index = client.get("/help").get_data(as_text=True)
    assert 'role="search"' in index and 'hx-get="/help/search"' in index
    assert "Help for this page" in index and 'href="/help/getting-started"' in index


def test_the_query_string_does_not_change_the_shared_page(client):
    plain = client.get("/help/glossary")
    other = client.application.test_client().get("/help/glossary?sq=1&next=/x&q=<b>hi</b>")
    assert other.get_data() == plain.get_data()
    assert other.headers["ETag"] == plain.headers["ETag"]
