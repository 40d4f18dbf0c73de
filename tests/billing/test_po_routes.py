"""The PO numbers page, /billing/po-numbers: every role, anonymous readers, a second tenant,
page and htmx fragment, refused input, and the navigation and help that lead to it."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import EndCustomer, PurchaseOrderNumber
from app.billing.rating import Period
from app.extensions import db

URL = "/billing/po-numbers"
HX = {"HX-Request": "true"}
EDITORS = [Role.ADMIN, Role.BILLING]


@pytest.fixture
def customers(tenant):
    """An end customer of each tenant."""
    mine = services.create_end_customer(tenant.account.id, "Adatum")
    theirs = services.create_end_customer(tenant.other_account.id, "Their Customer")
    db.session.commit()
    return mine, theirs


def entry(customer="account", number="PO-4500012345", effective_from=None) -> dict:
    return {"end_customer": str(customer), "po_number": number,
            "effective_from": (effective_from or date.today()).isoformat()}


def saved() -> list[tuple]:
    return db.session.execute(select(PurchaseOrderNumber.account_id,
                                     PurchaseOrderNumber.end_customer_id,
                                     PurchaseOrderNumber.number)
                              .order_by(PurchaseOrderNumber.id)).all()


@pytest.mark.parametrize("role", EDITORS)
def test_editors_set_an_account_and_an_end_customer_po_number(client, login, tenant, customers,
                                                              role):
    login(tenant.users[role])
    mine, _ = customers
    response = client.post(URL, data=entry())
    assert response.status_code == 303 and response.headers["Location"] == URL
    page = client.get(URL)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    body = page.get_data(as_text=True)
    assert "PO number PO-4500012345 applies to the whole account from" in body
    later = date.today() + timedelta(days=40)
    response = client.post(URL, data=entry(mine.id, "  ADATUM-7 ", later), headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and "ADATUM-7 applies to Adatum from" in fragment
    assert saved() == [(tenant.account.id, None, "PO-4500012345"),
                       (tenant.account.id, mine.id, "ADATUM-7")]
    # The list shows Adatum's number as scheduled, not as today's.
    row = re.search(r"<tr role=\"row\">\s*<td class=\"cell-title\" role=\"cell\">Adatum</td>"
                    r"(.*?)</tr>", fragment, re.S).group(1)
    assert "None" in row.split("Scheduled")[0] and "ADATUM-7" in row


def test_viewers_read_the_page_but_cannot_set(client, login, tenant, customers):
    login(tenant.users[Role.VIEWER])
    body = client.get(URL).get_data(as_text=True)
    assert "Current and scheduled PO numbers" in body
    assert "Save PO number" not in body and "Only an admin or billing user" in body
    for headers in ({}, HX):
        response = client.post(URL, data=entry(), headers=headers)
        assert response.status_code == 403
        assert "Only an admin or billing user of your account can set PO numbers." in \
            response.get_data(as_text=True)
    assert saved() == []


def test_staff_have_no_po_numbers_page(client, login, tenant):
    login(tenant.staff)
    assert client.get(URL).status_code == 403
    assert client.get(URL, headers=HX).status_code == 403
    assert client.post(URL, data=entry()).status_code == 403
    assert saved() == []


def test_anonymous_readers_are_sent_to_sign_in(client, tenant):
    for method in (client.get, client.post):
        response = method(URL, data=entry()) if method == client.post else method(URL)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.get(URL, headers=HX)
    assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"]
    assert saved() == []


def test_the_second_tenant_sees_only_its_own_and_cannot_use_anothers_end_customer(
        client, login, tenant, customers):
    mine, theirs = customers
    login(tenant.users[Role.ADMIN])
    client.post(URL, data=entry(mine.id, "HOME-PO"))
    client.post("/logout")
    login(tenant.other_admin)
    body = client.get(URL).get_data(as_text=True)
    assert "HOME-PO" not in body and "Adatum" not in body and "Their Customer" in body
    for headers in ({}, HX):
        assert client.post(URL, data=entry(mine.id, "STOLEN"), headers=headers).status_code \
            == 404
    assert client.post(URL, data=entry(theirs.id, "THEIRS")).status_code == 303
    assert saved() == [(tenant.account.id, mine.id, "HOME-PO"),
                       (tenant.other_account.id, theirs.id, "THEIRS")]


def test_an_end_customer_that_does_not_exist_is_not_found(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    assert client.post(URL, data=entry(999999)).status_code == 404


@pytest.mark.parametrize("data, field, message", [
    (entry(number="x" * 41), "po_number", "at most 40 characters"),
    (entry(number="PO\u000717"), "po_number", "control characters"),
    (entry(number=""), "po_number", "There is no PO number to end from that date."),
    ({**entry(), "effective_from": "2026-02-30"}, "effective_from", "Enter a real date"),
    ({**entry(), "effective_from": ""}, "effective_from", "Enter the date the PO number"),
    (entry(effective_from=date.today().replace(day=1) - timedelta(days=1)), "effective_from",
     "invoices already issued keep the PO number"),
    (entry(effective_from=date.today() + timedelta(days=3 * 366)), "effective_from",
     "years ahead"),
    (entry(customer="adatum"), "end_customer", "Choose the whole account or one of your"),
    ({"po_number": "PO-1", "effective_from": date.today().isoformat()}, "end_customer",
     "Choose the whole account or an end customer."),
])
def test_refused_input_is_a_422_with_the_message_beside_the_field_and_keeps_what_was_typed(
        client, login, tenant, data, field, message):
    login(tenant.users[Role.BILLING])
    for headers in ({}, HX):
        response = client.post(URL, data=data, headers=headers)
        assert response.status_code == 422
        body = response.get_data(as_text=True)
        assert ("<html" in body) == (headers == {})
        error = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', body, re.S)
        assert error and message in error.group(1).replace("&#39;", "'")
        typed = data.get("po_number", "")
        if typed and typed.isprintable():
            assert f'value="{typed}"' in body
    assert saved() == []


def test_the_page_is_in_the_billing_navigation_after_credit_with_help(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    body = client.get(URL).get_data(as_text=True)
    sub_nav = re.search(r'<nav class="sub-nav" aria-label="Billing">(.*?)</nav>', body,
                        re.S).group(1)
    labels = re.findall(r">([^<]+)</a>", sub_nav)
    assert labels == ["Invoices", "History", "Statement", "Payments", "Payment methods",
                      "Credit", "PO numbers"]
    assert f'href="{URL}" aria-current="page"' in sub_nav
    help_box = body.split("Help for this page")[1]
    assert "/help/purchase-order-numbers" in help_box


def test_the_fragment_for_htmx_is_the_page_content(client, login, tenant):
    login(tenant.users[Role.ADMIN])
    fragment = client.get(URL, headers=HX)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "Set a PO number" in body


def test_the_invoice_page_shows_the_po_numbers_it_was_issued_with(client, login, tenant):
    """The tenant's March invoice was issued before any PO number and shows none; April's,
    issued after, shows the account's in its details and the end customer's in its group."""
    customer = db.session.scalar(select(EndCustomer).where(
        EndCustomer.account_id == tenant.account.id, EndCustomer.name.like("Customer of %")))
    for end_customer_id, number in ((None, "ACC-PO-1"), (customer.id, "CUST-PO-2")):
        db.session.add(PurchaseOrderNumber(account_id=tenant.account.id, number=number,
                                           end_customer_id=end_customer_id,
                                           effective_from=date(2026, 3, 15)))
    db.session.commit()
    april = run_billing(Period.parse("2026-04"), account_ids=[tenant.account.id]).issued[0]
    login(tenant.users[Role.VIEWER])
    march = client.get(f"/billing/invoices/{tenant.invoice.number}").get_data(as_text=True)
    assert "PO-" not in march
    body = client.get(f"/billing/invoices/{april}").get_data(as_text=True)
    assert "<dt>PO number</dt><dd>ACC-PO-1</dd>" in body
    summary = body.split('id="summary-title"')[1].split('id="lines-title"')[0]
    assert re.search(rf"{customer.name}</a><br><span class=\"muted\">PO CUST-PO-2</span>",
                     summary)
    group = body.split(f'id="customer-{customer.id}"')[1].split("</summary>")[0]
    assert "PO CUST-PO-2 ·" in group
    listing = client.get("/billing/invoices?q=CUST-PO-2").get_data(as_text=True)
    assert april in listing and tenant.invoice.number not in listing
