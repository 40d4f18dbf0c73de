"""Billing benchmarks on PostgreSQL (SPEC §15):

- the billing run: subscriptions per second for one period of ≥ 100,000 subscriptions, with
  auto-apply on and credit waiting on one account in three (so that the credit service applies
  it as the invoices are issued), against a raw bulk insert of the same invoice and line rows
  (the floor: writing the result and nothing else);
- invoice pages under gunicorn, signed in, on the large data set (≥ 1,000 accounts × 24
  months), against `/healthz` in the same run;
- one invoice of 10,000 lines: detail page, one end customer's group, PDF and CSV;
- SQL queries per page, for a small and a large account (they must be equal).
"""

import os
import re
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import Column, event, func, insert, select, text

from app import create_app
from app.accounts.models import Account, Role
from app.accounts.services import create_account, create_user
from app.billing import services as billing_services
from app.billing.engine import run_billing
from app.billing.models import (
    BillingCycle,
    ChargeModel,
    EndCustomer,
    Invoice,
    InvoiceLine,
    Subscription,
)
from app.billing.rating import Period
from app.config import BASE_DIR, TestConfig
from app.credit.services import issue_credit_note
from app.demo import billing_data
from app.demo.services import DEMO_PASSWORD, create_bulk_accounts, seed_demo
from app.extensions import db
from app.ledger.models import EntryKind, LedgerEntry
from app.money import CENT
from bench.pages import (
    HOST,
    VENV_BIN,
    Target,
    _children,
    _memory_kb,
    _stop,
    _wait_until_up,
    free_port,
    load_interleaved,
)
from bench.stats import ratio

BENCH_USER = "bench-admin@example.test"
BIG_USER = "big-admin@example.test"


def make_app(database_url: str, work_dir: Path):
    config = type("BenchConfig", (TestConfig,), {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SEARCH_INDEX_DIR": work_dir / "search-index",
        "PASSWORD_HASH_METHOD": "scrypt",
    })
    return create_app(config)


def reset_database(app) -> None:
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()


def _subscriptions_in(period: Period, account_ids: list[int]) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Subscription).where(
            Subscription.account_id.in_(account_ids),
            Subscription.start_date <= period.start,
            Subscription.end_date.is_(None) | (Subscription.end_date >= period.previous_start),
        )
    ) or 0


def _raw_insert_seconds(period: Period) -> tuple[float, int]:
    """Write this period's invoices and lines again, as plain rows into empty copies of the
    tables: the floor under the billing run."""
    invoice_rows = [dict(r._mapping) for r in db.session.execute(
        select(Invoice.__table__).where(Invoice.period_start == period.start))]
    ids = [row["id"] for row in invoice_rows]
    line_rows = [dict(r._mapping) for r in db.session.execute(
        select(InvoiceLine.__table__).where(InvoiceLine.invoice_id.in_(ids)))]
    db.session.commit()
    # Temporary tables belong to one connection: made in the transaction that fills them (not
    # committed in between, when the pool could hand out another connection), and dropped when
    # it commits.
    db.session.execute(text("CREATE TEMP TABLE bench_invoices (LIKE invoices INCLUDING DEFAULTS) "
                            "ON COMMIT DROP"))
    db.session.execute(text("CREATE TEMP TABLE bench_lines (LIKE invoice_lines INCLUDING DEFAULTS) "
                            "ON COMMIT DROP"))
    # Names and types are all an INSERT needs (Column.copy() is deprecated).
    copy_invoices = db.Table("bench_invoices", db.MetaData(),
                             *[Column(c.name, c.type) for c in Invoice.__table__.columns])
    copy_lines = db.Table("bench_lines", db.MetaData(),
                          *[Column(c.name, c.type) for c in InvoiceLine.__table__.columns])
    started = time.perf_counter()
    db.session.execute(insert(copy_invoices), invoice_rows)
    db.session.execute(insert(copy_lines), line_rows)
    db.session.commit()
    return time.perf_counter() - started, len(line_rows)


# One account in CREDIT_EVERY has credit when the timed period is billed: a credit note of a
# third of its previous invoice and, on every other of those accounts, a second one of twice
# that invoice, so that some invoices take part of their total from one note and the others
# are paid whole from two notes, with credit left over.
CREDIT_EVERY = 3


def grant_bench_credit(account_ids: list[int], period: Period) -> int:
    """Credit notes for one account in CREDIT_EVERY, dated before `period`, sized on each
    account's invoice of the month before. Returns how many accounts got credit."""
    totals = dict(db.session.execute(
        select(Invoice.account_id, Invoice.total).where(
            Invoice.account_id.in_(account_ids), Invoice.period_start == period.previous_start)
    ).all())
    granted = 0
    for n, account_id in enumerate(account_ids):
        total = totals.get(account_id)
        if n % CREDIT_EVERY or not total:
            continue
        account = db.session.get(Account, account_id)
        issue_credit_note(account, (total / 3).quantize(CENT), "Benchmark service credit",
                          issue_date=period.start - timedelta(days=10))
        if n % (2 * CREDIT_EVERY) == 0:
            issue_credit_note(account, 2 * total, "Benchmark goodwill credit",
                              issue_date=period.start - timedelta(days=5))
        granted += 1
    db.session.commit()
    return granted


def _credit_applied(period: Period, account_ids: list[int]) -> tuple[int, int, Decimal]:
    """Invoices of `period` that took credit, the ledger entries that applied it, and how
    much it came to."""
    invoices, amount = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Invoice.credit_applied), 0)).where(
            Invoice.account_id.in_(account_ids), Invoice.period_start == period.start,
            Invoice.credit_applied > 0)).one()
    entries = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).join(
            Invoice, Invoice.id == LedgerEntry.invoice_id).where(
            LedgerEntry.kind == EntryKind.CREDIT_APPLICATION,
            Invoice.account_id.in_(account_ids), Invoice.period_start == period.start)) or 0
    return invoices, entries, Decimal(amount)


def bench_billing_run(app, accounts: int, months: int, log=print) -> dict:
    """Make `accounts` accounts, bill `months - 1` months of history, then time the run of the
    current month (all accounts, one worker) and the raw insert of what it wrote."""
    today = date.today()
    first = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    periods = billing_data.months_between(first, today)
    with app.app_context():
        started = time.perf_counter()
        ids = create_bulk_accounts(accounts, first, today)
        made = time.perf_counter() - started
        subscriptions = db.session.scalar(select(func.count()).select_from(Subscription)) or 0
        log(f"  {accounts} accounts, {subscriptions} subscriptions made in {made:.0f} s")
        started = time.perf_counter()
        for index, period in enumerate(periods[:-1], start=1):
            run_billing(period, account_ids=ids)
            if index % 6 == 0:
                log(f"  history: {index}/{len(periods) - 1} months billed")
        history = time.perf_counter() - started
        period = periods[-1]
        billed = _subscriptions_in(period, ids)
        with_credit = grant_bench_credit(ids, period)
        auto_apply_off = db.session.scalar(select(func.count()).select_from(Account).where(
            Account.id.in_(ids), Account.auto_apply_credit.is_(False)))
        assert auto_apply_off == 0, "the benchmark bills with auto-apply on"
        started = time.perf_counter()
        result = run_billing(period, account_ids=ids)
        run_seconds = time.perf_counter() - started
        credited, applications, credit_applied = _credit_applied(period, ids)
        log(f"  {credited} of {len(result.issued)} invoices took credit "
            f"({applications} ledger entries)")
        raw_seconds, lines = _raw_insert_seconds(period)
    return {
        "accounts": accounts,
        "months": months,
        "subscriptions_total": subscriptions,
        "subscriptions_billed": billed,
        "invoices_issued": len(result.issued),
        "lines_written": lines,
        "accounts_with_credit": with_credit,
        "invoices_taking_credit": credited,
        "credit_applications": applications,
        "credit_applied": str(credit_applied),
        "history_seconds": round(history, 1),
        "run_seconds": round(run_seconds, 2),
        "subscriptions_per_second": round(billed / run_seconds),
        "raw_insert_seconds": round(raw_seconds, 2),
        "raw_rows_per_second": round((lines + len(result.issued)) / raw_seconds),
        "run_vs_raw_insert": ratio(run_seconds, raw_seconds),
    }


def make_users(app, bulk_account_id: int) -> None:
    with app.app_context():
        account = db.session.get(Account, bulk_account_id)
        create_user(email=BENCH_USER, name="Bench Admin", password=DEMO_PASSWORD,
                    role=Role.ADMIN, account=account)
        db.session.commit()


def make_big_invoice(app, lines: int = 10_000) -> str:
    """An account of `lines` subscriptions over 50 end customers, billed once."""
    with app.app_context():
        account = create_account(number="R-399999", legal_name="Very Large Reseller",
                                 country="US", region="WA", currency="USD",
                                 address_line1="1 Large Way", city="Seattle", postal_code="98101")
        create_user(email=BIG_USER, name="Big Admin", password=DEMO_PASSWORD, role=Role.ADMIN,
                    account=account)
        product = billing_services.create_product(
            sku="BENCH-SEAT", name="Benchmark seat", vendor="Bench",
            charge_model=ChargeModel.PER_SEAT, unit="seat", list_price=Decimal("10"))
        db.session.execute(insert(EndCustomer), [
            {"account_id": account.id, "name": f"Customer {i:03d}"} for i in range(50)])
        customers = list(db.session.scalars(
            select(EndCustomer.id).where(EndCustomer.account_id == account.id)))
        start = date.today().replace(day=1) - timedelta(days=40)
        db.session.execute(insert(Subscription), [
            {"account_id": account.id, "end_customer_id": customers[i % 50],
             "product_id": product.id, "quantity": 1 + i % 9,
             "unit_price": Decimal("10.00") + i % 13, "cycle": BillingCycle.MONTHLY,
             "start_date": start.replace(day=1), "status": "active"} for i in range(lines)])
        db.session.commit()
        result = run_billing(Period.parse(f"{date.today():%Y-%m}"), account_ids=[account.id])
        return result.issued[0]


def _signed_in_client(app, email: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"email": email, "password": DEMO_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    assert client.post("/login", data=data).status_code == 303
    return client


def _median_ms(call, repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def bench_big_invoice(app, number: str) -> dict:
    client = _signed_in_client(app, BIG_USER)
    detail = client.get(f"/billing/invoices/{number}")
    assert detail.status_code == 200
    key = detail.get_data(as_text=True).split(f"/billing/invoices/{number}/customers/")[1]\
        .split('"')[0]

    def fetch(url, **headers):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        return response

    return {
        "lines": 10_000,
        "detail_ms": _median_ms(lambda: fetch(f"/billing/invoices/{number}")),
        "group_fragment_ms": _median_ms(lambda: fetch(
            f"/billing/invoices/{number}/customers/{key}", **{"HX-Request": "true"})),
        "csv_ms": _median_ms(lambda: fetch(f"/billing/invoices/{number}.csv")),
        "pdf_ms": _median_ms(lambda: fetch(f"/billing/invoices/{number}.pdf"), repeat=1),
    }


@contextmanager
def _counting(engine):
    statements: list[str] = []

    def count(*_args):
        statements.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def queries_per_page(app, email: str) -> dict[str, int]:
    client = _signed_in_client(app, email)
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).join(Account.users).where(
            text("users.email = :email")).params(email=email))
        number = db.session.scalar(select(Invoice.number).where(
            Invoice.account_id == account_id).order_by(Invoice.issue_date.desc()).limit(1))
    counts = {}
    with app.app_context():
        engine = db.engine
    for name, url in [("invoice list", "/billing/invoices"),
                      ("invoice detail", f"/billing/invoices/{number}"),
                      ("statement", "/billing/statement"), ("history", "/billing/history")]:
        with _counting(engine) as statements:
            assert client.get(url).status_code == 200, url
        counts[name] = len(statements)
    return counts


def session_cookie(port: int, email: str) -> str:
    """Sign in over HTTP and return the Cookie header value of the session."""
    import http.client

    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    body = f"email={email}&password={DEMO_PASSWORD}"
    if token:
        body += f"&csrf_token={token.group(1)}"
    connection.request("POST", "/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = connection.getresponse()
    response.read()
    assert response.status == 303, response.status
    # The sign-in also sets the throttle's device cookie: pick the session's.
    (session,) = [cookie.split(";")[0] for cookie in response.msg.get_all("Set-Cookie")
                  if cookie.startswith("session=")]
    return session


def bench_invoice_pages(port: int, clients: int, duration: float, log=print) -> dict:
    """Signed-in invoice pages against /healthz, on a running gunicorn."""
    cookie = session_cookie(port, BENCH_USER)
    headers = {"Cookie": cookie}
    import http.client

    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", "/billing/invoices?status=all", headers=headers)
    listing = connection.getresponse().read().decode()
    number = re.search(r"/billing/invoices/(INV-\d{4}-\d{6})\"", listing).group(1)
    targets = [
        Target("healthz", "/healthz"),
        Target("invoice list", "/billing/invoices", headers),
        Target("invoice list, filtered (htmx)", "/billing/invoices?status=paid&q=INV",
               {**headers, "HX-Request": "true"}),
        Target("invoice detail", f"/billing/invoices/{number}", headers),
        Target("statement", "/billing/statement", headers),
    ]
    results = load_interleaved(port, targets, clients, duration, log=log)
    for row in results.values():
        row.pop("headers", None)  # the session cookie stays out of the results
    base = results["healthz"]
    for result in results.values():
        result["rps_vs_healthz"] = ratio(result["rps"], base["rps"])
        result["p50_vs_healthz"] = ratio(result["latency_ms"]["p50"], base["latency_ms"]["p50"])
    return results


def prepare_large_dataset(database_url: str, accounts: int, months: int, log=print) -> dict:
    """Reset the database, seed the demo, and run the billing benchmark (which leaves the large
    data set behind for the page benchmark). Returns the billing-run figures."""
    work_dir = Path(tempfile.mkdtemp(prefix="bench-billing-"))
    app = make_app(database_url, work_dir)
    reset_database(app)
    with app.app_context():
        seed_demo()
        db.session.commit()
    figures = bench_billing_run(app, accounts, months, log=log)
    with app.app_context():
        bulk_id = db.session.scalar(select(Account.id).where(Account.number == "R-200001"))
    make_users(app, bulk_id)
    log("  a 10,000-line invoice")
    number = make_big_invoice(app)
    return {"billing_run": figures, "big_invoice": bench_big_invoice(app, number),
            "queries_per_page": {"small account (Northwind)":
                                 queries_per_page(app, "admin@northwind.example"),
                                 "large account (bench)": queries_per_page(app, BENCH_USER)}}


def serve_and_load(database_url: str, *, duration: float, clients: int = 8, workers: int = 2,
                   log=print) -> dict:
    """Start gunicorn on the prepared database and load the invoice pages against /healthz."""
    work_dir = Path(tempfile.mkdtemp(prefix="bench-billing-pages-"))
    env = {key: value for key, value in os.environ.items() if key != "PORTAL_ENV"}
    env.update(DATABASE_URL=database_url, SEARCH_INDEX_DIR=str(work_dir / "search-index"),
               RATELIMIT_ENABLED="0")
    port = free_port()
    log_path = work_dir / "gunicorn.log"
    command = [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--bind",
               f"{HOST}:{port}", "--error-logfile", str(log_path), "wsgi:app"]
    figures: dict = {"clients": clients, "workers": workers, "duration_s": duration}
    with open(work_dir / "gunicorn.out", "w") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        try:
            _wait_until_up(process, port, log_path, timeout=120)
            figures["targets"] = bench_invoice_pages(port, clients, duration, log=log)
            figures["memory_kb"] = {f"worker {n}": {"pid": pid, **_memory_kb(pid)}
                                    for n, pid in enumerate(_children(process.pid), start=1)}
        finally:
            _stop(process)
    return figures


def run_billing_bench(database_url: str, *, accounts: int, months: int, duration: float,
                      clients: int = 8, workers: int = 2, log=print) -> dict:
    """Everything of this module, in one run, on the PostgreSQL database at `database_url`
    (which it empties)."""
    figures = prepare_large_dataset(database_url, accounts, months, log=log)
    figures["invoice_pages"] = serve_and_load(database_url, duration=duration, clients=clients,
                                              workers=workers, log=log)
    return figures
