"""The demo data of the public contract (SPEC §3), made by the billing engine."""

from datetime import date

from sqlalchemy import func, select

from app.accounts.models import Account, User
from app.billing.models import (
    ChargeType,
    EndCustomer,
    HistoricalInvoice,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Subscription,
)
from app.billing.rating import Period
from app.credit.services import credit_balance
from app.demo.billing_data import months_between
from app.demo.services import DEMO_PASSWORD, seed_demo
from app.extensions import db
from app.payments.gateways.base import BankAccountType, MethodKind
from app.payments.methods import list_methods, usable_methods
from app.payments.models import MethodStatus, PaymentMethod
from app.reconcile import check_all


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_seed_matches_the_contract(app):
    today = date(2026, 11, 25)
    seed_demo(today)
    db.session.commit()
    northwind = db.session.scalar(select(Account).where(Account.number == "R-100001"))
    contoso = db.session.scalar(select(Account).where(Account.number == "R-100002"))
    assert (northwind.legal_name, northwind.country, northwind.currency, northwind.region) == (
        "Northwind Cloud Solutions", "US", "USD", "WA")
    assert (contoso.legal_name, contoso.currency, contoso.region) == (
        "Contoso Partners Ltd", "CAD", "ON")
    emails = set(db.session.scalars(select(User.email)))
    assert emails == {"admin@northwind.example", "billing@northwind.example",
                      "viewer@northwind.example", "admin@contoso.example",
                      "staff@distributor.example"}
    assert count(EndCustomer, EndCustomer.account_id == northwind.id) >= 12
    assert count(Subscription, Subscription.account_id == northwind.id) >= 60

    # Monthly invoices from the cutover month to the current month, by the engine…
    periods = {p.start for p in months_between(app.config["CUTOVER_DATE"], today)}
    issued = set(db.session.scalars(select(Invoice.period_start)
                                    .where(Invoice.account_id == northwind.id)))
    assert issued == periods and Period.parse("2026-11").start in issued
    # … and historical ones for the 18 months before it.
    assert count(HistoricalInvoice, HistoricalInvoice.account_id == northwind.id) == 18

    unpaid = list(db.session.scalars(select(Invoice).where(
        Invoice.account_id == northwind.id,
        Invoice.status.in_([InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID]))))
    assert len(unpaid) >= 3
    assert any(invoice.is_overdue(today) for invoice in unpaid)
    # A change and a cancellation from August reported late (SPEC §12): the invoice of October
    # 2026 corrects the days the invoices of August and September billed, with adjustment lines
    # that name them — more seats, and the cancelled seats' credit.
    adjustments = list(db.session.scalars(select(InvoiceLine).join(Invoice).where(
        Invoice.account_id == northwind.id, Invoice.period_start == date(2026, 10, 1),
        InvoiceLine.charge_type == ChargeType.ADJUSTMENT)))
    named = {line.description.split(":")[0] for line in adjustments}
    assert {line.quantity > 0 for line in adjustments} == {True, False}
    assert named == {f"Adjustment to {number}" for number in db.session.scalars(
        select(Invoice.number).where(Invoice.account_id == northwind.id,
                                     Invoice.period_start.in_([date(2026, 8, 1),
                                                               date(2026, 9, 1)])))}
    # PO numbers from August 2026 (three months before the current month): the invoices from
    # then on print the account's, and one end customer's lines carry its own.
    po_invoices = dict(db.session.execute(select(Invoice.period_start, Invoice.po_number)
                                          .where(Invoice.account_id == northwind.id)).all())
    assert {period for period, po in po_invoices.items() if po == "NW-4500017"} == {
        date(2026, month, 1) for month in (8, 9, 10, 11)}
    assert {po for period, po in po_invoices.items() if period < date(2026, 8, 1)} == {None}
    customer_pos = set(db.session.execute(
        select(InvoiceLine.end_customer_name, InvoiceLine.po_number).join(Invoice).where(
            Invoice.account_id == northwind.id, Invoice.period_start == date(2026, 11, 1),
            InvoiceLine.po_number.is_not(None))).all())
    assert len(customer_pos) == 1 and customer_pos.pop()[1] == "AC-88412"
    # A credit balance (SPEC §3), and every figure agrees with the ledger.
    assert credit_balance(northwind) > 0
    assert check_all() == []


def test_demo_payment_methods_match_the_contract(app):
    today = date(2026, 11, 25)
    seed_demo(today)
    db.session.commit()
    northwind = db.session.scalar(select(Account).where(Account.number == "R-100001"))
    contoso = db.session.scalar(select(Account).where(Account.number == "R-100002"))
    admin = db.session.scalar(select(User).where(User.email == "admin@northwind.example"))

    card, bank = list_methods(northwind.id)  # the default first
    assert (card.kind, card.label, card.brand, card.status, card.is_default) == (
        MethodKind.CARD, "Visa •••• 4242", "Visa", MethodStatus.VERIFIED, True)
    assert (card.exp_month, card.exp_year) == (12, 2029)
    assert (bank.kind, bank.label, bank.routing_number, bank.account_type, bank.status,
            bank.is_default) == (MethodKind.ACH, "ACH •••• 6789", "110000000",
                                 BankAccountType.CHECKING, MethodStatus.VERIFIED, False)
    assert bank.authorised_by_id == admin.id and bank.authorised_at is not None
    assert bank.authorisation_text.startswith(
        f"Northwind Cloud Solutions (R-100001) authorises {app.config['ISSUER_NAME']} ")
    assert usable_methods(northwind.id, today) == [card, bank]

    # Contoso is billed in CAD: a card only, no bank account.
    assert [(m.kind, m.label, m.is_default) for m in list_methods(contoso.id)] == [
        (MethodKind.CARD, "Visa •••• 4242", True)]
    assert count(PaymentMethod) == 3


def test_seed_is_idempotent_and_demo_users_sign_in(app, client):
    seed_demo(date(2026, 11, 25))
    db.session.commit()
    before = count(Invoice), count(PaymentMethod)
    assert seed_demo(date(2026, 11, 25)) == []
    assert (count(Invoice), count(PaymentMethod)) == before
    response = client.post("/login", data={"email": "admin@contoso.example",
                                           "password": DEMO_PASSWORD})
    assert response.status_code == 303
