"""Payment methods pages: the list, default and removal, adding a bank account (admin, after
confirming the password) and verifying it; every role, staff, a second tenant, page and
`HX-Request` fragment, CSRF, hostile input. The card flow is in test_method_card_flow.py."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.accounts.models import Role, UserSession
from app.extensions import db, limiter
from app.formatting import medium_date
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.gateways.base import BankAccountType, InvalidPaymentDetails
from app.payments.method_routes import ADMIN_ONLY_REASON
from app.payments.models import MethodStatus, PaymentMethod
from tests.conftest import (
    PASSWORD,
    Factory,
    IsolatedClient,
    _clear_tables,
    make_config,
)
from tests.payments.method_helpers import (
    BANK_NUMBER,
    HX,
    MANAGERS,
    READERS,
    RIGHT,
    add_bank,
    add_card,
    authorisation_on_page,
    bank_form,
    csrf_token,
    field_error,
    input_tag,
    input_value,
    make_tenants,
    reauthenticate,
    text,
)

LIST = "/billing/payment-methods"
NEW_ACH = "/billing/payment-methods/new/ach"
NEW_CARD = "/billing/payment-methods/new/card"


@pytest.fixture
def tenants(factory):
    return make_tenants(factory)


def verify_url(method_id: int) -> str:
    return f"/billing/payment-methods/{method_id}/verify"


def default_url(method_id: int) -> str:
    return f"/billing/payment-methods/{method_id}/default"


def remove_url(method_id: int) -> str:
    return f"/billing/payment-methods/{method_id}/remove"


def method_requests(method_id: int) -> list[tuple[str, str]]:
    return [("GET", verify_url(method_id)), ("POST", verify_url(method_id)),
            ("POST", default_url(method_id)), ("GET", remove_url(method_id)),
            ("POST", remove_url(method_id))]


def fresh(method: PaymentMethod) -> PaymentMethod:
    db.session.expire_all()
    return db.session.get(PaymentMethod, method.id)


def method_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(PaymentMethod))


def flashes(body: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip()
            for m in re.findall(r'<p class="notice notice--\w+"[^>]*>(.*?)</p>', body, re.S)]


# The list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_every_role_sees_its_accounts_methods_and_their_states(client, login, tenants, role):
    login(tenants.users[role])
    response = client.get(LIST)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.vary
    body = text(response)
    row = body.split(f'id="method-{tenants.card.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Visa •••• 4242" in row and "Default" in row and "12/2034" in row
    assert "Verified" in row and ">Card<" in row
    bank = tenants.bank
    row = body.split(f'id="method-{bank.id}"', 1)[1].split("</tr>", 1)[0]
    assert "ACH •••• 6789" in row and "Bank account (ACH)" in row
    assert "Waiting for verification" in row
    assert f"{methods.VERIFICATION_TRIES} tries left · verify by " \
           f"{medium_date(bank.verification_expires_on)}" in row
    assert "routing 110000000 · Checking" in row
    # The other tenant's card is not here.
    assert "Mastercard" not in body and "Maple Resale" not in body


def test_the_fragment_is_the_list_alone(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    page, fragment = text(client.get(LIST)), client.get(LIST, headers=HX)
    assert "<html" in page and '<section id="payment-methods"' in page
    assert fragment.status_code == 200 and "HX-Request" in fragment.vary
    body = text(fragment)
    assert "<html" not in body and "<h1" not in body
    assert f'id="method-{tenants.card.id}"' in body and f'id="method-{tenants.bank.id}"' in body


def actions(body: str) -> dict[str, bool]:
    return {
        "add card": f'href="{NEW_CARD}"' in body,
        "add bank account": f'href="{NEW_ACH}"' in body,
        "verify": "Verify<span" in body,
        "make default": "Make default" in body,
        "remove": "Remove<span" in body,
    }


@pytest.mark.parametrize("role, allowed", [
    (Role.ADMIN, {"add card", "add bank account", "verify", "remove"}),
    (Role.BILLING, {"add card", "verify", "remove"}),
    (Role.VIEWER, set()),
])
def test_actions_follow_the_role(client, login, tenants, role, allowed):
    login(tenants.users[role])
    body = text(client.get(LIST))
    assert {name for name, shown in actions(body).items() if shown} == allowed
    if role == Role.BILLING:
        assert "Only an admin of your account can add a bank account." in body
    if role == Role.VIEWER:
        assert "<form" not in body.split('id="payment-methods"', 1)[1]


def test_make_default_is_offered_for_a_usable_method_only(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    assert "Make default" not in text(client.get(LIST))  # the card is default, the bank waits
    methods.verify_bank_account(tenants.bank, tuple(map(methods.Decimal, RIGHT)),
                                today=date.today())
    db.session.commit()
    body = text(client.get(LIST))
    assert f'action="{default_url(tenants.bank.id)}"' in body
    assert f'action="{default_url(tenants.card.id)}"' not in body


def test_empty_state_links_to_adding_a_card_or_a_bank_account(client, login, factory):
    account = factory.account()
    admin, viewer = factory.user(Role.ADMIN, account=account), factory.user(Role.VIEWER,
                                                                              account=account)
    login(admin)
    body = text(client.get(LIST))
    assert "No payment methods yet." in body
    assert f'href="{NEW_CARD}"' in body and f'href="{NEW_ACH}"' in body
    assert "No payment methods yet." in text(client.get(LIST, headers=HX))
    client.post("/logout")
    login(viewer)
    body = text(client.get(LIST))
    assert "An admin or billing user of your account can add a card or a bank account." in body
    assert f'href="{NEW_CARD}"' not in body


def test_each_state_reads_in_plain_words(client, login, factory):
    account = factory.account()
    admin = factory.user(Role.ADMIN, account=account)
    today = date.today()
    locked = add_bank(account, admin, "000111111113")
    for _ in range(methods.VERIFICATION_TRIES):
        methods.verify_bank_account(locked, (methods.Decimal("0.01"), methods.Decimal("0.02")),
                                    today=today)
    overdue = add_bank(account, admin, "000111111116", today=today - timedelta(days=30))
    closed = add_bank(account, admin, "000222222227")
    methods.verify_bank_account(closed, tuple(map(methods.Decimal, RIGHT)), today=today)
    methods.disable_method(closed, "The bank account was closed (R02). Add another one.")
    old_card = add_card(account, admin, "5555555555554444")
    old_card.exp_year = today.year - 1
    db.session.commit()
    login(admin)
    body = text(client.get(LIST))

    def row(method):
        return re.sub(r"\s+", " ", body.split(f'id="method-{method.id}"', 1)[1]
                      .split("</tr>", 1)[0])

    assert "Locked" in row(locked) and methods.LOCKED_REASON in row(locked)
    assert "Add again" in row(locked)
    assert "Expired" in row(overdue) and methods.EXPIRED_REASON in row(overdue)
    assert "Verify<span" not in row(overdue)
    assert "Disabled" in row(closed) and "The bank account was closed (R02)." in row(closed)
    assert "Expired" in row(old_card) and "This card has expired." in row(old_card)
    assert f"12/{today.year - 1}" in row(old_card)


def test_a_cad_manager_is_told_why_there_is_no_bank_account_option(client, login, tenants):
    login(tenants.other_admin)
    body = text(client.get(LIST))
    assert methods.ACH_CURRENCY_REFUSAL.format(currency="CAD") in body.replace("&#39;", "'")
    assert f'href="{NEW_ACH}"' not in body
    assert "Mastercard •••• 4444" in body and "Visa •••• 4242" not in body


# Access ------------------------------------------------------------------------------------


def test_staff_have_no_payment_method_pages(client, login, tenants):
    login(tenants.staff)
    urls = [("GET", LIST), ("GET", NEW_CARD), ("POST", NEW_CARD), ("GET", NEW_ACH),
            ("POST", NEW_ACH), ("GET", NEW_CARD + "/return?reference=x"),
            *method_requests(tenants.card.id)]
    for method, url in urls:
        for headers in ({}, HX):
            assert client.open(url, method=method, headers=headers).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client, tenants):
    response = client.get(LIST)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = client.post(default_url(tenants.card.id), headers=HX)
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def test_a_second_tenant_gets_404_for_every_method_of_the_first(client, login, tenants):
    login(tenants.other_admin)
    for method_id in tenants.method_ids:
        for method, url in method_requests(method_id):
            for headers in ({}, HX):
                response = client.open(url, method=method, headers=headers,
                                       data={"first_deposit": RIGHT[0],
                                             "second_deposit": RIGHT[1]})
                assert response.status_code == 404, (method, url, headers)
                assert "Acme Widgets" not in text(response)
    bank, card = fresh(tenants.bank), fresh(tenants.card)
    assert (bank.status, bank.failed_verifications, bank.removed_at) == (
        MethodStatus.PENDING_VERIFICATION, 0, None)
    assert card.is_default and card.removed_at is None


@pytest.mark.parametrize("path", ["999999", "0", str(2**31 - 1)])
def test_an_unknown_method_is_not_found(client, login, tenants, path):
    login(tenants.users[Role.ADMIN])
    for method, url in method_requests(int(path)):
        assert client.open(url, method=method).status_code == 404, url


def test_a_viewer_changes_nothing(client, login, tenants):
    login(tenants.users[Role.VIEWER])
    for method, url in [("GET", NEW_CARD), ("POST", NEW_CARD), ("POST", NEW_ACH),
                        ("GET", NEW_ACH), ("GET", NEW_CARD + "/return?reference=x"),
                        *method_requests(tenants.card.id), *method_requests(tenants.bank.id)]:
        for headers in ({}, HX):
            response = client.open(url, method=method, headers=headers,
                                   data={"first_deposit": RIGHT[0], "second_deposit": RIGHT[1]})
            assert response.status_code == 403, (method, url)
    assert fresh(tenants.bank).status == MethodStatus.PENDING_VERIFICATION
    assert fresh(tenants.card).removed_at is None and method_count() == 3


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_an_admin_adds_a_bank_account(client, login, tenants, method):
    login(tenants.users[Role.BILLING])
    reauthenticate(client)
    for headers in ({}, HX):
        response = client.open(NEW_ACH, method=method, headers=headers,
                               data=bank_form("", authorisation_digest="x"))
        assert response.status_code == 403
        assert ADMIN_ONLY_REASON in text(response).replace("&#39;", "'")
    assert method_count() == 3


# Default and removal ----------------------------------------------------------------------


@pytest.mark.parametrize("role", MANAGERS)
def test_make_default_page_and_fragment(client, login, tenants, role):
    methods.verify_bank_account(tenants.bank, tuple(map(methods.Decimal, RIGHT)),
                                today=date.today())
    db.session.commit()
    login(tenants.users[role])
    response = client.post(default_url(tenants.bank.id))
    assert response.status_code == 303 and response.headers["Location"] == LIST
    assert "ACH •••• 6789 is now your default payment method." in flashes(text(client.get(LIST)))
    assert fresh(tenants.bank).is_default and not fresh(tenants.card).is_default

    response = client.post(default_url(tenants.card.id), headers=HX)
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body
    assert "Visa •••• 4242 is now your default payment method." in body
    card_row = body.split(f'id="method-{tenants.card.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Default" in card_row
    assert fresh(tenants.card).is_default and not fresh(tenants.bank).is_default


def test_a_method_that_cannot_pay_is_never_the_default(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    refusal = "ACH •••• 6789 cannot be charged, so it cannot be the default."
    response = client.post(default_url(tenants.bank.id))
    assert response.status_code == 303
    assert refusal in flashes(text(client.get(LIST)))
    response = client.post(default_url(tenants.bank.id), headers=HX)
    assert response.status_code == 422 and refusal in text(response)
    assert fresh(tenants.card).is_default and not fresh(tenants.bank).is_default


@pytest.mark.parametrize("role", MANAGERS)
def test_remove_asks_first_then_removes(client, login, tenants, role):
    login(tenants.users[role])
    url = remove_url(tenants.card.id)
    page = text(client.get(url))
    assert "<h1>Remove payment method</h1>" in page and "Remove Visa •••• 4242?" in page
    assert "It is your default payment method, so choose another default afterwards." in page
    assert ">Remove payment method</button>" in page and ">Keep it</a>" in page
    row = text(client.get(url, headers=HX))
    assert row.lstrip().startswith(f'<tr role="row" id="method-{tenants.card.id}"')
    assert fresh(tenants.card).removed_at is None  # asking removes nothing

    response = client.post(url)
    assert response.status_code == 303 and response.headers["Location"] == LIST
    listing = text(client.get(LIST))
    assert "Visa •••• 4242 was removed from your payment methods." in flashes(listing)
    assert f'id="method-{tenants.card.id}"' not in listing
    assert fresh(tenants.card).removed_at is not None
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 404

    response = client.post(remove_url(tenants.bank.id), headers=HX)
    body = text(response)
    assert response.status_code == 200 and "<html" not in body
    assert "ACH •••• 6789 was removed from your payment methods." in body
    assert "No payment methods yet." in body


def test_removing_a_bank_account_says_what_happens_to_its_payments(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    body = text(client.get(remove_url(tenants.bank.id)))
    assert "a payment still processing completes as usual" in body
    assert "add it and verify it again" in body
    assert "It is your default payment method" not in body


# CSRF (as in production) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def csrf_app(app, search_index_dir, tmp_path_factory):
    """The portal with CSRF protection on, on the same PostgreSQL database as `app`, or on a
    SQLite file of its own."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    sqlite = url.startswith("sqlite")
    if sqlite:
        url = f"sqlite:///{tmp_path_factory.mktemp('csrf-methods') / 'portal.sqlite3'}"
    application = create_app(make_config(url, search_index_dir, WTF_CSRF_ENABLED=True))
    application.test_client_class = IsolatedClient
    if sqlite:
        with application.app_context():
            upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_change_needs_the_csrf_token(app, csrf_app):
    with csrf_app.app_context():
        limiter.reset()
        made = make_tenants(Factory())
        admin, card_id, bank_id = made.users[Role.ADMIN].email, made.card.id, made.bank.id
    try:
        client = csrf_app.test_client()
        login_page = text(client.get("/login"))
        response = client.post("/login", data={"email": admin, "password": PASSWORD,
                                               "csrf_token": csrf_token(login_page)})
        assert response.status_code == 303
        posts = [(NEW_CARD, {}), (NEW_ACH, {}), ("/login/confirm", {"password": PASSWORD}),
                 (default_url(card_id), {}), (remove_url(card_id), {}),
                 (verify_url(bank_id), {"first_deposit": "0.32", "second_deposit": "0.45"})]
        for url, data in posts:
            for headers in ({}, HX):
                assert client.post(url, data=data, headers=headers).status_code == 400, url
        listing = text(client.get(LIST))
        good = csrf_token(listing)
        assert f'hx-headers=\'{{"X-CSRFToken": "{good}"}}\'' in listing  # htmx sends it
        # With the token from the page (a form field, or htmx's X-CSRFToken header), it works.
        response = client.post(verify_url(bank_id), headers={**HX, "X-CSRFToken": good},
                               data={"first_deposit": "0.32", "second_deposit": "0.45"})
        assert response.status_code == 204 and response.headers["HX-Redirect"] == LIST
        assert client.post(remove_url(card_id), data={"csrf_token": good}).status_code == 303
    finally:
        with csrf_app.app_context():
            _clear_tables()


# Verifying a bank account -------------------------------------------------------------------


@pytest.mark.parametrize("role", MANAGERS)
def test_the_right_amounts_verify_the_bank_account(client, login, tenants, role):
    login(tenants.users[role])
    url = verify_url(tenants.bank.id)
    page = text(client.get(url))
    assert '<label class="field__label" for="first_deposit">First deposit</label>' in page
    assert '<label class="field__label" for="second_deposit">Second deposit</label>' in page
    assert ">Verify bank account</button>" in page
    assert f"{methods.VERIFICATION_TRIES}</dd>" in page
    response = client.post(url, data={"first_deposit": RIGHT[1], "second_deposit": RIGHT[0]})
    assert response.status_code == 303 and response.headers["Location"] == LIST
    assert "ACH •••• 6789 is verified. You can now pay with it." in flashes(text(client.get(LIST)))
    bank = fresh(tenants.bank)
    assert bank.status == MethodStatus.VERIFIED and bank.verified_at is not None
    # Verified already: the page says so and offers no form; a POST is refused.
    page = text(client.get(url))
    assert "ACH •••• 6789 is verified and can pay your invoices." in page
    assert "first_deposit" not in page
    assert client.post(url, data={"first_deposit": "0.32", "second_deposit": "0.45"}) \
        .status_code == 409


def test_wrong_amounts_count_down_then_lock(client, login, tenants):
    login(tenants.users[Role.BILLING])
    url = verify_url(tenants.bank.id)
    wrong = {"first_deposit": "0.23", "second_deposit": "0.54"}
    for left in range(methods.VERIFICATION_TRIES - 1, 0, -1):
        response = client.post(url, data=wrong)
        assert response.status_code == 422
        body = text(response)
        tries = "1 try left" if left == 1 else f"{left} tries left"
        assert field_error(body, "first_deposit") == (
            f"These amounts do not match the two deposits we sent. Check your bank statement: "
            f"{tries}.")
        assert input_value(body, "first_deposit") == "0.23"
        assert fresh(tenants.bank).failed_verifications == methods.VERIFICATION_TRIES - left
    response = client.post(url, data=wrong)
    assert response.status_code == 422
    body = text(response).replace("&#39;", "'")
    assert methods.LOCKED_REASON in body and "first_deposit" not in body
    assert fresh(tenants.bank).status == MethodStatus.LOCKED
    # Even the right amounts no longer verify it.
    response = client.post(url, data={"first_deposit": RIGHT[0], "second_deposit": RIGHT[1]})
    assert response.status_code == 409 and methods.LOCKED_REASON in text(response)
    assert fresh(tenants.bank).status == MethodStatus.LOCKED


@pytest.mark.parametrize("amount", [
    "", " ", "abc", "1e400", "NaN", "Infinity", "-0.32", "0,32", "٠.٣٢", "０.３２", "0.321",
    "1.00", "5", "0.00", "0", "$", ".", "0x20", "9" * 400, "0.3\x002", "<b>0.32</b>",
])
def test_garbage_amounts_are_field_errors_not_tries(client, login, tenants, amount):
    login(tenants.users[Role.ADMIN])
    response = client.post(verify_url(tenants.bank.id),
                           data={"first_deposit": "0.32", "second_deposit": amount})
    assert response.status_code == 422
    error = field_error(text(response), "second_deposit")
    assert error and ("0.32" in error), error
    assert field_error(text(response), "first_deposit") is None
    assert fresh(tenants.bank).failed_verifications == 0


@pytest.mark.parametrize("typed", ["0.32", ".32", "$0.32", " 0.32 ", "$ .32"])
def test_amounts_are_read_as_people_type_them(client, login, tenants, typed):
    login(tenants.users[Role.ADMIN])
    response = client.post(verify_url(tenants.bank.id),
                           data={"first_deposit": typed, "second_deposit": "0.45"})
    assert response.status_code == 303
    assert fresh(tenants.bank).status == MethodStatus.VERIFIED


def test_past_its_last_day_the_bank_account_expires(client, login, tenants):
    tenants.bank.verification_expires_on = date.today() - timedelta(days=1)
    db.session.commit()
    login(tenants.users[Role.ADMIN])
    url = verify_url(tenants.bank.id)
    page = text(client.get(url)).replace("&#39;", "'")
    assert methods.EXPIRED_REASON in page and "first_deposit" not in page
    assert "Add the bank account again" in page
    response = client.post(url, data={"first_deposit": RIGHT[0], "second_deposit": RIGHT[1]})
    assert response.status_code == 422 and methods.EXPIRED_REASON in text(response)
    assert fresh(tenants.bank).status == MethodStatus.EXPIRED


def test_verification_as_fragments(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    url = verify_url(tenants.bank.id)
    fragment = text(client.get(url, headers=HX))
    assert "<html" not in fragment and 'name="first_deposit"' in fragment
    response = client.post(url, headers=HX, data={"first_deposit": "0.11",
                                                  "second_deposit": "0.22"})
    assert response.status_code == 422 and "<html" not in text(response)
    assert "tries left" in field_error(text(response), "first_deposit")
    response = client.post(url, headers=HX, data={"first_deposit": "0.45",
                                                  "second_deposit": "0.32"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == LIST


def test_a_card_has_no_verification(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    assert client.get(verify_url(tenants.card.id)).status_code == 404
    assert client.post(verify_url(tenants.card.id), data={}).status_code == 404


# Adding a bank account ---------------------------------------------------------------------


def test_the_password_is_asked_before_the_bank_account_form(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    response = client.get(NEW_ACH)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/confirm?next=/billing/payment-methods/new/ach"
    response = client.get(NEW_ACH, headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == \
        "/login/confirm?next=/billing/payment-methods/new/ach"
    # A form sent without the confirmation stores nothing and asks for the password too.
    response = client.post(NEW_ACH, data=bank_form("", authorisation_digest="x"))
    assert response.status_code == 303 and response.headers["Location"].startswith(
        "/login/confirm")
    assert method_count() == 3

    response = reauthenticate(client, url=response.headers["Location"])
    assert response.headers["Location"] == NEW_ACH
    assert client.get(NEW_ACH).status_code == 200


def test_the_form_has_labelled_fields_and_shows_the_whole_authorisation(client, login,
                                                                         tenants, app):
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    body = text(client.get(NEW_ACH))
    for field_id, label in [("holder_name", "Account holder name"),
                            ("routing_number", "Routing number"),
                            ("account_number", "Account number"),
                            ("confirm_account_number", "Confirm account number")]:
        assert f'<label class="field__label" for="{field_id}">{label}</label>' in body
    assert '<legend class="field__label">Account type</legend>' in body
    assert re.search(r'<input[^>]*value="checking"[^>]*> Checking</label>', body)
    assert re.search(r'<input[^>]*value="savings"[^>]*> Savings</label>', body)
    assert "I accept this debit authorisation for my company" in body
    assert ">Add bank account</button>" in body
    wording = authorisation_on_page(body)
    account = tenants.account
    assert wording.startswith(f"{account.legal_name} ({account.number}) authorises "
                              f"{app.config['ISSUER_NAME']} to debit the business bank account "
                              "entered above by ACH (CCD entries)")
    assert wording.endswith("as the NACHA Operating Rules allow.")


def test_adding_a_bank_account_stores_the_words_shown_who_when_and_from_where(client, login,
                                                                             tenants, app):
    admin = tenants.users[Role.ADMIN]
    login(admin)
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    before = datetime.now(UTC)
    response = client.post(NEW_ACH, data=bank_form(page, account_number="0009-8765 4321",
                                                   confirm_account_number="000987654321",
                                                   account_type="savings"),
                           environ_base={"REMOTE_ADDR": "203.0.113.7"})
    after = datetime.now(UTC)
    assert response.status_code == 303
    method = db.session.scalar(select(PaymentMethod).where(PaymentMethod.last4 == "4321"))
    assert response.headers["Location"] == verify_url(method.id)
    assert method.account_id == tenants.account.id
    assert method.authorisation_text == authorisation_on_page(page)
    assert (method.authorised_by_id, method.authorised_ip, method.created_by_id) == (
        admin.id, "203.0.113.7", admin.id)
    assert before <= method.authorised_at <= after and method.authorised_at.tzinfo is not None
    assert method.authorised_at.utcoffset() == timedelta(0)
    assert (method.holder_name, method.routing_number, method.account_type, method.status) == (
        "Acme Widgets & Sons", "110000000", BankAccountType.SAVINGS,
        MethodStatus.PENDING_VERIFICATION)
    assert method.verification_expires_on == date.today() + timedelta(
        days=methods.VERIFICATION_DAYS)
    verify_page = text(client.get(response.headers["Location"]))
    assert ("We sent two small deposits to ACH •••• 4321. When they show on your bank "
            "statement, enter them below to verify the account.") in flashes(verify_page)
    assert 'name="first_deposit"' in verify_page


def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(tmp_path):
    from tests.accounts.test_ratelimit_storage import migrated_portal

    portal = migrated_portal(tmp_path, TRUSTED_PROXY_COUNT=1)
    portal.test_client_class = IsolatedClient
    try:
        with portal.app_context():
            factory = Factory()
            factory.user(Role.ADMIN, account=factory.account(), email="proxy-admin@example.test")
        client = portal.test_client()
        response = client.post("/login", data={"email": "proxy-admin@example.test",
                                               "password": PASSWORD})
        assert response.status_code == 303
        reauthenticate(client)
        page = text(client.get(NEW_ACH))
        response = client.post(NEW_ACH, data=bank_form(page), environ_base={
            "REMOTE_ADDR": "10.0.0.2"}, headers={"X-Forwarded-For": "203.0.113.50"})
        assert response.status_code == 303
        with portal.app_context():
            assert db.session.scalar(select(PaymentMethod.authorised_ip)) == "203.0.113.50"
    finally:
        with portal.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("field, value, message", [
    ("holder_name", "   ", "Enter the account holder's name."),
    ("holder_name", "x" * 101, "Shorten the name to 100 characters."),
    ("routing_number", "110000001",
     "This routing number is not valid. Check the 9 digits with your bank."),
    ("routing_number", "12345", "Enter the 9-digit routing number."),
    ("routing_number", "١١٠٠٠٠٠٠٠", "Enter the 9-digit routing number."),
    ("account_number", "123", "Enter the account number: 4 to 17 digits."),
    ("account_number", "1" * 18, "Enter the account number: 4 to 17 digits."),
    ("account_number", "٣٣٣٣٣", "Enter the account number: 4 to 17 digits."),
    ("confirm_account_number", "000123456780",
     "The account numbers do not match. Type the account number again in both boxes."),
    ("confirm_account_number", "", "Enter the account number again."),
    ("account_type", "", "Choose checking or savings."),
    ("account_type", "bonds", "Choose checking or savings."),
    ("accept_authorisation", "", "Accept the debit authorisation to add the bank account."),
])
def test_each_mistake_is_shown_next_to_its_field_and_nothing_typed_is_lost(
        client, login, tenants, field, value, message):
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    data = bank_form(page, **{field: value})
    if not value and field in ("account_type", "accept_authorisation"):
        del data[field]
    response = client.post(NEW_ACH, data=data)
    assert response.status_code == 422
    body = text(response)
    assert field_error(body, field) == message
    assert 'aria-invalid="true"' in input_tag(body, field)
    for name in ("holder_name", "routing_number", "account_number", "confirm_account_number"):
        assert input_value(body, name) == data.get(name, ""), name
    if field != "account_type":
        assert "checked" in input_tag(body, "account_type", "checking")
    assert method_count() == 3


def test_errors_come_back_as_the_form_fragment_for_htmx(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    response = client.post(NEW_ACH, headers=HX, data=bank_form(page, routing_number="1"))
    assert response.status_code == 422
    body = text(response)
    assert "<html" not in body and body.lstrip().startswith("<form")
    assert field_error(body, "routing_number") == "Enter the 9-digit routing number."
    response = client.post(NEW_ACH, headers=HX, data=bank_form(page))
    assert response.status_code == 204
    assert re.fullmatch(r"/billing/payment-methods/\d+/verify", response.headers["HX-Redirect"])


def test_a_changed_wording_must_be_read_and_accepted_again(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    response = client.post(NEW_ACH, data=bank_form(page, authorisation_digest="0" * 64))
    assert response.status_code == 422
    body = text(response)
    assert field_error(body, "accept_authorisation") == (
        "The wording of the authorisation has changed. Read it again and accept it.")
    assert input_value(body, "authorisation_digest") == input_value(page, "authorisation_digest")
    assert "checked" not in input_tag(body, "accept_authorisation")
    assert method_count() == 3


def test_the_gateways_refusal_goes_next_to_its_field(client, login, tenants, monkeypatch):
    def refuse(**details):
        raise InvalidPaymentDetails("routing_number", "This bank does not take ACH debits.")

    monkeypatch.setattr(get_gateway(), "create_bank_account", refuse)
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    response = client.post(NEW_ACH, data=bank_form(page))
    assert response.status_code == 422
    assert field_error(text(response), "routing_number") == "This bank does not take ACH debits."
    assert method_count() == 3


def test_a_cad_account_is_refused_in_one_sentence(client, login, tenants):
    login(tenants.other_admin)
    refusal = methods.ACH_CURRENCY_REFUSAL.format(currency="CAD")
    response = client.get(NEW_ACH)  # no password asked: there is nothing to add
    assert response.status_code == 200
    body = text(response).replace("&#39;", "'")
    assert refusal in body and "Account number" not in body and "<form method=\"post\" action=" \
        f'"{NEW_ACH}"' not in body
    reauthenticate(client)
    response = client.post(NEW_ACH, data=bank_form("", authorisation_digest="x"))
    assert response.status_code == 409 and refusal in text(response).replace("&#39;", "'")
    assert method_count() == 3


def test_after_the_window_the_password_is_asked_again(client, login, tenants):
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    db.session.execute(UserSession.__table__.update().values(
        reauthenticated_at=datetime.now(UTC) - timedelta(minutes=11)))
    db.session.commit()
    response = client.post(NEW_ACH, data=bank_form(page))
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/confirm?next=/billing/payment-methods/new/ach"
    assert method_count() == 3


def test_the_account_number_never_reaches_a_log(client, login, tenants, caplog):
    caplog.set_level("DEBUG")
    login(tenants.users[Role.ADMIN])
    reauthenticate(client)
    page = text(client.get(NEW_ACH))
    client.post(NEW_ACH, data=bank_form(page, confirm_account_number="1"))  # an error first
    client.post(NEW_ACH, data=bank_form(page, account_number="000555555559",
                                        confirm_account_number="000555555559"))
    assert db.session.scalar(select(PaymentMethod).where(PaymentMethod.last4 == "5559"))
    assert "000555555559" not in caplog.text and BANK_NUMBER not in caplog.text
