"""Adding a card: the portal begins a card setup, the browser enters the card on the sandbox
gateway's hosted page (public, nothing of the portal's account on it), comes back, and the
card is kept; only the user who began the setup, in their session, can finish it."""

import re
from datetime import timedelta
from html import escape
from urllib.parse import parse_qs, urlsplit

import pytest
from limits import parse
from sqlalchemy import func, select

from app.accounts.models import Role, utcnow
from app.extensions import db
from app.payments.gateways import get_gateway
from app.payments.gateways.hosted_pages import CARD_PAGE_SETUP_LIMIT, EXPIRY_MESSAGE
from app.payments.gateways.sandbox import TEST_CARDS
from app.payments.gateways.sandbox_models import CardBehaviour, SandboxCard, SandboxCardSetup
from app.payments.models import PaymentMethod
from tests.payments.method_helpers import (
    HX,
    MANAGERS,
    field_error,
    input_tag,
    input_value,
    make_tenants,
    text,
)

NEW_CARD = "/billing/payment-methods/new/card"
RETURN = "/billing/payment-methods/new/card/return"
GOOD = {"number": "5555 5555 5555 4444", "expiry": "11/33", "cvc": "321"}


@pytest.fixture
def tenants(factory):
    return make_tenants(factory)


def begin(client) -> str:
    """Begin a card setup from the portal; the hosted page's path."""
    response = client.post(NEW_CARD)
    assert response.status_code == 303, response.status_code
    return response.headers["Location"]


def reference_of(page: str) -> str:
    return page.rsplit("/", 1)[1]


def cards() -> list[PaymentMethod]:
    db.session.expire_all()
    return list(db.session.scalars(select(PaymentMethod).order_by(PaymentMethod.id)))


def setup_row(reference: str) -> SandboxCardSetup:
    db.session.expire_all()
    return db.session.scalar(select(SandboxCardSetup).where(
        SandboxCardSetup.reference == reference))


def flashes(body: str) -> list[str]:
    return re.findall(r'<p class="notice notice--\w+"[^>]*>(.*?)</p>', body, re.S)


@pytest.mark.parametrize("role", MANAGERS)
def test_a_card_is_added_through_the_gateways_page(client, login, tenants, role):
    user = tenants.users[role]
    login(user)
    explained = text(client.get(NEW_CARD))
    assert "You enter the card on the payment gateway's secure page" in explained
    assert ">Continue to the secure card page</button>" in explained

    page = begin(client)
    assert re.fullmatch(r"/sandbox/gateway/cards/cs_[0-9a-f]{24}", page)
    reference = reference_of(page)
    assert setup_row(reference).return_url == f"http://localhost{RETURN}"
    assert setup_row(reference).customer == tenants.account.number

    response = client.post(page, data=GOOD)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{RETURN}?reference={reference}"
    response = client.get(response.headers["Location"])
    assert response.status_code == 303
    assert response.headers["Location"] == "/billing/payment-methods"
    listing = text(client.get("/billing/payment-methods"))
    assert "Mastercard •••• 4444 was added." in flashes(listing)
    added = cards()[-1]
    assert (added.account_id, added.label, added.brand, added.last4, added.exp_month,
            added.exp_year, added.created_by_id, added.is_default) == (
        tenants.account.id, "Mastercard •••• 4444", "Mastercard", "4444", 11, 2033, user.id,
        False)
    assert f'id="method-{added.id}"' in listing and "11/2033" in listing


def test_the_first_card_becomes_the_default(client, login, factory):
    account = factory.account()
    login(factory.user(Role.BILLING, account=account))
    page = begin(client)
    back = client.post(page, data=GOOD).headers["Location"]
    client.get(back)
    assert "Mastercard •••• 4444 was added. It is your default payment method." in flashes(
        text(client.get("/billing/payment-methods")))
    assert cards()[-1].is_default


def test_htmx_goes_to_the_gateway_by_a_full_page_load(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    response = client.post(NEW_CARD, headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/sandbox/gateway/cards/cs_")


def test_the_hosted_page_is_the_gateways_own(client, login, tenants):
    user = tenants.users[Role.ADMIN]
    login(user)
    response = client.get(begin(client))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = text(response)
    assert "Sandbox payment gateway" in body and "Test mode" in body
    for number in TEST_CARDS:
        spaced = " ".join(number[i:i + 4] for i in range(0, 16, 4))
        assert f"<code>{spaced}</code>" in body
    assert "4000 0000 0000 0002</code></td><td>Payments are declined" in body
    assert "4000 0000 0000 9995</code></td><td>Payments fail for insufficient funds" in body
    assert "4242 4242 4242 4242</code></td><td>Payments succeed" in body
    for field_id, label in [("number", "Card number"), ("expiry", "Expiry date"),
                            ("cvc", "Security code (CVC)")]:
        assert f'<label class="field__label" for="{field_id}">{label}</label>' in body
    assert ">Add card</button>" in body
    # Nothing of the portal's account: no name, number, user, navigation or sign-out.
    for private in (tenants.account.legal_name, escape(tenants.account.legal_name),
                    tenants.account.number, user.email, user.name, "Sign out"):
        assert private not in body, private
    assert body.count("/billing/") == 1  # the cancel link back to the portal only


def test_the_hosted_page_needs_no_sign_in(client, login, tenants, app):
    login(tenants.users[Role.ADMIN])
    page = begin(client)
    anonymous = app.test_client()
    assert anonymous.get(page).status_code == 200
    body = text(anonymous.get(page))
    response = anonymous.post(page, data=GOOD)
    assert response.status_code == 303, field_error(body, "number")
    # The browser that began it comes back and keeps the card.
    assert client.get(response.headers["Location"]).status_code == 303
    assert cards()[-1].label == "Mastercard •••• 4444"


@pytest.mark.parametrize("field, value, message", [
    ("number", "4242 4242 4242 4241",
     "This card number is not valid. Check it and enter it again."),
    ("number", "4242", "Enter the card number: 12 to 19 digits."),
    ("number", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "Enter the card number: 12 to 19 digits."),
    ("number", "", "Enter the card number."),
    ("expiry", "13/30", "Enter the expiry month: 1 to 12."),
    ("expiry", "01/20", "This card has expired."),
    ("expiry", "12/99", "Check the expiry year."),
    ("expiry", "soon", EXPIRY_MESSAGE),
    ("expiry", "", EXPIRY_MESSAGE),
    ("cvc", "12", "Enter the 3-digit security code from the card."),
    ("cvc", "１２３", "Enter the 3-digit security code from the card."),
    ("cvc", "", "Enter the security code from the card."),
])
def test_mistakes_are_shown_next_to_the_field_and_the_cvc_is_never_sent_back(
        client, login, tenants, field, value, message):
    login(tenants.users[Role.ADMIN])
    page = begin(client)
    data = {**GOOD, field: value}
    response = client.post(page, data=data)
    assert response.status_code == 422
    body = text(response)
    assert field_error(body, field) == message
    assert 'aria-invalid="true"' in input_tag(body, field)
    assert input_value(body, "cvc") == ""
    if field != "number":
        assert input_value(body, "number") == GOOD["number"]
    assert setup_row(reference_of(page)).card is None
    assert db.session.scalar(select(func.count()).select_from(SandboxCard)) == 2


def test_an_american_express_card_needs_four_digits(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    page = begin(client)
    response = client.post(page, data={**GOOD, "number": "3782 822463 10005", "cvc": "123"})
    assert field_error(text(response), "cvc") == "Enter the 4-digit security code from the card."
    response = client.post(page, data={**GOOD, "number": "3782 822463 10005", "cvc": "1234"})
    assert response.status_code == 303


@pytest.mark.parametrize("number, behaviour", list(TEST_CARDS.items()))
def test_each_test_card_is_kept_with_its_behaviour(client, login, tenants, number, behaviour):
    login(tenants.users[Role.ADMIN])
    page = begin(client)
    client.get(client.post(page, data={**GOOD, "number": number}).headers["Location"])
    card = db.session.scalar(select(SandboxCard).where(SandboxCard.token == cards()[-1]
                                                       .gateway_reference))
    assert (card.last4, card.behaviour) == (number[-4:], behaviour)
    assert behaviour in CardBehaviour


def test_unknown_used_and_expired_card_forms_get_a_clear_page(client, login, tenants):
    user = tenants.users[Role.ADMIN]
    login(user)
    response = client.get("/sandbox/gateway/cards/cs_unknown")
    assert response.status_code == 409
    assert "This card form is not known. Start adding the card again." in text(response)
    assert "Sign out" not in text(response) and user.email not in text(response)

    used = begin(client)
    client.post(used, data=GOOD)
    for method in ("GET", "POST"):
        response = client.open(used, method=method, data=GOOD)
        assert response.status_code == 409
        assert "A card was entered in this form already." in text(response)

    late = begin(client)
    row = setup_row(reference_of(late))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.post(late, data=GOOD)
    assert response.status_code == 409
    assert "This card form has expired. Start adding the card again." in text(response)
    assert setup_row(reference_of(late)).card is None


@pytest.mark.parametrize("return_url", [
    "https://evil.example/steal", "//evil.example/steal", "javascript:alert(1)",
    "/\\evil.example", "http://localhost.evil.example/x", "relative/path",
])
def test_a_return_address_on_another_site_is_refused(client, login, tenants, return_url):
    login(tenants.users[Role.ADMIN])
    setup = get_gateway().begin_card_setup(customer=tenants.account.number,
                                           return_url=return_url)
    db.session.commit()
    page = f"/sandbox/gateway/cards/{setup.reference}"
    assert client.get(page).status_code == 400
    response = client.post(page, data=GOOD)
    assert response.status_code == 400
    assert "return address is not on this site" in text(response)
    assert setup_row(setup.reference).card is None


def test_a_reference_begun_by_someone_else_is_refused_on_return(client, login, tenants, app):
    login(tenants.users[Role.ADMIN])
    page = begin(client)
    back = client.post(page, data=GOOD).headers["Location"]
    before = len(cards())
    # Another tenant's admin, and another user of the same account, in their own browsers.
    for intruder in (tenants.other_admin, tenants.users[Role.BILLING]):
        other = app.test_client()
        assert other.post("/login", data={"email": intruder.email,
                                          "password": "correct-horse-battery-7"}).status_code == 303
        response = other.get(back)
        assert response.status_code == 404
        assert "This card form was not started in your session." in text(response)
    assert len(cards()) == before
    # The user who began it still finishes it, once.
    assert client.get(back).status_code == 303
    assert len(cards()) == before + 1
    assert client.get(back).status_code == 404
    assert len(cards()) == before + 1


@pytest.mark.parametrize("query", ["", "?reference=", "?reference=cs_nothing",
                                   "?reference=%00", "?reference=" + "x" * 5000])
def test_a_return_without_a_setup_of_this_session_is_refused(client, login, tenants, query):
    login(tenants.users[Role.ADMIN])
    begin(client)
    assert client.get(RETURN + query).status_code == 404


def test_signing_in_again_forgets_the_setups_begun_before(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    page = begin(client)
    back = client.post(page, data=GOOD).headers["Location"]
    client.post("/logout")
    login(tenants.users[Role.ADMIN])
    assert client.get(back).status_code == 404


def test_cancel_goes_back_with_no_card(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    body = text(client.get(begin(client)))
    cancel = re.search(r'href="([^"]+)">Cancel and go back', body).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(cancel).query)["cancelled"] == ["1"]
    before = len(cards())
    response = client.get(cancel)
    assert response.status_code == 303
    assert "No card was added." in flashes(text(client.get("/billing/payment-methods")))
    assert len(cards()) == before


def test_the_hosted_page_limits_card_attempts(client, login, tenants):
    user = tenants.users[Role.ADMIN]
    login(user)
    page = begin(client)
    attempts = parse(CARD_PAGE_SETUP_LIMIT).amount
    for _ in range(attempts):
        assert client.post(page, data={**GOOD, "number": "4000 0000 0000 0001"}) \
            .status_code == 422
    response = client.post(page, data=GOOD)
    assert response.status_code == 429
    body = text(response)
    assert "Too many card attempts." in body and "Sandbox payment gateway" in body
    assert user.email not in body and "Sign out" not in body
    assert setup_row(reference_of(page)).card is None
    # Another card form from the same address is not held back by this one's count.
    assert client.post(begin(client), data=GOOD).status_code == 303


def test_the_hosted_page_refuses_a_form_without_its_csrf_token(tmp_path):
    """With CSRF protection on, as in production: the gateway's page shows its own error."""
    from tests.accounts.test_ratelimit_storage import migrated_portal

    portal = migrated_portal(tmp_path, WTF_CSRF_ENABLED=True)
    try:
        with portal.app_context():
            setup = get_gateway().begin_card_setup(customer="R-1", return_url="/billing")
            db.session.commit()
        client = portal.test_client()
        page = f"/sandbox/gateway/cards/{setup.reference}"
        response = client.post(page, data=GOOD)
        assert response.status_code == 400
        body = text(response)
        assert "Go back to the Partner Portal and start adding the card again." in body
        assert "Sandbox payment gateway" in body
        token = input_value(text(client.get(page)), "csrf_token")
        response = client.post(page, data={**GOOD, "csrf_token": token})
        assert response.status_code == 303
    finally:
        with portal.app_context():
            db.engine.dispose()
