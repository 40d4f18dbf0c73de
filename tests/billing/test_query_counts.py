"""SQL queries per page do not grow with the data: more invoices, more lines, same count."""

from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from sqlalchemy import event

from app.accounts.models import Role
from app.billing import services
from app.billing.engine import run_billing
from app.billing.models import Invoice
from app.billing.rating import Period
from app.extensions import db


@contextmanager
def counted(engine):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def queries(client, url) -> int:
    with counted(db.engine) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def grow(billing, account, customers: int, subscriptions: int) -> None:
    for index in range(customers):
        customer = services.create_end_customer(account.id, f"Grown customer {index}")
        for _ in range(subscriptions):
            services.create_subscription(customer=customer, product=billing.product(),
                                         quantity=2, unit_price=Decimal("10"),
                                         start_date=date(2026, 1, 1))
    db.session.commit()


def test_list_and_detail_queries_do_not_grow(client, login, billing, factory):
    small = billing.account(subscriptions=1, start=date(2026, 1, 1))
    large = billing.account(subscriptions=1, start=date(2026, 1, 1))
    grow(billing, large, customers=12, subscriptions=20)
    for period in ("2026-01", "2026-02", "2026-03"):
        run_billing(Period.parse(period))
    for month in range(4, 12):
        run_billing(Period.parse(f"2026-{month:02d}"), account_ids=[large.id])
    small_invoice = db.session.query(Invoice).filter_by(account_id=small.id).first()
    large_invoice = db.session.query(Invoice).filter_by(account_id=large.id).first()
    assert large_invoice.line_count > 200 and small_invoice.line_count == 1

    login(factory.user(Role.VIEWER, account=small))
    small_counts = [queries(client, "/billing/invoices"),
                    queries(client, f"/billing/invoices/{small_invoice.number}"),
                    queries(client, "/billing/statement")]
    client.post("/logout")
    login(factory.user(Role.VIEWER, account=large))
    large_counts = [queries(client, "/billing/invoices"),
                    queries(client, f"/billing/invoices/{large_invoice.number}"),
                    queries(client, "/billing/statement")]
    print("queries per page (list, detail, statement):", large_counts)
    assert large_counts == small_counts
    assert max(large_counts) <= 12
