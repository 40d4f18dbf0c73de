"""An invoice's end-customer lines with keys that are not whole numbers: 404, never a 500."""

import pytest

from app.accounts.models import Role

HX = {"HX-Request": "true"}
BAD_KEYS = ["²", "٣", "１２", "99999999999999999999999", "2147483648", "-1", "1.0", "%00"]


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("headers", [{}, HX])
def test_a_bad_customer_key_is_not_found(client, login, tenant, key, headers):
    login(tenant.users[Role.VIEWER])
    number = tenant.invoice.number
    for url in [f"/billing/invoices/{number}?expand={key}",
                f"/billing/invoices/{number}/customers/{key}"]:
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
        assert "could not find that page" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["²", "٣", "99999999999999999999999", "-5"])
def test_a_bad_history_page_shows_the_first(client, login, tenant, page):
    login(tenant.users[Role.ADMIN])
    response = client.get("/billing/history", query_string={"page": page})
    assert response.status_code == 200


@pytest.mark.parametrize("page", ["٣", "１２", "99999999999999999999999"])
def test_a_bad_invoice_list_page_is_a_field_error(client, login, tenant, page):
    login(tenant.users[Role.ADMIN])
    response = client.get("/billing/invoices", query_string={"page": page})
    assert response.status_code == 200
    assert tenant.invoice.number in response.get_data(as_text=True)
