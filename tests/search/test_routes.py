"""/help/search: page and fragment, logging, and hostile input."""

import pytest
from markupsafe import escape
from sqlalchemy import select

from app.accounts.models import Role
from app.extensions import db
from app.search.models import SearchQuery

HX = {"HX-Request": "true"}


def logged() -> list[SearchQuery]:
    db.session.expire_all()
    return list(db.session.scalars(select(SearchQuery).order_by(SearchQuery.id)))


def test_search_page_has_a_labelled_search_field(client):
    body = client.get("/help/search").get_data(as_text=True)
    assert '<label for="q" class="search-form__label">Search help</label>' in body
    assert 'type="search"' in body
    assert 'aria-live="polite"' in body


def test_results_page_lists_articles_with_deep_links(client):
    response = client.get("/help/search?q=micro-deposits")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in body
    assert "/help/how-do-i-add-ach-as-a-payment-method" in body
    assert "<mark" in body


def test_htmx_gets_the_fragment_only(client):
    response = client.get("/help/search?q=invoice", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="search-results-inner"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_history_restore_gets_the_whole_page(client):
    headers = {**HX, "HX-History-Restore-Request": "true"}
    body = client.get("/help/search?q=invoice", headers=headers).get_data(as_text=True)
    assert "<html" in body


@pytest.mark.parametrize("role", [None, Role.ADMIN, Role.BILLING, Role.VIEWER, Role.STAFF])
def test_every_reader_can_search(client, factory, login, role):
    if role:
        login(factory.user(role))
    response = client.get("/help/search?q=credit", headers=HX)
    assert response.status_code == 200
    assert "how-is-the-credit-on-my-account-used" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "attack",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}",
     "javascript:alert(1)", "' OR 1=1 --"],
)
def test_hostile_queries_are_shown_as_text(client, attack):
    for headers in ({}, HX):
        response = client.get("/help/search", query_string={"q": attack}, headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<script>alert" not in body and "<img src=x" not in body
        assert str(escape(attack)) in body


@pytest.mark.parametrize(
    "query_string",
    [{"q": '"unclosed'}, {"q": "((("}, {"q": "x", "page": "abc"}, {"q": "x", "page": "-4"},
     {"q": "invoice", "page": "9999"}, {"q": "invoice", "category": "no-such"},
     {"q": "a" * 5000}, {"q": "\x00"}],
)
def test_bad_input_never_breaks_search(client, query_string):
    assert client.get("/help/search", query_string=query_string).status_code == 200


def test_category_filter_keeps_results_in_the_category(client):
    body = client.get(
        "/help/search", query_string={"q": "invoice", "category": "payments"}, headers=HX
    ).get_data(as_text=True)
    assert "What will my invoice look like" not in body


def test_searches_are_logged_and_typing_is_one_entry(client):
    for partial in ("inv", "invoi", "invoice"):
        client.get("/help/search", query_string={"q": partial}, headers=HX)
    rows = logged()
    assert [(r.normalised, r.result_count > 0) for r in rows] == [("invoice", True)]
    client.get("/help/search", query_string={"q": "credit"}, headers=HX)
    assert [r.normalised for r in logged()] == ["invoice", "credit"]


def test_zero_result_searches_are_logged(client):
    client.get("/help/search", query_string={"q": "zzqqxx"})
    assert [(r.normalised, r.result_count) for r in logged()] == [("zzqqxx", 0)]


def test_opening_a_result_records_the_click(client):
    client.get("/help/search", query_string={"q": "credit"})
    search_id = logged()[0].id
    client.get(f"/help/how-is-the-credit-on-my-account-used?sq={search_id}")
    assert logged()[0].clicked_slug == "how-is-the-credit-on-my-account-used"


def test_a_forged_click_id_is_ignored(client):
    client.get("/help/search", query_string={"q": "credit"})
    other = client.application.test_client()
    other.get(f"/help/glossary?sq={logged()[0].id}")
    assert logged()[0].clicked_slug is None


def test_pagination_links_keep_the_query_encoded(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_PAGE_SIZE", 2)
    body = client.get("/help/search", query_string={"q": "invoice & credit"}).get_data(
        as_text=True
    )
    assert 'href="/help/search?q=invoice+%26+credit&amp;page=2"' in body
    assert "Page 1 of" in body


def test_fragment_updates_the_count_out_of_band(client):
    body = client.get("/help/search?q=credit", headers=HX).get_data(as_text=True)
    assert 'id="search-count" role="status" aria-live="polite" hx-swap-oob="true"' in body
    page = client.get("/help/search?q=credit").get_data(as_text=True)
    assert page.count('id="search-count"') == 1 and "hx-swap-oob" not in page
