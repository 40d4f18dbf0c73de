"""Payments list and receipts (page and PDF) for every role and a second tenant, receipts that
show a payment's state as it is now, and the invoice pages' Pay action, "Payment processing"
and the invoice PDF's issuer and how to pay."""

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.accounts.models import Role
from app.extensions import db
from app.payments import pay
from app.payments.gateways.ach_returns import describe_return
from app.payments.gateways.declines import describe_decline
from app.payments.models import Payment
from app.payments.receipts import PAGE_SIZE
from app.payments.services import create_payment, return_payment, settle_payment
from tests.payments.paying import (
    DECLINED_CARD,
    TODAY,
    add_bank_account,
    add_card,
    give_credit,
    make_reseller,
)

HX = {"HX-Request": "true"}
READERS = [Role.ADMIN, Role.BILLING, Role.VIEWER]
D = Decimal


@pytest.fixture
def reseller(billing, factory):
    return make_reseller(billing, factory)


@pytest.fixture
def other(billing, factory):
    return make_reseller(billing, factory, periods=("2026-03",), country="CA", region="ON",
                         currency="CAD")


def paid_by_card(reseller, amounts, *, credit=False, number=None):
    card = add_card(reseller.account, reseller.payer, *(number and [number] or []))
    selections = [(reseller.invoices[i].id, D(a)) for i, a in amounts.items()]
    result = pay.pay_invoices(reseller.account, reseller.payer.id, selections,
                              method_id=card.id, apply_credit=credit, today=TODAY)
    db.session.commit()
    return result.payment


def text(response) -> str:
    return response.get_data(as_text=True)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_payments_and_receipts(client, login, reseller, role):
    give_credit(reseller.account, "10.00")
    payment = paid_by_card(reseller, {0: "37.50", 1: "5.00"}, credit=True)
    login(reseller.users[role])
    listing = client.get("/billing/payments")
    assert listing.status_code == 200 and payment.reference in text(listing)
    assert listing.headers["Cache-Control"] == "no-store"
    fragment = client.get("/billing/payments", headers=HX)
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert payment.reference in text(fragment)
    page = client.get(f"/billing/payments/{payment.id}")
    body = text(page)
    assert page.status_code == 200
    for expected in [payment.reference, "Visa •••• 4242", "$32.50", "Succeeded",
                     reseller.invoices[0].number, reseller.invoices[1].number,
                     "Northgate Cloud Distribution Inc.", "EIN 46-2468013"]:
        assert expected in body, expected
    # The credit applied alongside: $10.00 on the oldest invoice, $27.50 paid by card.
    cells = re.findall(r'data-label="(?:Paid by this payment|Credit applied|Total)">([^<]*)<',
                       body)
    assert cells[:6] == ["$27.50", "$10.00", "$37.50", "$5.00", "$0.00", "$5.00"]
    assert cells[6:] == ["$32.50", "$10.00", "$42.50"]
    assert client.get(f"/billing/payments/{payment.id}", headers=HX).status_code == 200
    pdf = client.get(f"/billing/payments/{payment.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f"receipt-{payment.reference}.pdf" in pdf.headers["Content-Disposition"]
    printed = pdf_text(pdf.data)
    for expected in [payment.reference, "Northgate Cloud Distribution Inc.", "EIN 46-2468013",
                     reseller.invoices[0].number, "$32.50", "$10.00", reseller.account.number]:
        assert expected in printed, expected
    can_pay = role != Role.VIEWER
    assert ('href="/billing/pay"' in text(listing)) == can_pay


@pytest.mark.parametrize("role", READERS)
def test_another_tenants_payment_is_not_found(client, login, reseller, other, role):
    payment = paid_by_card(reseller, {0: "1.00"})
    login(other.users[role])
    for url in [f"/billing/payments/{payment.id}", f"/billing/payments/{payment.id}.pdf"]:
        assert client.get(url).status_code == 404
        assert client.get(url, headers=HX).status_code == 404
    listing = text(client.get("/billing/payments"))
    assert payment.reference not in listing and "No payments yet." in listing


def test_staff_have_no_payments(client, login, factory, reseller):
    payment = paid_by_card(reseller, {0: "1.00"})
    login(factory.user(Role.STAFF))
    for url in ["/billing/payments", f"/billing/payments/{payment.id}"]:
        assert client.get(url).status_code == 403


def test_the_receipt_shows_the_payment_as_it_is_now(client, login, reseller):
    bank = add_bank_account(reseller.account, reseller.users[Role.ADMIN])
    result = pay.pay_invoices(reseller.account, reseller.payer.id,
                              [(reseller.invoices[0].id, D("37.50"))], method_id=bank.id,
                              today=TODAY)
    db.session.commit()
    payment = result.payment
    login(reseller.users[Role.VIEWER])
    url = f"/billing/payments/{payment.id}"
    processing = text(client.get(url))
    assert "Processing" in processing and "Expected to settle" in processing
    assert "is on its way and is expected to settle on" in processing

    settle_payment(payment, on=date(2026, 6, 15))
    db.session.commit()
    settled = text(client.get(url))
    assert "Succeeded" in settled and "Your bank payment settled on Jun 15, 2026." in settled
    assert "Expected to settle" not in settled

    return_payment(payment, "R01", on=date(2026, 6, 17))
    db.session.commit()
    returned = text(client.get(url))
    assert "Returned" in returned and "(R01)" in returned
    assert describe_return("R01").explanation in returned
    assert reseller.invoices[0].number in returned  # what it had paid, still listed
    assert "Returned on" in pdf_text(client.get(f"{url}.pdf").data)


def test_a_failed_payment_gives_its_reason(client, login, reseller):
    payment = paid_by_card(reseller, {0: "20.00"}, number=DECLINED_CARD)
    login(reseller.payer)
    body = text(client.get(f"/billing/payments/{payment.id}"))
    assert "Failed" in body and describe_decline("generic_decline") in body
    assert "Nothing was charged." in body


def test_filters_and_pages(client, login, reseller):
    card = add_card(reseller.account, reseller.payer)
    declined = add_card(reseller.account, reseller.payer, DECLINED_CARD)
    invoice = reseller.invoices[2]
    for day in range(1, PAGE_SIZE + 3):
        create_payment(account_id=reseller.account.id, currency="USD", method_label="Wire",
                       allocations=[(invoice, D("0.01"))], received_on=date(2026, 5, day % 28 + 1))
    failed = pay.pay_invoices(reseller.account, reseller.payer.id, [(invoice.id, D("1.00"))],
                              method_id=declined.id, today=date(2026, 7, 1)).payment
    good = pay.pay_invoices(reseller.account, reseller.payer.id, [(invoice.id, D("1.00"))],
                            method_id=card.id, today=date(2026, 7, 2)).payment
    db.session.commit()
    login(reseller.payer)

    first = text(client.get("/billing/payments"))
    assert f"{PAGE_SIZE + 4} payments · page 1 of 2" in first
    assert first.index(good.reference) < first.index(failed.reference)  # newest first
    second = client.get("/billing/payments?page=2", headers=HX)
    assert "page 2 of 2" in text(second) and 'rel="prev"' in text(second)

    only_failed = text(client.get("/billing/payments?status=failed"))
    assert "1 payment" in only_failed and failed.reference in only_failed
    assert good.reference not in only_failed
    by_card = text(client.get(f"/billing/payments?method={card.id}"))
    assert good.reference in by_card and failed.reference not in by_card
    in_july = text(client.get("/billing/payments?from=2026-07-02&to=2026-07-31"))
    assert "1 payment" in in_july and good.reference in in_july
    nothing = text(client.get("/billing/payments?from=2030-01-01"))
    assert "No payments match these filters." in nothing
    wrong = text(client.get("/billing/payments?from=2026-07-02&to=2026-07-01", headers=HX))
    assert "The end date is before the start date." in wrong and 'hx-swap-oob="true"' in wrong
    for hostile in ["method=٣", "method=99999999999999999999", "status=nope", "page=-1",
                    "page=１２", "from=2026-02-30"]:
        assert client.get(f"/billing/payments?{hostile}").status_code == 200, hostile


def test_the_invoice_page_has_a_pay_action_for_payers(client, login, reseller):
    invoice = reseller.invoices[0]
    for role, can_pay in [(Role.ADMIN, True), (Role.BILLING, True), (Role.VIEWER, False)]:
        login(reseller.users[role])
        body = text(client.get(f"/billing/invoices/{invoice.number}"))
        assert "Balance due" in body and "$37.50" in body
        link = f'href="/billing/pay?invoice={invoice.number}"'
        assert (link in body) == can_pay, role
        client.post("/logout")
    paid_by_card(reseller, {0: "37.50"})
    login(reseller.payer)
    body = text(client.get(f"/billing/invoices/{invoice.number}"))
    assert f'href="/billing/pay?invoice={invoice.number}"' not in body  # nothing left to pay


def test_payment_processing_on_the_invoice_pages(client, login, reseller):
    bank = add_bank_account(reseller.account, reseller.users[Role.ADMIN])
    held, free = reseller.invoices[0], reseller.invoices[1]
    pay.pay_invoices(reseller.account, reseller.payer.id, [(held.id, D("20.00"))],
                     method_id=bank.id, today=TODAY)
    db.session.commit()
    login(reseller.users[Role.VIEWER])
    detail = text(client.get(f"/billing/invoices/{held.number}"))
    assert "Payment processing" in detail and "$17.50" in detail
    assert "Payment processing" not in text(client.get(f"/billing/invoices/{free.number}"))
    listing = text(client.get("/billing/invoices", headers=HX))
    row = re.search(rf"{held.number}.*?</tr>", listing, re.S).group(0)
    assert "Payment processing" in row
    other_row = re.search(rf"{free.number}.*?</tr>", listing, re.S).group(0)
    assert "Payment processing" not in other_row
    printed = pdf_text(client.get(f"/billing/invoices/{held.number}.pdf").data)
    assert "payment processing" in printed.lower()


def test_the_invoice_pdf_names_the_issuer_and_how_to_pay(client, login, reseller, app):
    invoice = reseller.invoices[0]
    login(reseller.users[Role.VIEWER])
    printed = pdf_text(client.get(f"/billing/invoices/{invoice.number}.pdf").data)
    for setting in ("ISSUER_NAME", "ISSUER_ADDRESS", "ISSUER_TAX_ID"):
        assert app.config[setting] in printed.replace("\n", " "), setting
    assert "How to pay" in printed and "Confirm payment" in printed
    assert f"http://localhost/billing/pay?invoice={invoice.number}" in printed
    assert "bank account (ACH)" in printed
    paid_by_card(reseller, {0: "37.50"})
    printed = pdf_text(client.get(f"/billing/invoices/{invoice.number}.pdf").data)
    assert "Nothing is left to pay on this invoice." in printed
    assert "/billing/pay?" not in printed


def test_a_cad_invoice_pdf_offers_cards_only(client, login, other):
    login(other.payer)
    printed = pdf_text(client.get(f"/billing/invoices/{other.invoices[0].number}.pdf").data)
    assert "Pay online by card:" in printed and "ACH" not in printed


def test_the_receipt_of_a_payment_made_without_the_pay_flow(client, login, reseller):
    invoice = reseller.invoices[0]
    payment = create_payment(account_id=reseller.account.id, currency="USD",
                             method_label="Bank transfer", allocations=[(invoice, D("12.00"))],
                             received_on=TODAY)
    db.session.commit()
    login(reseller.payer)
    body = text(client.get(f"/billing/payments/{payment.id}"))
    assert invoice.number in body and "$12.00" in body and "Bank transfer" in body
    assert db.session.scalar(select(Payment.id)) == payment.id
