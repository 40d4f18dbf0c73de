"""The dashboard `/` and its banner: every role, staff and anonymous, a second tenant, page and
htmx fragment, the dismiss POST (CSRF, per user), the HX-Trigger events the tiles listen for,
and a number of SQL queries that does not grow with the account."""

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.dashboard import services
from app.dashboard.models import BannerDismissal
from app.extensions import db
from app.formatting import money
from app.kb.articles import parse_article
from app.kb.services import get_library
from app.web import ACCOUNT_CHANGED, PAYMENT_MADE
from tests.billing.test_query_counts import counted, grow
from tests.conftest import PASSWORD, sign_in
from tests.dashboard.conftest import invoices_of
from tests.payments import gateway_factory

HX = {"HX-Request": "true"}
ARTICLE = Path(__file__).parents[2] / "content" / "articles" / "control-panel-changes.md"


def signed_in(client, user):
    client = client.application.test_client()
    assert sign_in(client, user).status_code == 303
    return client


def page(client, url="/", **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def tile(body: str, name: str) -> str:
    """The markup of the tile titled `name`."""
    match = re.search(rf'<section class="card tile[^"]*" aria-labelledby="tile-{name}-title">'
                      r'(.*?)</section>', body, re.S)
    assert match, name
    return match.group(1)


@pytest.mark.parametrize(("role", "pays"), [
    (Role.ADMIN, True), (Role.BILLING, True), (Role.VIEWER, False)])
def test_every_role_opens_on_money(client, tenant, role, pays):
    body = page(signed_in(client, tenant.users[role]))
    due = sum(i.balance_due for i in tenant.invoices)
    balance = tile(body, "balance")
    assert money(due, "USD") in balance
    assert ('href="/billing/pay"' in balance) is pays
    assert ">Pay</a>" in body if pays else ">Pay</a>" not in body
    assert 'href="/help/how-do-i-submit-a-payment-for-open-invoices"' in balance
    for name in ("credit", "next", "methods", "changes", "payments", "invoices"):
        assert "/help/" in tile(body, name)
    assert "What's changed in the control panel" in body
    # One help box: the page's own, not a second one saying the same.
    assert body.count("Help for this page") == 1 and "Getting help" not in body


def test_overdue_is_highlighted_and_the_tiles_link_to_their_pages(client, tenant):
    body = page(signed_in(client, tenant.users[Role.ADMIN]))
    overdue = [i for i in tenant.invoices if i.is_overdue(date.today())]
    assert overdue
    balance = tile(body, "balance")
    assert money(sum(i.balance_due for i in overdue), "USD") in balance
    assert 'href="/billing/invoices?status=overdue"' in balance
    assert "tile--alert" in body and "tile-list__row--overdue" in body
    assert 'href="/billing/credit"' in tile(body, "credit")
    assert 'href="/billing/payment-methods"' in tile(body, "methods")
    assert 'href="/account/changes"' in tile(body, "changes")
    for invoice in tenant.invoices:
        assert f'href="/billing/invoices/{invoice.number}"' in tile(body, "invoices")


def test_empty_states(client, factory):
    body = page(signed_in(client, factory.user(Role.ADMIN)))
    assert "No open invoices" in tile(body, "balance") and ">Pay</a>" not in body
    assert "No payment methods yet" in tile(body, "methods")
    assert "No change requests waiting" in tile(body, "changes")
    assert "No payments yet" in tile(body, "payments")
    assert "No invoices yet" in tile(body, "invoices")


def test_methods_in_order_say_so(client, tenant):
    gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    db.session.commit()
    body = page(signed_in(client, tenant.users[Role.VIEWER]))
    assert "All payment methods are in order." in tile(body, "methods")


def test_a_second_tenant_sees_only_its_own_figures(client, tenant):
    body = page(signed_in(client, tenant.other_admin))
    others = invoices_of(tenant.other)
    assert money(sum(i.balance_due for i in others), "CAD") in tile(body, "balance")
    assert "CA$20.00" in tile(body, "credit")
    assert "CA$5.00" in tile(body, "payments")
    for invoice in tenant.invoices:
        assert invoice.number not in body
    assert "Second Tenant Inc" in body and "Home Reseller" not in body


def test_staff_and_anonymous_are_sent_elsewhere(client, tenant):
    anonymous = client.get("/")
    assert anonymous.status_code == 302 and anonymous.headers["Location"] == "/help"
    staff = signed_in(client, tenant.staff).get("/")
    assert staff.status_code == 302 and staff.headers["Location"] == "/help/insights"


def test_the_fragment_is_the_tiles_that_listen_for_payments_and_changes(client, tenant):
    client = signed_in(client, tenant.users[Role.BILLING])
    response = client.get("/", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "<html" not in body and "What's changed" not in body
    assert re.search(r'<div id="dashboard-tiles"[^>]* hx-get="/"', body)
    assert f'hx-trigger="{PAYMENT_MADE} from:body, {ACCOUNT_CHANGED} from:body"' in body
    assert 'hx-swap="outerHTML"' in body
    assert money(sum(i.balance_due for i in tenant.invoices), "USD") in tile(body, "balance")
    # The full page includes the same fragment.
    assert 'hx-trigger="payment-made from:body, account-changed from:body"' in page(client)


def test_a_history_restore_gets_the_whole_page(client, tenant):
    client = signed_in(client, tenant.users[Role.ADMIN])
    body = page(client, headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in body


# The banner ------------------------------------------------------------------------------------


def test_dismissing_the_banner_without_javascript(client, tenant):
    admin = signed_in(client, tenant.users[Role.ADMIN])
    response = admin.post("/whats-changed/dismiss")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "What's changed in the control panel" not in page(admin)
    # Per user: the account's other users still see it.
    assert "What's changed in the control panel" in page(signed_in(client,
                                                                   tenant.users[Role.VIEWER]))


def test_dismissing_the_banner_by_htmx(client, tenant):
    viewer = signed_in(client, tenant.users[Role.VIEWER])
    body = page(viewer)
    assert 'hx-post="/whats-changed/dismiss" hx-target="#whats-changed"' in body
    response = viewer.post("/whats-changed/dismiss", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and 'role="status"' in fragment
    assert "data-focus-on-swap" in fragment and 'href="/help/control-panel-changes"' in fragment
    assert "What's changed in the control panel" not in page(viewer)


def test_a_newer_article_shows_the_banner_again(client, tenant, app, monkeypatch):
    user = tenant.users[Role.ADMIN]
    services.dismiss_banner(user.id, services.WHATS_CHANGED_SLUG, date.today() - timedelta(3))
    db.session.commit()
    library = get_library()
    current = library.get(services.WHATS_CHANGED_SLUG)
    monkeypatch.setattr(current, "updated", date.today() - timedelta(days=5))
    assert "What's changed in the control panel" not in page(signed_in(client, user))
    monkeypatch.setattr(current, "updated", date.today() - timedelta(days=1))
    assert "What's changed in the control panel" in page(signed_in(client, user))
    monkeypatch.setattr(current, "updated",
                        date.today() - timedelta(days=services.WHATS_CHANGED_DAYS + 1))
    assert "What's changed in the control panel" not in page(
        signed_in(client, tenant.users[Role.VIEWER]))


def test_staff_and_anonymous_cannot_dismiss(client, tenant):
    assert client.post("/whats-changed/dismiss").status_code == 302
    assert signed_in(client, tenant.staff).post("/whats-changed/dismiss").status_code == 403
    assert db.session.scalars(select(BannerDismissal)).all() == []


def test_the_dismiss_post_needs_its_csrf_token(client, tenant, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    user = tenant.users[Role.ADMIN]
    assert client.post("/login", data={"email": user.email, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 303
    body = page(client)
    assert client.post("/whats-changed/dismiss").status_code == 400
    assert client.post("/whats-changed/dismiss", headers=HX).status_code == 400
    assert db.session.scalars(select(BannerDismissal)).all() == []
    # The form carries its token, and htmx sends the page's token in a header.
    form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                           body.split('id="whats-changed"')[1]).group(1)
    assert client.post("/whats-changed/dismiss",
                       data={"csrf_token": form_token}).status_code == 303
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)
    response = client.post("/whats-changed/dismiss", headers={"X-CSRFToken": header_token, **HX})
    assert response.status_code == 200
    assert len(db.session.scalars(select(BannerDismissal)).all()) == 1


def test_the_article_states_the_dashboards_numbers():
    article = parse_article(ARTICLE)
    text = " ".join(article.body.split())
    assert f"for {services.WHATS_CHANGED_DAYS} days after the article was last updated" in text
    assert f"expires within {services.CARD_EXPIRY_WARNING_DAYS} days" in text
    assert f"{services.RECENT_COUNT} most recent payments" in text
    assert f"{services.RECENT_COUNT} most recent invoices" in text
    assert "dashboard.index" in article.pages


def test_every_tile_help_article_exists(app):
    with app.app_context():
        library = get_library()
        assert all(library.get(slug) for slug in services.TILE_HELP.values())


# HX-Trigger after a payment or a change ----------------------------------------------------------


def test_a_confirmed_payment_triggers_the_tiles(client, tenant):
    from tests.payments.test_pay_routes import form, start

    card = gateway_factory.card(tenant.account, tenant.users[Role.ADMIN])
    db.session.commit()
    client = signed_in(client, tenant.users[Role.BILLING])
    before = money(sum(i.balance_due for i in tenant.invoices), "USD")
    for headers in ({}, HX):
        key = start(client)
        data = form(key, tenant.invoices, {0: "10.00"}, method=card)
        assert client.post("/billing/pay/review", data=data).status_code == 303
        confirmed = client.post("/billing/pay/confirm", data={"draft": key}, headers=headers)
        assert confirmed.headers["HX-Trigger"] == PAYMENT_MADE
    fragment = page(client, headers=HX)
    assert before not in tile(fragment, "balance")
    due = sum(i.balance_due for i in invoices_of(tenant.account))
    assert money(due, "USD") in tile(fragment, "balance")


def test_submitting_and_cancelling_a_change_triggers_the_tiles(client, tenant):
    from app.accounts import services as account_services
    from app.accounts.models import UserSession
    from app.changes.models import ChangeType
    from tests.changes.conftest import draft_of

    admin = tenant.users[Role.ADMIN]
    admin.account.tax_id = "91-1144442"
    db.session.commit()
    draft = draft_of(ChangeType.ADDRESS, admin)
    client = signed_in(client, admin)
    token = db.session.scalar(select(UserSession.token).where(UserSession.user_id == admin.id))
    account_services.record_reauthentication(token)
    db.session.commit()
    submitted = client.post(f"/account/changes/{draft.id}/review", data={"confirm": "y"},
                            headers=HX)
    assert submitted.headers["HX-Redirect"] == f"/account/changes/{draft.id}"
    assert submitted.headers["HX-Trigger"] == ACCOUNT_CHANGED
    assert "Submitted" in tile(page(client, headers=HX), "changes")
    cancelled = client.post(f"/account/changes/{draft.id}/cancel", headers=HX)
    assert cancelled.headers["HX-Trigger"] == ACCOUNT_CHANGED
    assert "No change requests waiting" in tile(page(client, headers=HX), "changes")


# Queries per page --------------------------------------------------------------------------------


def queries(client) -> int:
    with counted(db.engine) as statements:
        assert client.get("/").status_code == 200
    return len(statements)


def test_the_dashboard_runs_a_bounded_number_of_queries(client, billing, factory):
    small = billing.account(subscriptions=1, start=date(2026, 1, 1))
    large = billing.account(subscriptions=1, start=date(2026, 1, 1))
    grow(billing, large, customers=3, subscriptions=10)
    for month in range(1, 11):
        run_billing(Period.parse(f"2026-{month:02d}"), account_ids=[large.id])
    run_billing(Period.parse("2026-01"), account_ids=[small.id])
    for account in (small, large):
        admin = factory.user(Role.ADMIN, account=account)
        card = gateway_factory.card(account, admin)
        for invoice in db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)):
            gateway_factory.pay(card, [(invoice, Decimal("1.00"))])
    db.session.commit()
    counts = []
    for account in (small, large):
        user = factory.user(Role.ADMIN, account=account)
        counts.append(queries(signed_in(client, user)))
    print("queries for the dashboard (small, large):", counts)
    assert counts[0] == counts[1]
    assert counts[1] <= 12
