"""The application as a whole: health, security headers, deny-by-default, errors."""

import pytest

from app import web
from app.accounts.models import Role

PUBLIC_PATHS = ["/help", "/help/getting-started", "/help/category/payments", "/help/search?q=ach",
                "/login", "/healthz"]


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_checks_database_and_index(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "search_index": "ok"}


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_public_pages_carry_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "HX-Request" in response.headers.get("Vary", "")


def test_every_route_is_private_unless_marked_public(app):
    """Deny by default: the list of public endpoints is exactly what we mean to publish."""
    public = sorted(
        endpoint for endpoint, view in app.view_functions.items()
        if getattr(view, "is_public", False) and not endpoint.startswith("erp_api.")
    )
    assert public == [
        "auth.login", "auth.logout", "auth.signup", "dashboard.index", "health.healthz",
        "health.readyz",
        "kb.article", "kb.category", "kb.feedback", "kb.index", "sandbox_gateway.card_page",
        "search.search",
    ]


def test_every_erp_api_route_but_its_document_needs_a_token(app, client):
    """The ERP API's views pass the sign-in gate (they take no session) only to meet the bearer
    token check: without a token each answers 401 JSON, before looking at its arguments."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("erp_api.")]
    assert len(rules) >= 12
    for rule in rules:
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", "1").replace(f"<{argument}>", "X-1")
        method = "POST" if "POST" in rule.methods else "GET"
        response = client.open(path, method=method, json={})
        if rule.endpoint == "erp_api.openapi_document":
            assert response.status_code == 200
        else:
            assert (response.status_code, response.is_json) == (401, True), path


def test_anonymous_dashboard_redirects_to_help(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/help")


def test_insights_require_sign_in(client):
    response = client.get("/help/insights")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_insights_from_htmx_redirect_with_header(client):
    response = client.get("/help/insights", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert "/login" in response.headers["HX-Redirect"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.VIEWER])
def test_signed_in_pages_are_not_cached(client, factory, login, role):
    login(factory.user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/help/no-such-article")
    assert response.status_code == 404
    assert "could not find that page" in response.get_data(as_text=True)


def test_404_fragment_for_htmx(client):
    response = client.get("/help/no-such-article", headers={"HX-Request": "true"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "<html" not in body and "error-box" in body


def test_unexpected_error_is_a_500_page_that_changes_nothing(app, client, monkeypatch):
    def boom():
        raise RuntimeError("boom")

    boom.is_public = True
    monkeypatch.setitem(app.view_functions, "health.healthz", boom)
    response = client.get("/healthz")
    assert response.status_code == 500
    assert "Nothing was changed" in response.get_data(as_text=True)


def test_production_refuses_the_development_secret_key(search_index_dir):
    from app import create_app
    from app.config import DEVELOPMENT_SECRET_KEY, Config

    production = type(
        "Production",
        (Config,),
        {"SECRET_KEY": DEVELOPMENT_SECRET_KEY, "SEARCH_INDEX_DIR": search_index_dir},
    )
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(production)


# --- security headers, each on its own so that dropping one is noticed ---------------------

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
CSP_DIRECTIVES = {
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "form-action 'self'", "base-uri 'none'",
    "object-src 'none'", "frame-ancestors 'none'",
}


@pytest.mark.parametrize(("header", "value"), HEADERS.items())
@pytest.mark.parametrize("path", ["/help", "/login", "/no-such-page", "/static/css/portal.css"])
def test_every_response_carries_each_security_header(client, path, header, value):
    with client.get(path) as response:
        assert response.headers.get(header) == value


def test_the_content_security_policy_directive_by_directive(client):
    csp = client.get("/help").headers["Content-Security-Policy"]
    assert {part.strip() for part in csp.split(";")} == CSP_DIRECTIVES


@pytest.mark.parametrize(("secure", "hsts"), [
    (True, "max-age=31536000; includeSubDomains"),  # production: cookies only over HTTPS
    (False, None),                                  # local development over plain HTTP
])
def test_hsts_only_where_cookies_are_secure(app, client, monkeypatch, secure, hsts):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", secure)
    assert client.get("/help").headers.get("Strict-Transport-Security") == hsts


def test_static_files_are_not_marked_private_or_varying(client, factory, login):
    login(factory.user())
    with client.get("/static/css/portal.css") as response:
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != "no-store"
        assert "HX-Request" not in response.headers.get("Vary", "")
    page = client.get("/help")
    assert page.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in [part.strip() for part in page.headers["Vary"].split(",")]


def test_anonymous_pages_may_be_cached(client):
    assert client.get("/help").headers.get("Cache-Control") != "no-store"


def test_sign_in_redirect_keeps_the_page_asked_for(client):
    response = client.get("/billing/invoices?status=open")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/billing/invoices?status%3Dopen"
    htmx = client.get("/billing/invoices?status=open", headers={"HX-Request": "true"})
    assert (htmx.status_code, htmx.headers["HX-Redirect"]) == (
        401, "/login?next=/billing/invoices?status%3Dopen")


def test_staff_have_no_reseller_account_pages(client, factory, login):
    login(factory.user(Role.STAFF))
    assert client.get("/billing/invoices").status_code == 403


# --- the web helpers on their own -------------------------------------------------------------

@pytest.mark.parametrize(("headers", "fragment"), [
    ({}, False),
    ({"HX-Request": "true"}, True),
    ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),  # a whole page
])
def test_is_fragment_request(app, headers, fragment):
    with app.test_request_context("/help", headers=headers):
        assert web.is_fragment_request() is fragment


@pytest.mark.parametrize(("headers", "status", "header", "location"), [
    ({}, 303, "Location", "/help/x#feedback"),
    ({"HX-Request": "true"}, 204, "HX-Redirect", "/help/x#feedback"),
])
def test_htmx_redirect(app, headers, status, header, location):
    with app.test_request_context("/help", headers=headers):
        response = web.htmx_redirect("/help/x#feedback")
    assert (response.status_code, response.headers[header]) == (status, location)


def test_send_download(app):
    with app.test_request_context("/"):
        response = web.send_download("a,b\n", filename="INV-2026-000001.csv",
                                     mimetype="text/csv")
    assert response.mimetype == "text/csv" and response.get_data(as_text=True) == "a,b\n"
    assert response.headers["Content-Disposition"] == 'attachment; filename="INV-2026-000001.csv"'


def test_roles_required_refuses_the_anonymous_and_other_roles(app, factory):
    from flask_login import login_user
    from werkzeug.exceptions import Forbidden

    view = web.roles_required(Role.STAFF, Role.ADMIN)(lambda: "ok")
    with app.test_request_context("/"), pytest.raises(Forbidden):
        view()
    for role, allowed in ((Role.STAFF, True), (Role.ADMIN, True), (Role.VIEWER, False)):
        user = factory.user(role)
        with app.test_request_context("/"):
            login_user(user)
            if allowed:
                assert view() == "ok"
            else:
                with pytest.raises(Forbidden):
                    view()


@pytest.mark.parametrize(("role", "status"), [(Role.STAFF, 200), (Role.ADMIN, 403),
                                              (Role.VIEWER, 403)])
def test_insights_are_for_staff_only(client, factory, login, role, status):
    login(factory.user(role))
    assert client.get("/help/insights").status_code == status


def test_static_files_need_no_sign_in(client):
    with client.get("/static/css/portal.css") as response:
        assert response.status_code == 200 and response.mimetype == "text/css"
