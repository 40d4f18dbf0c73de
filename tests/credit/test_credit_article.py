"""The worked example of `how-is-the-credit-on-my-account-used`, run through the billing run and
the credit services: every figure is read from the article's tables and sentences and compared
with what the services do, so the article cannot drift from the code."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import BillingCycle, Invoice
from app.billing.rating import Period
from app.credit.services import (
    apply_credit_to_invoices,
    credit_balance,
    issue_credit_note,
    reverse_invoice_credit,
)
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import EntryKind, LedgerEntry
from app.reconcile import check_all

ARTICLES = Path(__file__).parents[2] / "content/articles"
ARTICLE = (ARTICLES / "how-is-the-credit-on-my-account-used.md").read_text()
MONEY = r"\$[\d,]+\.\d\d"


def money(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", "").replace("*", "").strip())


def day(text: str) -> date:
    return datetime.strptime(text.strip(), "%B %d, %Y").date()


def section(heading: str) -> str:
    """The article's text under `### heading`, up to the next heading."""
    start = ARTICLE.index(f"\n### {heading}\n")
    following = re.search(r"\n##+ ", ARTICLE[start + 4:])
    return ARTICLE[start:start + 4 + following.start()] if following else ARTICLE[start:]


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table of `text`, as rows of {header: cell}."""
    found = []
    for block in re.findall(r"(?:^\|.*\|\n)+", text, re.M):
        lines = [[cell.strip() for cell in line.strip().strip("|").split("|")]
                 for line in block.strip().splitlines()]
        header, rows = lines[0], lines[2:]
        found.append([dict(zip(header, row, strict=True)) for row in rows])
    return found


def table(text: str, first_header: str, *headers: str) -> list[dict[str, str]]:
    (match,) = [t for t in tables(text) if t and list(t[0])[:1 + len(headers)]
                == [first_header, *headers]]
    return match


NOTES = table(ARTICLE, "Credit note", "Issued", "Amount")
INVOICES = table(ARTICLE, "Invoice", "Issued", "Total")


def make_account(billing, auto_apply: bool):
    """A tax-exempt account whose first invoice of the example comes to the first total and
    the second to the second: a monthly subscription at the later total and a one-time fee
    for the difference (a fee goes on the next invoice issued after its date). Its credit
    notes are the article's."""
    (first, second) = sorted(INVOICES, key=lambda row: day(row["Issued"]))
    account = billing.factory.account(address_line1="1 Main St", tax_exempt=True,
                                      auto_apply_credit=auto_apply)
    customer = services.create_end_customer(account.id, "Customer")
    services.create_subscription(customer=customer, product=billing.product(), quantity=1,
                                 unit_price=money(second["Total"]), start_date=date(2026, 1, 1),
                                 cycle=BillingCycle.MONTHLY)
    services.add_one_time_charge(account_id=account.id, customer=customer, description="Setup",
                                 amount=money(first["Total"]) - money(second["Total"]),
                                 charge_date=day(first["Issued"]) - timedelta(days=20))
    for row in NOTES:
        note = issue_credit_note(account, money(row["Amount"]), "Example",
                                 issue_date=day(row["Issued"]))
        assert note.number == row["Credit note"]
    db.session.commit()
    return account


def issue_invoices(account) -> dict[str, Invoice]:
    """The example's invoices, issued by the billing run, by their name in the article."""
    issued = {}
    for row in sorted(INVOICES, key=lambda row: day(row["Issued"])):
        issue_date = day(row["Issued"])
        run_billing(Period.parse(f"{issue_date:%Y-%m}"), account_ids=[account.id])
        issued[row["Invoice"]] = db.session.scalar(select(Invoice).where(
            Invoice.account_id == account.id, Invoice.issue_date == issue_date))
    for row in INVOICES:
        assert issued[row["Invoice"]].total == money(row["Total"])
    return issued


def steps_done(account, invoices: dict[str, Invoice]) -> list[dict[str, str]]:
    """The applications the services posted, as rows of the article's step tables."""
    names = {invoice.id: name for name, invoice in invoices.items()}
    totals = {invoice.id: invoice.total for invoice in invoices.values()}
    left, remaining, rows = dict(totals), credit_before(), []
    for entry in db.session.scalars(select(LedgerEntry).where(
            LedgerEntry.account_id == account.id,
            LedgerEntry.kind == EntryKind.CREDIT_APPLICATION).order_by(LedgerEntry.id)):
        left[entry.invoice_id] -= entry.amount
        remaining -= entry.amount
        rows.append({"Step": str(len(rows) + 1), "Invoice": names[entry.invoice_id],
                     "Taken from": db.session.get(LedgerEntry, entry.credit_entry_id).reference,
                     "Applied": f"${entry.amount:,}", "Left on the invoice":
                     f"${left[entry.invoice_id]:,}", "Credit remaining": f"${remaining:,}"})
    return rows


def credit_before() -> Decimal:
    return sum((money(row["Amount"]) for row in NOTES), Decimal(0))


def test_the_example_starts_from_the_credit_it_states():
    stated = re.search(rf"available credit is ({MONEY})\*\*", ARTICLE).group(1)
    assert money(stated) == credit_before()
    assert len(NOTES) == 2 and len(INVOICES) == 2


def test_with_auto_apply_on_each_invoice_takes_the_oldest_credit_at_issue(billing):
    text = section("With auto-apply on")
    account = make_account(billing, auto_apply=True)
    invoices = issue_invoices(account)
    assert steps_done(account, invoices) == table(text, "Step")
    (name, due), = re.findall(r"the (\w+ invoice) has \*\*(" + MONEY + r")\*\* left to pay", text)
    assert invoices[name].balance_due == money(due)
    assert credit_balance(account) == money(table(text, "Step")[-1]["Credit remaining"])
    assert check_all() == []


def test_with_auto_apply_off_the_chosen_amounts_and_the_reversal(billing):
    text = section("With auto-apply off")
    account = make_account(billing, auto_apply=False)
    invoices = issue_invoices(account)
    assert all(invoice.credit_applied == 0 for invoice in invoices.values())
    entered = table(text, "Invoice", "Credit to apply")
    # Given newest first: the service still serves the oldest invoice first.
    on = day(re.search(r"On\s+(\w+ \d+)", text).group(1) + ", 2026")
    apply_credit_to_invoices(account, [(invoices[row["Invoice"]], money(row["Credit to apply"]))
                                       for row in reversed(entered)], on=on)
    assert steps_done(account, invoices) == table(text, "Step")

    reversal = re.search(
        rf"\*\*Reverse\*\* next to the (\w+ invoice)\. \*\*All ({MONEY}) comes off together\*\*: "
        rf"({MONEY}) goes back to\s+(CN-\d{{4}}-\d{{6}}) and ({MONEY}) to (CN-\d{{4}}-\d{{6}})\. "
        rf"The \w+ invoice has \*\*({MONEY})\*\* to pay again,\s+and your \*\*available credit "
        rf"is ({MONEY})\*\*", text)
    name, whole, back_1, note_1, back_2, note_2, due, available = reversal.groups()
    lots = {lot.reference: lot for lot in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.CREDIT))}
    before = {ref: ledger.credit_lot_remaining(lot) for ref, lot in lots.items()}
    reversals = reverse_invoice_credit(invoices[name], on=on.replace(day=on.day + 7))
    assert -sum(entry.amount for entry in reversals) == money(whole)
    returned = {ref: ledger.credit_lot_remaining(lot) - before[ref] for ref, lot in lots.items()}
    assert returned == {note_1: money(back_1), note_2: money(back_2)}
    assert invoices[name].balance_due == money(due)
    assert credit_balance(account) == money(available)
    assert check_all() == []


@pytest.mark.parametrize("slug", ["how-is-the-credit-on-my-account-used",
                                  "turn-off-credit-auto-apply"])
def test_the_articles_use_the_credit_pages_own_words(slug, client, login, billing, factory):
    """Every button, heading and box of the credit page the articles name in bold is on the
    page, as an admin with credit, an open invoice and credit on it sees it, with auto-apply
    on and then off."""
    account = billing.account(subscriptions=1, start=date(2026, 1, 1))
    run_billing(Period.parse("2026-03"), account_ids=[account.id])
    issue_credit_note(account, Decimal("5.00"), "Example", issue_date=date(2026, 3, 5))
    invoice = db.session.scalar(select(Invoice).where(Invoice.account_id == account.id))
    apply_credit_to_invoices(account, [(invoice, Decimal("1.00"))], on=date(2026, 3, 6))
    db.session.commit()
    login(factory.user(Role.ADMIN, account=account))
    page = client.get("/billing/credit").get_data(as_text=True)
    client.post("/billing/credit/auto-apply", data={"auto_apply": "off"})
    page += client.get("/billing/credit").get_data(as_text=True)
    text = (ARTICLES / f"{slug}.md").read_text()
    named = set(re.findall(r"\*\*((?:Turn auto-apply o\w+|Apply credit[\w ]*|Credit to apply|"
                           r"Credit on unpaid invoices|Reverse|Available credit|Auto-apply|"
                           r"Credit ledger))\*\*", text))
    assert {"Reverse", "Apply credit", "Turn auto-apply off", "Turn auto-apply on"} <= named
    for words in named:
        assert words in page, words
