"""The pay pages (/billing/pay → Review → Confirm payment): every role and a second tenant,
page and htmx fragment, CSRF, hostile amounts answered next to their field (never a 5xx, nothing
typed lost), a declined card, balances that changed, credit alone, one payment per draft."""

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role
from app.credit.services import credit_balance
from app.extensions import db
from app.payments import pay
from app.payments.gateways.declines import describe_decline
from app.payments.gateways.sandbox import ACH_SETTLEMENT_BUSINESS_DAYS
from app.payments.gateways.sandbox_models import SandboxCharge
from app.payments.models import Payment, PaymentDraft, PaymentStatus
from app.payments.pay_forms import (
    AMOUNT_MISSING,
    AMOUNT_NOT_A_NUMBER,
    AMOUNT_NOT_POSITIVE,
    AMOUNT_TOO_PRECISE,
)
from app.payments.services import create_payment
from tests.conftest import PASSWORD
from tests.payments.paying import (
    DECLINED_CARD,
    TODAY,
    add_bank_account,
    add_card,
    give_credit,
    make_reseller,
)

HX = {"HX-Request": "true"}
PAYERS = [Role.ADMIN, Role.BILLING]


@pytest.fixture
def reseller(billing, factory):
    return make_reseller(billing, factory)


@pytest.fixture
def card(reseller):
    return add_card(reseller.account, reseller.payer)


def start(client, query: str = "") -> str:
    """Open the pay page; the key of the draft it issued."""
    response = client.get(f"/billing/pay{query}")
    assert response.status_code == 303
    return parse_qs(urlsplit(response.headers["Location"]).query)["draft"][0]


def form(key, invoices, amounts: dict[int, str], *, credit=False, method=None) -> dict:
    """The pay form's fields: `amounts` maps an index into `invoices` to the typed amount."""
    data = {"draft": key}
    for index, text in amounts.items():
        data[f"pay_{invoices[index].id}"] = "y"
        data[f"amount_{invoices[index].id}"] = text
    if credit:
        data["apply_credit"] = "y"
    if method is not None:
        data["method"] = str(method.id)
    return data


def text(response) -> str:
    return response.get_data(as_text=True)


def error_of(body: str, field_id: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field_id}-error">([^<]*)</p>', body)
    return match.group(1) if match else ""


def field_tag(body: str, field_id: str) -> str:
    """The <input> tag of the field with this id ("" when there is none)."""
    match = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', body)
    return match.group(0) if match else ""


def is_checked(body: str, field_id: str) -> bool:
    return re.search(r"\schecked[\s>]", field_tag(body, field_id)) is not None


def payments_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Payment))


# --- Who may pay ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", PAYERS)
def test_admin_and_billing_see_the_pay_form(client, login, reseller, card, role):
    login(reseller.users[role])
    key = start(client)
    page = client.get(f"/billing/pay?draft={key}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    body = text(page)
    assert "<html" in body and ">Review</button>" in body
    for invoice in reseller.invoices:  # every open invoice chosen at its balance due
        assert is_checked(body, f"pay_{invoice.id}")
        assert 'value="37.50"' in field_tag(body, f"amount_{invoice.id}")
        assert f"Amount for {invoice.number}" in body
    assert is_checked(body, "method-0") and f'value="{card.id}"' in field_tag(body, "method-0")
    fragment = client.get(f"/billing/pay?draft={key}", headers=HX)
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert 'id="pay-form"' in text(fragment) and "HX-Request" in fragment.headers["Vary"]


def test_viewers_are_told_why_they_cannot_pay(client, login, reseller, card):
    key = pay.open_draft(reseller.account.id, reseller.payer.id).key
    db.session.commit()
    login(reseller.users[Role.VIEWER])
    for method, url, data in [("get", "/billing/pay", None),
                              ("get", f"/billing/pay?draft={key}", None),
                              ("post", "/billing/pay/totals", {"draft": key}),
                              ("post", "/billing/pay/review", {"draft": key}),
                              ("post", "/billing/pay/confirm", {"draft": key})]:
        for headers in ({}, HX):
            response = getattr(client, method)(url, data=data, headers=headers)
            assert response.status_code == 403, url
            assert pay.PAY_REFUSAL in text(response)
    assert db.session.scalar(select(func.count()).select_from(PaymentDraft)) == 1


def test_staff_and_anonymous_cannot_pay(client, login, reseller, factory):
    assert client.get("/billing/pay").status_code == 302  # to the sign-in page
    login(factory.user(Role.STAFF))
    assert client.get("/billing/pay").status_code == 403
    assert client.post("/billing/pay/review", data={"draft": "x"}).status_code == 403


def test_another_accounts_draft_is_not_found(client, login, reseller, billing, factory, card):
    other = make_reseller(billing, factory, periods=("2026-03",))
    login(reseller.payer)
    key = start(client)
    assert client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "10.00"},
                                                        method=card)).status_code == 303
    client.post("/logout")
    login(other.payer)
    for headers in ({}, HX):
        assert client.get(f"/billing/pay?draft={key}", headers=headers).status_code == 404
        assert client.post("/billing/pay/review", headers=headers,
                           data=form(key, other.invoices, {0: "1.00"})).status_code == 404
        assert client.post("/billing/pay/confirm", data={"draft": key},
                           headers=headers).status_code == 404
    assert payments_count() == 0


def test_another_accounts_invoice_cannot_be_put_in_the_form(client, login, reseller, billing,
                                                            factory, card):
    other = make_reseller(billing, factory, periods=("2026-03",))
    login(reseller.payer)
    key = start(client)
    data = form(key, other.invoices, {0: "1.00"}, method=card)
    response = client.post("/billing/pay/review", data=data)
    assert response.status_code == 422
    assert "Choose at least one invoice to pay." in text(response)
    assert other.invoices[0].number not in text(response)


# --- The flow ---------------------------------------------------------------------------------


def test_pay_two_invoices_partly_with_credit(client, login, reseller, card):
    give_credit(reseller.account, "50.00")
    march, april, _ = reseller.invoices
    login(reseller.payer)
    key = start(client)
    data = form(key, reseller.invoices, {0: "37.50", 1: "20.00"}, credit=True, method=card)

    totals = client.post("/billing/pay/totals", data=data, headers=HX)
    assert totals.status_code == 200
    assert re.findall(r"<dd>([^<]*)</dd>", text(totals)) == ["$57.50", "−$50.00", "$7.50"]

    reviewed = client.post("/billing/pay/review", data=data)
    assert reviewed.status_code == 303
    assert reviewed.headers["Location"] == f"/billing/pay?draft={key}&step=review"
    review = text(client.get(reviewed.headers["Location"]))
    assert ">Confirm payment</button>" in review and ">Change</a>" in review
    assert [cell for cell in re.findall(r'data-label="[^"]+">([^<]*)<', review)
            if cell.startswith("$")] == ["$37.50", "$37.50", "$0.00", "$20.00", "$12.50",
                                         "$7.50"]
    assert "Visa •••• 4242" in review and payments_count() == 0

    confirmed = client.post("/billing/pay/confirm", data={"draft": key})
    payment = db.session.scalar(select(Payment))
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == f"/billing/payments/{payment.id}"
    assert (payment.amount, payment.status) == (Decimal("7.50"), PaymentStatus.SUCCEEDED)
    receipt = text(client.get(confirmed.headers["Location"]))
    assert "Thank you: your payment of $7.50 succeeded." in receipt
    assert march.number in receipt and april.number in receipt and "$50.00" in receipt

    # Resubmitting, confirming again or going back: the same payment, nothing more charged.
    again = client.post("/billing/pay/confirm", data={"draft": key})
    assert again.headers["Location"] == f"/billing/payments/{payment.id}"
    back = client.get(f"/billing/pay?draft={key}&step=review")
    assert back.status_code == 303 and back.headers["Location"] == f"/billing/payments/{payment.id}"
    review_again = client.post("/billing/pay/review", data=data)
    assert review_again.status_code == 303
    assert payments_count() == 1
    assert db.session.scalar(select(func.count()).select_from(SandboxCharge)) == 1


def test_the_flow_by_htmx(client, login, reseller, card):
    login(reseller.payer)
    key = start(client)
    data = form(key, reseller.invoices, {2: "12.34"}, method=card)
    review = client.post("/billing/pay/review", data=data, headers=HX)
    assert review.status_code == 200 and "<html" not in text(review)
    assert review.headers["HX-Push-Url"] == f"/billing/pay?draft={key}&step=review"
    assert "data-focus-on-swap" in text(review) and "$12.34" in text(review)
    confirmed = client.post("/billing/pay/confirm", data={"draft": key}, headers=HX)
    payment = db.session.scalar(select(Payment))
    assert confirmed.status_code == 204
    assert confirmed.headers["HX-Redirect"] == f"/billing/payments/{payment.id}"
    change = client.get(f"/billing/pay?draft={key}", headers=HX)
    assert change.status_code == 204 and change.headers["HX-Redirect"] == \
        f"/billing/payments/{payment.id}"


def test_change_keeps_the_reviewed_plan(client, login, reseller, card):
    give_credit(reseller.account, "5.00")
    login(reseller.payer)
    key = start(client)
    client.post("/billing/pay/review",
                data=form(key, reseller.invoices, {1: "11.11"}, credit=True, method=card))
    body = text(client.get(f"/billing/pay?draft={key}"))
    first, second, third = reseller.invoices
    assert 'value="11.11"' in body and is_checked(body, f"pay_{second.id}")
    assert not is_checked(body, f"pay_{first.id}")
    assert is_checked(body, "apply_credit")


def test_an_invoice_link_preselects_that_invoice(client, login, reseller, card):
    login(reseller.payer)
    april = reseller.invoices[1]
    response = client.get(f"/billing/pay?invoice={april.number}")
    assert f"invoice={april.number}" in response.headers["Location"]
    body = text(client.get(response.headers["Location"]))
    checked = [i.id for i in reseller.invoices
               if is_checked(body, f"pay_{i.id}")]
    assert checked == [april.id]


def test_a_bank_payment_is_processing(client, login, reseller):
    bank = add_bank_account(reseller.account, reseller.users[Role.ADMIN])
    login(reseller.payer)
    key = start(client)
    page = text(client.get(f"/billing/pay?draft={key}"))
    assert f"takes {ACH_SETTLEMENT_BUSINESS_DAYS} business days to settle" in page
    client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "37.50"},
                                                 method=bank))
    confirmed = client.post("/billing/pay/confirm", data={"draft": key})
    receipt = text(client.get(confirmed.headers["Location"]))
    assert "Thank you: your bank payment of $37.50 was submitted." in receipt
    assert "Expected to settle" in receipt
    invoice = text(client.get(f"/billing/invoices/{reseller.invoices[0].number}"))
    assert "Payment processing" in invoice


def test_an_unanswered_charge_says_it_will_not_be_charged_twice(client, login, reseller, card,
                                                               app):
    from app.payments.gateways import get_gateway

    login(reseller.payer)
    key = start(client)
    client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "37.50"},
                                                 method=card))
    get_gateway().simulate_timeout(reached_gateway=True)
    db.session.commit()
    confirmed = client.post("/billing/pay/confirm", data={"draft": key})
    receipt = text(client.get(confirmed.headers["Location"]))
    assert "You will not be charged twice" in receipt and "Awaiting confirmation" in receipt
    assert db.session.scalar(select(Payment.status)) == PaymentStatus.UNKNOWN


def test_credit_covering_everything_charges_nothing(client, login, reseller):
    give_credit(reseller.account, "40.00")
    login(reseller.payer)
    key = start(client)
    data = form(key, reseller.invoices, {0: "37.50", 1: "2.50"}, credit=True)
    assert client.post("/billing/pay/review", data=data).status_code == 303
    review = text(client.get(f"/billing/pay?draft={key}&step=review"))
    assert "Your credit covers these amounts: nothing will be charged." in review
    confirmed = client.post("/billing/pay/confirm", data={"draft": key})
    assert confirmed.headers["Location"] == f"/billing/pay?draft={key}"
    done = text(client.get(confirmed.headers["Location"]))
    assert "Your credit paid the invoices; nothing was charged." in done
    assert "Your credit paid $40.00 on these invoices." in done
    assert payments_count() == 0 and credit_balance(reseller.account) == 0


def test_a_declined_card_shows_its_reason_and_keeps_the_form(client, login, reseller, card):
    declined = add_card(reseller.account, reseller.payer, DECLINED_CARD)
    login(reseller.payer)
    key = start(client)
    client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "30.00"},
                                                 method=declined))
    for headers in (HX, {}):
        response = client.post("/billing/pay/confirm", data={"draft": key}, headers=headers)
        assert response.status_code == 422
        body = text(response)
        assert describe_decline("generic_decline") in error_of(body, "method")
        assert "did not go through, and nothing was charged" in body
        assert 'value="30.00"' in body
        assert 'aria-invalid="true"' in field_tag(body, "method-0")
    assert [p.status for p in db.session.scalars(select(Payment))] == [PaymentStatus.FAILED] * 2
    client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "30.00"},
                                                 method=card))
    paid = client.post("/billing/pay/confirm", data={"draft": key})
    assert paid.status_code == 303 and "/billing/payments/" in paid.headers["Location"]


def test_a_balance_paid_meanwhile_asks_to_review_again(client, login, reseller, card):
    login(reseller.payer)
    key = start(client)
    invoice = reseller.invoices[0]
    client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "37.50"},
                                                 method=card))
    create_payment(account_id=reseller.account.id, currency="USD", method_label="Wire",
                   allocations=[(invoice, Decimal("10.00"))], received_on=TODAY)
    db.session.commit()
    response = client.post("/billing/pay/confirm", data={"draft": key})
    assert response.status_code == 422
    body = text(response)
    assert pay.REVIEW_AGAIN in body
    assert error_of(body, f"amount_{invoice.id}") == "Enter at most the balance due, $27.50."
    assert db.session.scalar(select(func.count()).select_from(SandboxCharge)) == 0


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, message", [
    ("1e400", AMOUNT_NOT_A_NUMBER),
    ("NaN", AMOUNT_NOT_A_NUMBER),
    ("Infinity", AMOUNT_NOT_A_NUMBER),
    ("-0", AMOUNT_NOT_POSITIVE),
    ("-5.00", AMOUNT_NOT_POSITIVE),
    ("0", AMOUNT_NOT_POSITIVE),
    ("0.00", AMOUNT_NOT_POSITIVE),
    ("0.001", AMOUNT_TOO_PRECISE),
    ("12.345", AMOUNT_TOO_PRECISE),
    ("٣", AMOUNT_NOT_A_NUMBER),
    ("１２", AMOUNT_NOT_A_NUMBER),
    ("²", AMOUNT_NOT_A_NUMBER),
    ("1,23", AMOUNT_NOT_A_NUMBER),
    ("0x1F", AMOUNT_NOT_A_NUMBER),
    ("9" * 400, AMOUNT_NOT_A_NUMBER),
    ("", AMOUNT_MISSING),
    ("   ", AMOUNT_MISSING),
    ("37.51", "Enter at most the balance due, $37.50."),
    ("99999999999999", "Enter at most the balance due, $37.50."),
])
def test_hostile_amounts_are_answered_next_to_the_field(client, login, reseller, card, typed,
                                                        message):
    login(reseller.payer)
    key = start(client)
    invoice = reseller.invoices[1]
    data = form(key, reseller.invoices, {0: "10.00", 1: typed}, method=card)
    for headers in ({}, HX):
        response = client.post("/billing/pay/review", data=data, headers=headers)
        assert response.status_code == 422
        body = text(response)
        assert error_of(body, f"amount_{invoice.id}") == message
        field = field_tag(body, f"amount_{invoice.id}")
        assert 'aria-invalid="true"' in field
        assert f'value="{typed}"' in field or (not typed.strip() and 'value=' in field)
        assert 'value="10.00"' in body  # nothing typed is lost
        if not headers:
            assert "autofocus" in field  # the first error takes the focus
    assert db.session.scalar(select(PaymentDraft.lines).where(PaymentDraft.key == key)) == []


def test_amounts_people_type_are_read(client, login, reseller, card):
    login(reseller.payer)
    key = start(client)
    response = client.post("/billing/pay/review",
                           data=form(key, reseller.invoices, {0: " $10.5 ", 1: "12.5",
                                                              2: "$37.50"},
                                     method=card))
    assert response.status_code == 303
    lines = db.session.scalar(select(PaymentDraft.lines).where(PaymentDraft.key == key))
    assert [line["amount"] for line in lines] == ["10.50", "12.50", "37.50"]


def test_no_invoice_and_no_method_are_field_errors(client, login, reseller, card):
    login(reseller.payer)
    key = start(client)
    nothing = client.post("/billing/pay/review", data={"draft": key, "method": str(card.id)})
    assert nothing.status_code == 422
    body = text(nothing)
    assert "Choose at least one invoice to pay." in body
    first = reseller.invoices[0]
    assert 'aria-invalid="true"' in field_tag(body, f"pay_{first.id}")
    no_method = client.post("/billing/pay/review", data=form(key, reseller.invoices, {0: "5.00"}))
    assert error_of(text(no_method), "method") == "Choose how to pay the rest."
    unknown = client.post("/billing/pay/review",
                          data={**form(key, reseller.invoices, {0: "5.00"}), "method": "٣"})
    assert unknown.status_code == 422
    assert error_of(text(unknown), "method") == "Choose one of your payment methods."


def test_hostile_keys_and_names_never_fail(client, login, reseller, card):
    login(reseller.payer)
    for key in ["", "x" * 5000, "\x00", "../../etc", "٣"]:
        assert client.get("/billing/pay", query_string={"draft": key}).status_code in (303, 404)
        assert client.post("/billing/pay/confirm", data={"draft": key}).status_code in (303, 404)
    key = start(client)
    odd = {"draft": key, "pay_²": "y", "pay_99999999999999999999": "y", "amount_²": "1",
           f"pay_{reseller.invoices[0].id}": "y", f"amount_{reseller.invoices[0].id}": "2.00",
           "method": str(card.id)}
    assert client.post("/billing/pay/review", data=odd).status_code == 303
    assert client.post("/billing/pay/totals", data=odd).status_code == 303  # not htmx: the page


def test_a_draft_that_was_not_reviewed_cannot_be_confirmed(client, login, reseller, card):
    login(reseller.payer)
    key = start(client)
    response = client.post("/billing/pay/confirm", data={"draft": key})
    assert response.status_code == 422 and pay.NOT_REVIEWED in text(response)


# --- CSRF -------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(app, client, monkeypatch):
    """The test client with CSRF protection on, as in production (the same database)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    return client


def token_of(body: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)


def test_every_pay_post_needs_the_csrf_token(csrf_client, reseller, card):
    login_page = text(csrf_client.get("/login"))
    csrf_client.post("/login", data={"email": reseller.payer.email, "password": PASSWORD,
                                     "csrf_token": token_of(login_page)})
    opened = csrf_client.get("/billing/pay")
    assert opened.status_code == 303
    page = csrf_client.get(opened.headers["Location"])
    body = text(page)
    key = re.search(r'name="draft" type="hidden" value="([^"]+)"', body).group(1)
    data = form(key, reseller.invoices, {0: "5.00"}, method=card)
    for url in ["/billing/pay/totals", "/billing/pay/review", "/billing/pay/confirm"]:
        assert csrf_client.post(url, data=data, headers=HX).status_code == 400, url
    token = token_of(body)
    assert 'name="csrf_token"' in body  # the form carries it without JavaScript too
    reviewed = csrf_client.post("/billing/pay/review", data=data,
                                headers={**HX, "X-CSRFToken": token})
    assert reviewed.status_code == 200
    confirmed = csrf_client.post("/billing/pay/confirm", data={"draft": key},
                                 headers={**HX, "X-CSRFToken": token})
    assert confirmed.status_code == 204 and payments_count() == 1



def test_the_pay_form_opens_with_the_totals_of_what_it_offers(client, login, reseller, card):
    """The totals shown first are those of the invoices chosen at their balance due, not zero
    until something is typed."""
    login(reseller.users[Role.BILLING])
    body = text(client.get(f"/billing/pay?draft={start(client)}"))
    totals = body[body.index('class="pay-totals"'):]
    total = sum((invoice.balance_due for invoice in reseller.invoices), Decimal("0"))
    assert total == Decimal("112.50")
    assert "<dt>Invoices total</dt><dd>$112.50</dd>" in totals
    assert "<dt>To charge</dt><dd>$112.50</dd>" in totals
    assert "left out of these totals" not in body
