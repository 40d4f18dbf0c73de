"""The pay flow under load (SPEC §8, §15): gunicorn serving the portal, and one signed-in billing
user per client thread, each of a reseller of their own, paying their open invoice again and
again as a browser does — the pay page (which issues a draft), then Review and Confirm payment
by htmx, charged to a card on the sandbox gateway — against `/healthz` in the same run, in
slices taken in turn."""

import http.client
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from flask_migrate import upgrade
from sqlalchemy import select, text

from app import create_app
from app.accounts.models import Role
from app.accounts.services import create_account, create_user
from app.billing import services as billing_services
from app.billing.engine import run_billing
from app.billing.models import ChargeModel, Invoice
from app.billing.rating import Period
from app.config import BASE_DIR, TestConfig
from app.demo.services import DEMO_PASSWORD
from app.extensions import db
from app.payments import methods
from app.payments.gateways import get_gateway
from bench.pages import (
    HOST,
    VENV_BIN,
    LoadResult,
    Target,
    _children,
    _memory_kb,
    _stop,
    _tail,
    _wait_until_up,
    free_port,
    load,
)
from bench.stats import ratio, summarise

STEPS = ["pay page (new draft)", "review", "confirm payment"]
# Each confirmation pays this much of the payer's invoice, which has room for many thousands.
AMOUNT = "0.01"
INVOICE_AMOUNT = Decimal("5000.00")
HX = {"HX-Request": "true"}


@dataclass(frozen=True)
class Payer:
    email: str
    invoice_id: int
    method_id: int


@dataclass
class FlowResult:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    flows: int = 0
    unexpected: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def make_payers(database_url: str, work_dir: Path, count: int) -> list[Payer]:
    """Empty the database, migrate it, and make `count` resellers, each with a billing user,
    a card on file and one open invoice of INVOICE_AMOUNT."""
    config = type("PayBenchConfig", (TestConfig,), {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SEARCH_INDEX_DIR": work_dir / "search-index",
        "PASSWORD_HASH_METHOD": "scrypt",
    })
    app = create_app(config)
    payers = []
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
        product = billing_services.create_product(
            sku="BENCH-PAY", name="Benchmark plan", vendor="Bench",
            charge_model=ChargeModel.PER_SEAT, unit="plan", list_price=INVOICE_AMOUNT)
        period = Period.parse(f"{date.today():%Y-%m}")
        gateway = get_gateway()
        for number in range(count):
            account = create_account(
                number=f"R-6{number:05d}", legal_name=f"Bench Payer {number}", country="US",
                region="WA", currency="USD", address_line1="1 Bench Way", city="Seattle",
                postal_code="98101", tax_exempt=True)
            user = create_user(email=f"payer{number}@bench.example", name=f"Payer {number}",
                               password=DEMO_PASSWORD, role=Role.BILLING, account=account)
            customer = billing_services.create_end_customer(account.id, "Bench customer")
            billing_services.create_subscription(
                customer=customer, product=product, quantity=1, unit_price=INVOICE_AMOUNT,
                start_date=period.start - timedelta(days=40))
            setup = gateway.begin_card_setup(customer=account.number, return_url="/")
            gateway.tokenize_card(setup.reference, number="4242424242424242", exp_month=12,
                                  exp_year=date.today().year + 3, cvc="123")
            card = methods.add_card(account, gateway.finish_card_setup(setup.reference),
                                    user=user)
            db.session.commit()
            run_billing(period, account_ids=[account.id])
            invoice_id = db.session.scalar(select(Invoice.id)
                                           .where(Invoice.account_id == account.id))
            payers.append(Payer(user.email, invoice_id, card.id))
        db.session.remove()
        db.engine.dispose()
    return payers


class Browser:
    """One signed-in user over a keep-alive connection, keeping the session cookie up to date
    as a browser does (the CSRF secret and flashed messages live in it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict | None = None) -> tuple[int, dict, str]:
        headers = {**(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            content = response.read().decode()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
            raise
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, dict(response.getheaders()), content

    def sign_in(self, email: str) -> None:
        _, _, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", "/login", urlencode(
            {"email": email, "password": DEMO_PASSWORD, "csrf_token": token}))
        assert status == 303, f"sign-in of {email} answered {status}"

    def close(self) -> None:
        self.connection.close()


def pay_once(browser: Browser, payer: Payer, result: FlowResult, timed: bool) -> None:
    """One payment as the pages make it: the pay page, Review, Confirm payment."""
    def step(name: str, expected: int, method: str, path: str, body=None, headers=None):
        started = time.perf_counter()
        status, response_headers, content = browser.request(method, path, body, headers)
        if timed:
            result.latencies_ms[name].append((time.perf_counter() - started) * 1000)
        if status != expected:
            result.unexpected.append(f"{name}: {status}")
            raise LookupError(name)
        return response_headers, content

    headers, _ = step(STEPS[0], 303, "GET", "/billing/pay")
    location = headers["Location"]
    draft = re.search(r"draft=([\w-]+)", location).group(1)
    # The page the redirect leads to, as a browser loads it (not counted: it is the form).
    _, page = browser.request("GET", location)[1:]
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    posted = {**HX, "X-CSRFToken": token}
    form = urlencode({"draft": draft, f"pay_{payer.invoice_id}": "y",
                      f"amount_{payer.invoice_id}": AMOUNT, "method": str(payer.method_id)})
    step(STEPS[1], 200, "POST", "/billing/pay/review", form, posted)
    headers, _ = step(STEPS[2], 204, "POST", "/billing/pay/confirm",
                      urlencode({"draft": draft}), posted)
    if not headers.get("HX-Redirect", "").startswith("/billing/payments/"):
        result.unexpected.append("confirm payment: no receipt to go to")
    if timed:
        result.flows += 1


def run_flows(port: int, payers: list[Payer], duration: float, result: FlowResult,
              timed: bool = True) -> float:
    """Every payer pays back to back for `duration` seconds. Returns the seconds taken."""
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def client(payer: Payer) -> None:
        browser = Browser(port)
        own = FlowResult()
        try:
            browser.sign_in(payer.email)
            while time.perf_counter() < deadline:
                try:
                    pay_once(browser, payer, own, timed)
                except LookupError:
                    continue
                except (OSError, http.client.HTTPException) as error:
                    own.errors.append(f"{type(error).__name__}: {error}")
        finally:
            browser.close()
        with lock:
            for name in STEPS:
                result.latencies_ms[name].extend(own.latencies_ms[name])
            result.flows += own.flows
            result.unexpected.extend(own.unexpected)
            result.errors.extend(own.errors)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(payer,)) for payer in payers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run_pay_bench(work_dir: Path, database_url: str | None = None, duration: float = 10.0,
                  clients: int = 8, workers: int = 2, log=print) -> dict:
    """Prepare `clients` payers on `database_url` (emptied; a fresh SQLite file by default),
    start gunicorn, and load the pay flow and /healthz in turn for `duration` seconds each."""
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{work_dir / 'pay.sqlite3'}"
    started = time.perf_counter()
    payers = make_payers(database_url, work_dir, clients)
    prepare_s = time.perf_counter() - started
    log(f"  {len(payers)} payers ready in {prepare_s:.1f} s")

    env = {key: value for key, value in os.environ.items() if key != "PORTAL_ENV"}
    env.update(DATABASE_URL=database_url, SEARCH_INDEX_DIR=str(work_dir / "search-index"),
               RATELIMIT_ENABLED="0")
    port = free_port()
    log_path = work_dir / "gunicorn.log"
    command = [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--bind",
               f"{HOST}:{port}", "--error-logfile", str(log_path), "wsgi:app"]
    healthz, flows = LoadResult(), FlowResult()
    elapsed = {"healthz": 0.0, "pay": 0.0}
    memory: dict = {}
    with open(work_dir / "gunicorn.out", "w") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        try:
            _wait_until_up(process, port, log_path, timeout=120)
            slices = max(1, round(duration / 2))
            load(port, Target("healthz", "/healthz"), clients, min(1.0, duration / 4),
                 LoadResult())
            run_flows(port, payers, min(1.0, duration / 4), FlowResult(), timed=False)
            for _ in range(slices):
                elapsed["healthz"] += load(port, Target("healthz", "/healthz"), clients,
                                           duration / slices, healthz)
                elapsed["pay"] += run_flows(port, payers, duration / slices, flows)
            memory = {f"worker {n}": {"pid": pid, **_memory_kb(pid)}
                      for n, pid in enumerate(_children(process.pid), start=1)}
        finally:
            _stop(process)

    base_rps = len(healthz.latencies_ms) / elapsed["healthz"]
    base = summarise(healthz.latencies_ms)
    rows = {"healthz": {"requests": len(healthz.latencies_ms), "rps": round(base_rps, 1),
                        "latency_ms": base, "rps_vs_healthz": 1.0, "p50_vs_healthz": 1.0,
                        "non_200": sum(n for s, n in healthz.statuses.items() if s != "200")}}
    for name in STEPS:
        latencies = flows.latencies_ms[name]
        summary = summarise(latencies)
        rps = len(latencies) / elapsed["pay"]
        rows[name] = {"requests": len(latencies), "rps": round(rps, 1), "latency_ms": summary,
                      "rps_vs_healthz": ratio(rps, base_rps),
                      "p50_vs_healthz": ratio(summary["p50"], base["p50"])}
    flow_ms = [sum(parts) for parts in zip(*(flows.latencies_ms[s] for s in STEPS),
                                          strict=False)]
    return {
        "database": database_url.split(":", 1)[0].split("+", 1)[0],
        "clients": clients,
        "workers": workers,
        "duration_s": duration,
        "prepare_s": round(prepare_s, 1),
        "payments_per_second": round(flows.flows / elapsed["pay"], 1),
        # Four requests a payment: the three timed steps and the pay form they lead through.
        "requests_per_second": round(4 * flows.flows / elapsed["pay"], 1),
        "requests_vs_healthz": ratio(4 * flows.flows / elapsed["pay"], base_rps),
        "payments": flows.flows,
        "flow_ms": summarise(flow_ms),
        "targets": rows,
        "unexpected_answers": len(flows.unexpected),
        "unexpected_samples": sorted(set(flows.unexpected))[:5],
        "connection_errors": len(flows.errors) + len(healthz.errors),
        "error_samples": sorted(set(flows.errors + healthz.errors))[:5],
        "memory_kb": memory,
        "gunicorn_log_tail": _tail(log_path, 1500) if flows.unexpected or flows.errors else "",
    }
