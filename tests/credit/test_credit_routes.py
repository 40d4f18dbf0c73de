"""The credit page (`/billing/credit`): every role, staff, a second tenant, page and htmx
fragment, CSRF, and amounts nobody should be able to break it with."""

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.accounts.models import Account, Role
from app.billing.models import Invoice
from app.credit.forms import (
    AMOUNT_MESSAGE,
    CENTS_MESSAGE,
    MORE_THAN_ZERO_MESSAGE,
    TOO_LARGE_MESSAGE,
)
from app.credit.services import AUTO_APPLY_CHANGED, apply_credit, credit_balance
from app.events.models import OutboxEvent
from app.extensions import db
from app.ledger.models import EntryKind, LedgerEntry
from app.payments.services import create_payment
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}
READERS = [Role.ADMIN, Role.BILLING, Role.VIEWER]
APPLIERS = [Role.ADMIN, Role.BILLING]
PAGE = "/billing/credit"
APPLY = "/billing/credit/apply"
TOTAL = "/billing/credit/apply/total"
AUTO_APPLY = "/billing/credit/auto-apply"


def reverse_url(number: str) -> str:
    return f"/billing/credit/invoices/{number}/reverse"


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def amounts_form(tenant, *amounts: str) -> dict:
    """The apply form as the page sends it: one row per open invoice, oldest first."""
    data = {}
    for index, (invoice, amount) in enumerate(zip(tenant.invoices, amounts, strict=False)):
        data[f"lines-{index}-number"] = invoice.number
        data[f"lines-{index}-amount"] = amount
    return data


def text(response) -> str:
    return response.get_data(as_text=True)


def credit_entries() -> int:
    return len(db.session.scalars(select(LedgerEntry.id).where(
        LedgerEntry.kind == EntryKind.CREDIT_APPLICATION)).all())


# Reading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_the_balance_and_ledger(client, login, tenant, role):
    login(tenant.users[role])
    response = client.get(PAGE)
    body = text(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]
    assert "<h1>Account credit</h1>" in body
    assert re.search(r'class="stat__value">\$50\.00<', body)
    assert f"Credit note {tenant.credit_note}" in body
    assert "Service credit for an outage" in body
    assert "In US dollars. Credit never expires." in body
    assert "Auto-apply" in body and "New invoices do not take credit" in body
    assert tenant.other_credit_note not in body and "CA$" not in body


@pytest.mark.parametrize(("role", "apply", "change_auto_apply"), [
    (Role.ADMIN, True, True),
    (Role.BILLING, True, False),
    (Role.VIEWER, False, False),
])
def test_each_role_gets_the_buttons_it_may_use(client, login, tenant, role, apply,
                                               change_auto_apply):
    apply_credit(tenant.invoices[0], Decimal("10.00"), on=date(2026, 4, 11))
    db.session.commit()
    login(tenant.users[role])
    body = text(client.get(PAGE))
    assert ('class="button button--primary">Apply credit<' in body) == apply
    assert ('name="lines-0-amount"' in body) == apply
    assert (">Reverse<" in body) == apply
    assert ("Turn auto-apply on</button>" in body) == change_auto_apply
    assert ("Only an admin of your account can change this setting." in body) \
        == (not change_auto_apply)
    # Everyone sees the credit on the invoice and its amount.
    assert tenant.invoices[0].number in body and "$10.00" in body


def test_the_ledger_fragment_for_htmx_and_its_pages(client, login, tenant):
    for day in range(1, 31):  # 30 applications of 1.00 and the credit note: 31 rows
        apply_credit(tenant.invoices[0], Decimal("1.00"), on=date(2026, 5, day))
    db.session.commit()
    login(tenant.users[Role.VIEWER])
    first = client.get(PAGE, headers=HX)
    body = text(first)
    assert first.status_code == 200 and "<html" not in body and "<h1>" not in body
    assert "Page 1 of 2" in body and body.count('<tr role="row">') == 1 + 25
    # Newest first: the last application, with the balance after it, heads the list.
    assert body.index("May 30, 2026") < body.index("May 6, 2026")
    assert re.search(r"May 30, 2026.*?\$20\.00</td>\s*</tr>", body, re.S)
    second = text(client.get(f"{PAGE}?page=2", headers=HX))
    assert "Page 2 of 2" in second and f"Credit note {tenant.credit_note}" in second
    assert second.count('<tr role="row">') == 1 + 6
    assert "Page 2 of 2" in text(client.get(f"{PAGE}?page=99", headers=HX))
    assert "Page 1 of 2" in text(client.get(f"{PAGE}?page=%D9%A3", headers=HX))
    whole = text(client.get(f"{PAGE}?page=2"))
    assert "<h1>Account credit</h1>" in whole and "Page 2 of 2" in whole


def test_an_account_without_credit_sees_the_empty_states(client, login, factory):
    login(factory.user(Role.ADMIN))
    body = text(client.get(PAGE))
    assert "No credit yet." in body
    assert "You have no credit to apply." in body
    assert "No unpaid invoice has credit on it." in body
    assert 'class="stat__value">$0.00<' in body


# Who may not ----------------------------------------------------------------------------------


def test_staff_have_no_credit_page(client, login, tenant):
    login(tenant.staff)
    number = tenant.invoices[0].number
    assert client.get(PAGE).status_code == 403
    assert client.get(PAGE, headers=HX).status_code == 403
    assert client.get(TOTAL, headers=HX).status_code == 403
    for url, data in [(APPLY, amounts_form(tenant, "5.00")), (AUTO_APPLY, {"auto_apply": "on"}),
                      (reverse_url(number), {})]:
        assert client.post(url, data=data).status_code == 403, url
        assert client.post(url, data=data, headers=HX).status_code == 403, url


def test_anonymous_readers_are_sent_to_sign_in(client, tenant):
    for response in (client.get(PAGE), client.post(APPLY, data=amounts_form(tenant, "5.00"))):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(AUTO_APPLY, data={"auto_apply": "on"}, headers=HX).status_code == 401


def test_a_viewer_changes_nothing(client, login, tenant):
    apply_credit(tenant.invoices[0], Decimal("10.00"), on=date(2026, 4, 11))
    db.session.commit()
    login(tenant.users[Role.VIEWER])
    for headers in ({}, HX):
        assert client.post(APPLY, data=amounts_form(tenant, "5.00"),
                           headers=headers).status_code == 403
        assert client.post(AUTO_APPLY, data={"auto_apply": "on"},
                           headers=headers).status_code == 403
        assert client.post(reverse_url(tenant.invoices[0].number),
                           headers=headers).status_code == 403
        assert client.get(TOTAL, headers={**headers, **HX}).status_code == 403
    assert credit_balance(fresh(Account, tenant.account.id)) == Decimal("40.00")
    assert not fresh(Account, tenant.account.id).auto_apply_credit


def test_only_an_admin_turns_auto_apply_on_or_off(client, login, tenant):
    login(tenant.users[Role.BILLING])
    for headers in ({}, HX):
        assert client.post(AUTO_APPLY, data={"auto_apply": "on"},
                           headers=headers).status_code == 403
    assert not fresh(Account, tenant.account.id).auto_apply_credit
    assert db.session.scalar(select(OutboxEvent.id).where(
        OutboxEvent.event_type == AUTO_APPLY_CHANGED)) is None


# A second tenant ------------------------------------------------------------------------------


def test_a_second_tenant_sees_only_its_own_credit(client, login, tenant):
    login(tenant.other_admin)
    body = text(client.get(PAGE))
    assert 'class="stat__value">CA$20.00<' in body
    assert "In Canadian dollars." in body
    assert tenant.other_credit_note in body
    for secret in (tenant.credit_note, tenant.invoices[0].number, "Home Reseller Credit Co",
                   "Service credit for an outage", "$50.00"):
        assert secret not in body
        assert secret not in text(client.get(PAGE, headers=HX))


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_second_tenant_cannot_touch_the_first_tenants_invoices(client, login, tenant, headers):
    apply_credit(tenant.invoices[0], Decimal("10.00"), on=date(2026, 4, 11))
    db.session.commit()
    login(tenant.other_admin)
    number = tenant.invoices[1].number
    applied = client.post(APPLY, data={"lines-0-number": number, "lines-0-amount": "5.00"},
                          headers=headers)
    assert applied.status_code == 404 and number not in text(applied)
    reversed_ = client.post(reverse_url(tenant.invoices[0].number), headers=headers)
    assert reversed_.status_code == 404 and tenant.invoices[0].number not in text(reversed_)
    # Their own invoice together with the first tenant's: still nothing applied.
    mixed = {"lines-0-number": tenant.other_invoices[0].number, "lines-0-amount": "1.00",
             "lines-1-number": number, "lines-1-amount": "1.00"}
    assert client.post(APPLY, data=mixed, headers=headers).status_code == 404
    assert credit_entries() == 1
    assert fresh(Invoice, tenant.invoices[0].id).credit_applied == Decimal("10.00")


# Applying credit ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPLIERS)
def test_admin_and_billing_apply_credit_to_chosen_invoices(client, login, tenant, role):
    login(tenant.users[role])
    response = client.post(APPLY, data=amounts_form(tenant, "12.50", "30"))
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    march, april = (fresh(Invoice, invoice.id) for invoice in tenant.invoices)
    assert (march.credit_applied, april.credit_applied) == (Decimal("12.50"), Decimal("30.00"))
    body = text(client.get(PAGE))
    assert "$42.50 of credit applied to 2 invoices." in body
    assert re.search(r'class="stat__value">\$7\.50<', body)
    link = f'<a class="nowrap-ref" href="/billing/invoices/{march.number}">{march.number}</a>'
    assert f"Applied to {link}" in body
    assert f"From Credit note {tenant.credit_note}" in body


def test_applying_credit_by_htmx_swaps_the_page_content(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    response = client.post(APPLY, data=amounts_form(tenant, "", "25.00"),
                           headers=HX)
    body = text(response)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#credit-page"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "<html" not in body and "data-focus-on-swap" in body
    assert "$25.00 of credit applied to 1 invoice." in body
    assert fresh(Invoice, tenant.invoices[1].id).credit_applied == Decimal("25.00")
    assert fresh(Invoice, tenant.invoices[0].id).credit_applied == 0


HOSTILE_AMOUNTS = [
    ("1e400", AMOUNT_MESSAGE),
    ("NaN", AMOUNT_MESSAGE),
    ("inf", AMOUNT_MESSAGE),
    ("Infinity", AMOUNT_MESSAGE),
    ("１２", AMOUNT_MESSAGE),
    ("٣", AMOUNT_MESSAGE),
    ("²", AMOUNT_MESSAGE),
    ("12,5", AMOUNT_MESSAGE),
    ("0x1F", AMOUNT_MESSAGE),
    ("$5", AMOUNT_MESSAGE),
    ("5 00", AMOUNT_MESSAGE),
    ("a\x00b", AMOUNT_MESSAGE),
    (".", AMOUNT_MESSAGE),
    ("0", MORE_THAN_ZERO_MESSAGE),
    ("0.00", MORE_THAN_ZERO_MESSAGE),
    ("-5", MORE_THAN_ZERO_MESSAGE),
    ("-0.01", MORE_THAN_ZERO_MESSAGE),
    ("1.005", CENTS_MESSAGE),
    ("9" * 400, TOO_LARGE_MESSAGE),
    ("1" + "0" * 12, TOO_LARGE_MESSAGE),
    ("37.51", "That is more than the balance due of $37.50."),
    ("999999999999.99", "That is more than the balance due of $37.50."),
]


@pytest.mark.parametrize(("amount", "message"), HOSTILE_AMOUNTS)
@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_a_refused_amount_is_an_error_next_to_its_box(client, login, tenant, amount, message,
                                                      headers):
    login(tenant.users[Role.BILLING])
    response = client.post(APPLY, data=amounts_form(tenant, "5.00", amount), headers=headers)
    body = text(response)
    assert response.status_code == 422
    error = re.search(r'<p class="field__error" id="lines-1-amount-error">([^<]*)</p>', body)
    assert error and error.group(1) == message.replace("'", "&#39;")
    assert 'aria-invalid="true"' in body and 'id="lines-0-amount-error"' not in body
    # What was typed is still there, in both boxes.
    assert 'value="5.00"' in body
    if "\x00" not in amount:
        shown = amount.replace("&", "&amp;").replace('"', "&#34;")
        assert f'value="{shown}"' in body
    if headers:
        assert response.headers["HX-Retarget"] == "#apply-credit"
        assert "<html" not in body and body.lstrip().startswith("<section")
    else:
        assert "<h1>Account credit</h1>" in body
    assert credit_entries() == 0


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_more_than_the_credit_together_is_refused_beside_the_total(client, login, tenant,
                                                                   headers):
    login(tenant.users[Role.ADMIN])
    response = client.post(APPLY, data=amounts_form(tenant, "30.00", "20.01"), headers=headers)
    body = text(response)
    assert response.status_code == 422
    assert ("Together that is $50.01, more than your available credit of $50.00." in body)
    assert "$0.01 more than your credit" in body
    assert credit_entries() == 0


def test_no_amount_at_all_asks_for_one(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    response = client.post(APPLY, data=amounts_form(tenant, "", " "))
    assert response.status_code == 422
    assert "Enter the credit to apply to at least one invoice." in text(response)


@pytest.mark.parametrize("data", [
    {},
    {"lines-0-amount": "5.00"},
    {"lines-0-number": "", "lines-0-amount": "5.00"},
    {"lines-0-number": "INV-0000-000000", "lines-0-amount": "5.00"},
    {"lines-²-number": "x", "lines-²-amount": "5.00"},
    {"lines-99999999999999999999-amount": "5.00"},
], ids=["nothing", "no-number", "empty-number", "unknown", "odd-index", "huge-index"])
def test_a_tampered_apply_form_is_refused_without_a_crash(client, login, tenant, data):
    login(tenant.users[Role.ADMIN])
    assert client.post(APPLY, data=data).status_code in (404, 422)
    assert credit_entries() == 0


def test_an_invoice_paid_meanwhile_is_named_and_nothing_is_applied(client, login, tenant):
    march = tenant.invoices[0]
    create_payment(account_id=tenant.account.id, currency="USD", method_label="Visa",
                   allocations=[(march, march.balance_due)], received_on=date(2026, 4, 12))
    db.session.commit()
    login(tenant.users[Role.ADMIN])
    response = client.post(APPLY, data=amounts_form(tenant, "5.00", "5.00"))
    assert response.status_code == 422
    assert f"Invoice {march.number} is paid; it cannot take credit." in text(response)
    assert credit_entries() == 0


def test_the_running_total_follows_the_amounts(client, login, tenant):
    login(tenant.users[Role.BILLING])
    response = client.get(TOTAL, query_string=amounts_form(tenant, "12.50", "abc"), headers=HX)
    body = " ".join(text(response).split())
    assert response.status_code == 200
    assert "Total to apply <strong>$12.50</strong>" in body
    assert "credit left after <strong>$37.50</strong>" in body
    over = " ".join(text(client.get(TOTAL, query_string=amounts_form(tenant, "37.50", "13"),
                                    headers=HX)).split())
    assert "$0.50 more than your credit" in over
    plain = client.get(TOTAL)
    assert plain.status_code == 302 and plain.headers["Location"].endswith(PAGE)


# Reversing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPLIERS)
def test_admin_and_billing_reverse_the_credit_on_an_invoice(client, login, tenant, role):
    march = tenant.invoices[0]
    apply_credit(march, Decimal("10.00"), on=date(2026, 4, 11))
    apply_credit(march, Decimal("5.00"), on=date(2026, 4, 12))
    db.session.commit()
    login(tenant.users[role])
    body = text(client.get(PAGE))
    assert f"Reverse<span class=\"visually-hidden\"> $15.00 of credit on {march.number}" in body
    response = client.post(reverse_url(march.number))
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    assert fresh(Invoice, march.id).credit_applied == 0
    page = text(client.get(PAGE))
    assert f"$15.00 of credit taken off {march.number}. It is available again." in page
    link = f'<a class="nowrap-ref" href="/billing/invoices/{march.number}">'
    assert f"Credit taken off {link}" in page
    assert "No unpaid invoice has credit on it." in page


def test_reversing_by_htmx_swaps_the_page_content(client, login, tenant):
    march = tenant.invoices[0]
    apply_credit(march, Decimal("10.00"), on=date(2026, 4, 11))
    db.session.commit()
    login(tenant.users[Role.ADMIN])
    response = client.post(reverse_url(march.number), headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#credit-page"
    assert "$10.00 of credit taken off" in text(response) and "<html" not in text(response)


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_credit_on_an_invoice_with_a_payment_stays(client, login, tenant, headers):
    march = tenant.invoices[0]
    apply_credit(march, Decimal("10.00"), on=date(2026, 4, 11))
    create_payment(account_id=tenant.account.id, currency="USD", method_label="Visa",
                   allocations=[(march, Decimal("1.00"))], received_on=date(2026, 4, 12))
    db.session.commit()
    login(tenant.users[Role.ADMIN])
    assert ">Reverse<" not in text(client.get(PAGE))
    response = client.post(reverse_url(march.number), headers=headers)
    body = text(response)
    assert response.status_code == 409
    assert f"Invoice {march.number} has a payment on it; its credit stays applied." in body
    if headers:
        assert response.headers["HX-Retarget"] == "#credit-page" and "<html" not in body
    assert fresh(Invoice, march.id).credit_applied == Decimal("10.00")


def test_an_invoice_without_credit_has_nothing_to_reverse(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    response = client.post(reverse_url(tenant.invoices[1].number))
    assert response.status_code == 409
    assert f"Invoice {tenant.invoices[1].number} has no credit applied to it." in text(response)


# Auto-apply -----------------------------------------------------------------------------------


def test_an_admin_turns_auto_apply_on_and_off(client, login, tenant):
    admin = tenant.users[Role.ADMIN]
    login(admin)
    response = client.post(AUTO_APPLY, data={"auto_apply": "on"})
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    assert fresh(Account, tenant.account.id).auto_apply_credit
    body = text(client.get(PAGE))
    assert "Auto-apply is on." in body and "Turn auto-apply off</button>" in body
    assert f"Turned on by {admin.email} on " in body
    off = client.post(AUTO_APPLY, data={"auto_apply": "off"}, headers=HX)
    assert off.status_code == 200 and off.headers["HX-Retarget"] == "#credit-page"
    assert "Auto-apply is off." in text(off) and "Turn auto-apply on</button>" in text(off)
    assert not fresh(Account, tenant.account.id).auto_apply_credit
    payloads = [event.payload for event in db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == AUTO_APPLY_CHANGED)
        .order_by(OutboxEvent.id))]
    assert [(p["auto_apply"], p["changed_by"]) for p in payloads] == [
        (True, admin.email), (False, admin.email)]


@pytest.mark.parametrize("value", ["", "yes", "ON", "\x00", "on\x00"])
def test_an_odd_auto_apply_value_changes_nothing(client, login, tenant, value):
    login(tenant.users[Role.ADMIN])
    assert client.post(AUTO_APPLY, data={"auto_apply": value}).status_code == 400
    assert not fresh(Account, tenant.account.id).auto_apply_credit


# CSRF -----------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(app, client, monkeypatch):
    """The test client with CSRF protection on, as in production (the same database)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    return client


def test_every_change_needs_the_csrf_token(csrf_client, tenant):
    page = text(csrf_client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = csrf_client.post("/login", data={"email": tenant.users[Role.ADMIN].email,
                                                 "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 303
    apply_credit(tenant.invoices[0], Decimal("10.00"), on=date(2026, 4, 11))
    db.session.commit()
    number = tenant.invoices[0].number
    for url, data in [(APPLY, amounts_form(tenant, "5.00")), (AUTO_APPLY, {"auto_apply": "on"}),
                      (reverse_url(number), {})]:
        assert csrf_client.post(url, data=data).status_code == 400, url
    assert credit_entries() == 1 and not fresh(Account, tenant.account.id).auto_apply_credit
    body = text(csrf_client.get(PAGE))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)
    response = csrf_client.post(APPLY, data=amounts_form(tenant, "", "5.00"),
                                headers={"X-CSRFToken": token, **HX})
    assert response.status_code == 200
    assert fresh(Invoice, tenant.invoices[1].id).credit_applied == Decimal("5.00")


# SQL queries ----------------------------------------------------------------------------------


def test_the_page_makes_as_many_queries_for_a_long_history_as_for_none(client, login, tenant,
                                                                       factory, billing):
    """A new account, and one with 60 credit movements, 12 open invoices and credit on some:
    the same number of SQL statements, page and fragment."""
    from app.billing.engine import run_billing
    from app.billing.rating import Period
    from app.credit.services import issue_credit_note
    from tests.credit.conftest import invoices_of

    def count(url, **headers) -> int:
        statements = []

        def listen(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert client.get(url, headers=headers).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(statements)

    busy = billing.account(subscriptions=2, start=date(2026, 1, 1), auto_apply_credit=False)
    for month in range(1, 13):
        run_billing(Period.parse(f"2026-{month:02d}"), account_ids=[busy.id])
    issue_credit_note(busy, Decimal("500.00"), "Large credit", issue_date=date(2026, 1, 5))
    invoices = invoices_of(busy)
    for day in range(1, 30):
        apply_credit(invoices[day % 4], Decimal("1.00"), on=date(2026, 12, day))
    db.session.commit()
    quiet_admin = factory.user(Role.ADMIN)
    login(quiet_admin)
    quiet = (count(PAGE), count(PAGE, **HX))
    client.post("/logout")
    login(factory.user(Role.ADMIN, account=busy))
    assert (count(PAGE), count(PAGE, **HX)) == quiet


def test_the_apply_form_lists_the_oldest_fifty_open_invoices(client, login, billing, factory):
    from app.billing.engine import run_billing
    from app.billing.rating import Period
    from app.credit.overview import APPLY_FORM_INVOICES
    from app.credit.services import issue_credit_note
    from tests.credit.conftest import invoices_of

    account = billing.account(subscriptions=1, start=date(2021, 1, 1), auto_apply_credit=False)
    months = [date(2021 + n // 12, n % 12 + 1, 1) for n in range(APPLY_FORM_INVOICES + 1)]
    for month in months:
        run_billing(Period.parse(f"{month:%Y-%m}"), account_ids=[account.id])
    issue_credit_note(account, Decimal("5.00"), "Credit", issue_date=date(2026, 1, 2))
    db.session.commit()
    invoices = invoices_of(account)
    login(factory.user(Role.BILLING, account=account))
    body = text(client.get(PAGE))
    assert f"Only your {APPLY_FORM_INVOICES} oldest open invoices are listed." in body
    assert f'name="lines-{APPLY_FORM_INVOICES - 1}-amount"' in body
    assert f'name="lines-{APPLY_FORM_INVOICES}-amount"' not in body
    assert invoices[0].number in body and invoices[-1].number not in body
