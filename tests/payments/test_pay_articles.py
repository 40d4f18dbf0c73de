"""The pay and receipt articles say what the code does: their numbers are the code's constants,
the words they quote are the screens' and the messages' own, and the worked example is run
through the pay services."""

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from app.accounts.models import Role
from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import Invoice, InvoiceStatus
from app.billing.rating import Period
from app.credit.services import credit_balance
from app.extensions import db
from app.formatting import money
from app.payments import pay
from app.payments.gateways.declines import describe_decline
from app.payments.gateways.sandbox import ACH_SETTLEMENT_BUSINESS_DAYS
from app.payments.receipts import PAGE_SIZE, STATUS_LABELS
from app.reconcile import check_all
from tests.payments.paying import add_card, give_credit

ROOT = Path(__file__).parents[2]
PAY_ARTICLE = ROOT / "content/articles/how-do-i-submit-a-payment-for-open-invoices.md"
RECEIPT_ARTICLE = ROOT / "content/articles/payment-receipts.md"
TEMPLATES = ROOT / "templates"


def screens() -> str:
    """The text of the pay, payments and invoice pages' templates and the shared macros (tags
    left out), and the labels of their forms."""
    files = [*(TEMPLATES / "payments").glob("*.html"), TEMPLATES / "billing/invoice.html",
             TEMPLATES / "_macros.html",
             ROOT / "app/payments/pay_forms.py"]
    return re.sub(r"<[^>]+>", " ", " ".join(path.read_text() for path in files))


def section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def bold(text: str) -> list[str]:
    return re.findall(r"\*\*([^*]+)\*\*", text)


def money_of(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", "").replace("−", "").strip())


def test_settlement_days_and_page_size_are_the_codes():
    for article in (PAY_ARTICLE, RECEIPT_ARTICLE):
        days = re.findall(r"(\d+) business days", article.read_text())
        assert days and set(days) == {str(ACH_SETTLEMENT_BUSINESS_DAYS)}, article.name
    assert re.findall(r"(\d+) to a page", RECEIPT_ARTICLE.read_text()) == [str(PAGE_SIZE)]


def test_the_steps_use_the_screens_words():
    pages = screens()
    steps = section(PAY_ARTICLE.read_text(), "Pay your open invoices")
    words = bold(steps)
    assert {"Review", "Confirm payment", "Change", "Apply available credit", "Pay with",
            "To charge"} <= set(words)
    assert [word for word in words if word not in pages] == []
    receipts = RECEIPT_ARTICLE.read_text()
    for heading in ("Find a payment", "What a receipt shows"):
        assert [w for w in bold(section(receipts, heading)) if w not in pages] == [], heading


def test_the_statuses_are_the_receipts_labels():
    table = section(RECEIPT_ARTICLE.read_text(), "Payment statuses")
    assert re.findall(r"^\| \*\*([^*]+)\*\* \|", table, re.M) == list(STATUS_LABELS.values())


def test_the_quoted_messages_are_the_codes():
    text = " ".join(PAY_ARTICLE.read_text().split())
    assert f'"{describe_decline("generic_decline")}"' in text
    quoted = re.search(r'\*\*"([^"]+)"\*\*', text).group(1)
    assert pay.REVIEW_AGAIN.startswith(quoted)


def test_the_worked_example(billing, factory):
    """The example's invoices, credit and amounts, paid through the pay services: each row's
    credit, charge, what is left and the new status, and the review's totals."""
    text = PAY_ARTICLE.read_text()
    example = section(text, "Example")
    rows = re.findall(r"^\| (INV-[\d-]+)[^|]* \| (\$[\d.,]+) \| (\$[\d.,]+) \| (\$[\d.,]+) \| "
                      r"(\$[\d.,]+) \| (\$[\d.,]+) \| ([\w ]+) \|$", example, re.M)
    credit = money_of(re.search(r"and (\$[\d.,]+) of credit", example).group(1))
    totals = [money_of(amount) for amount in re.findall(
        r"\*\*(?:Invoices total|Credit applied|To charge)\*\*\s+(?:of\s+)?\*{0,2}(−?\$[\d.,]+)",
        example)]
    assert len(rows) == 2 and len(totals) == 3

    # An account whose invoices are exactly the example's balances: one-time fees (billed the
    # month after), no tax.
    account = factory.account(address_line1="1 Main St", city="Seattle", postal_code="98101",
                              tax_exempt=True, auto_apply_credit=False)
    for month, (_, balance, *_) in zip((10, 11), rows, strict=True):
        services.add_one_time_charge(account_id=account.id, description="Example",
                                     amount=money_of(balance), charge_date=date(2026, month - 1, 5))
        db.session.commit()
        run_billing(Period.parse(f"2026-{month}"), account_ids=[account.id])
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                       .order_by(Invoice.issue_date)))
    give_credit(account, str(credit))
    payer = factory.user(Role.BILLING, account=account)
    card = add_card(account, payer)

    selections = [(invoice.id, money_of(row[2])) for invoice, row in zip(invoices, rows,
                                                                         strict=True)]
    plan = pay.plan_payment(account, selections, apply_credit=True, method_id=card.id,
                            today=date(2026, 11, 20))
    assert [plan.invoices_total, -plan.credit_applied, plan.to_charge] == \
        [totals[0], -totals[1], totals[2]]
    result = pay.pay_invoices(account, payer.id, selections, method_id=card.id,
                              apply_credit=True, today=date(2026, 11, 20))
    db.session.commit()
    assert result.outcome == "succeeded" and result.payment.amount == totals[2]
    statuses = {"Paid": InvoiceStatus.PAID, "Partially paid": InvoiceStatus.PARTIALLY_PAID}
    for invoice, line, row in zip(invoices, plan.lines, rows, strict=True):
        _, balance, amount, applied, charged, left, status = row
        db.session.refresh(invoice)
        assert invoice.total == money_of(balance)
        assert (line.amount, line.credit, line.charge) == (
            money_of(amount), money_of(applied), money_of(charged))
        assert (invoice.balance_due, invoice.status) == (money_of(left), statuses[status])
    assert credit_balance(account) == 0
    assert f"**To charge** **{money(totals[2], 'USD')}**" in example
    assert check_all() == []
