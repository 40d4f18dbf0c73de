"""The sign-in limits under a real deployment: gunicorn with two worker processes on one SQLite
file, started as `gunicorn wsgi:app` with the default settings (CSRF on, `database://`)."""

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from flask_migrate import upgrade
from limits import parse

from app import create_app
from app.accounts.models import Role
from app.accounts.services import create_account, create_user
from app.config import (
    BASE_DIR,
    DEFAULT_LOGIN_EMAIL_RATE_LIMIT,
    DEFAULT_LOGIN_LOCKOUT_LIMIT,
    DEFAULT_LOGIN_RATE_LIMIT,
)
from app.extensions import db
from tests.conftest import PASSWORD, make_config

HOST = "127.0.0.1"
ATTACKER = "127.0.0.1"
OWNER = "127.0.0.2"  # another loopback address: a client that never failed
GUNICORN = BASE_DIR / ".venv" / "bin" / "gunicorn"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def build_database(folder: Path, emails: list[str]) -> dict[str, str]:
    """A migrated SQLite file with one user per e-mail; returns the environment that points
    gunicorn at it."""
    database_url = f"sqlite:///{folder / 'portal.sqlite3'}"
    # No search index: the sign-in page does not need one, and building it takes a while.
    portal = create_app(
        make_config(database_url, folder / "search-index", SEARCH_AUTO_REINDEX=False)
    )
    with portal.app_context():
        upgrade()
        account = create_account(
            number="R-700001", legal_name="Gunicorn Reseller", country="US", region="WA",
            currency="USD",
        )
        for email in emails:
            create_user(email=email, name=email, password=PASSWORD, role=Role.ADMIN,
                        account=account)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("LOGIN_", "RATELIMIT_", "TRUSTED_PROXY", "PORTAL_ENV"))
    }
    env.update(
        DATABASE_URL=database_url,
        SEARCH_INDEX_DIR=str(folder / "search-index"),
        SEARCH_AUTO_REINDEX="0",
    )
    return env


class Browser:
    """One client address with its session cookie and CSRF token, one connection a request
    (gunicorn's sync workers close the connection after each response)."""

    def __init__(self, port: int, address: str) -> None:
        self.port, self.address = port, address
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(self, method: str, path: str, body: str | None = None) -> http.client.HTTPResponse:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30,
                                                source_address=(self.address, 0))
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def open_sign_in(self) -> None:
        response = self.request("GET", "/login")
        assert response.status == 200
        self.token = CSRF_FIELD.search(response.text).group(1)

    def sign_in(self, email: str, password: str) -> int:
        body = urlencode({"csrf_token": self.token, "email": email, "password": password})
        return self.request("POST", "/login", body).status


def _probe(port: int) -> None:
    with suppress(OSError):  # not listening yet
        Browser(port, HOST).request("GET", "/healthz")


def pids(access_log: Path, request: str) -> set[str]:
    """The worker processes that answered `request` ("POST /login"), from the access log."""
    if not access_log.exists():
        return set()
    lines = access_log.read_text().splitlines()
    return {line.split()[0] for line in lines if f" {request} " in line}


@contextmanager
def gunicorn(env: dict[str, str], folder: Path, workers: int = 2) -> Iterator[tuple[int, Path]]:
    """Serve `wsgi:app` on a free port; yields the port and the access log (pid per line)."""
    port = free_port()
    access_log = folder / f"access-{port}.log"
    command = [
        str(GUNICORN), "--workers", str(workers), "--bind", f"{HOST}:{port}",
        "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(m)s %(U)s %(s)s",
        "--error-logfile", str(folder / "error.log"), "wsgi:app",
    ]
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env,  # noqa: S603
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Up when every worker has answered: each loads the app after the fork, and the
        # first one up would otherwise take every request.
        deadline = time.monotonic() + 60
        while len(pids(access_log, "GET /healthz")) < workers:
            assert process.poll() is None, (folder / "error.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn's workers did not all start"
            probes = [threading.Thread(target=_probe, args=(port,)) for _ in range(2 * workers)]
            for probe in probes:
                probe.start()
            for probe in probes:
                probe.join()
            time.sleep(0.2)
        yield port, access_log
    finally:
        process.send_signal(signal.SIGINT)  # quick shutdown: every request has been answered
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def attack(port: int, emails: list[str], attempts: int, threads: int = 4) -> list[int]:
    """`attempts` wrong passwords from ATTACKER, cycling over `emails`, sent by `threads`
    clients in parallel so that both workers take some. Returns the statuses."""
    statuses: list[int] = []
    lock = threading.Lock()
    turns = iter(range(attempts))

    def client() -> None:
        browser = Browser(port, ATTACKER)
        browser.open_sign_in()
        while True:
            with lock:
                turn = next(turns, None)
            if turn is None:
                return
            status = browser.sign_in(emails[turn % len(emails)], "wrong-password-9")
            with lock:
                statuses.append(status)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


def test_two_workers_share_the_limits_and_a_restart_keeps_them(tmp_path):
    per_address = parse(DEFAULT_LOGIN_RATE_LIMIT).amount
    per_email = parse(DEFAULT_LOGIN_EMAIL_RATE_LIMIT).amount
    attempts = 3 * per_address
    # Enough e-mails that no (e-mail, address) pair reaches its own limit: only the
    # per-address one applies, whichever worker answers.
    emails = [f"user{n}@example.test" for n in range(-(-attempts // per_email) + 1)]
    victim = emails[0]
    assert -(-attempts // len(emails)) < parse(DEFAULT_LOGIN_LOCKOUT_LIMIT).amount
    env = build_database(tmp_path, emails)

    with gunicorn(env, tmp_path) as (port, access_log):
        statuses = attack(port, emails, attempts)
        assert len(pids(access_log, "POST /login")) == 2, "both workers should take attempts"
    assert sorted(statuses) == [422] * per_address + [429] * (attempts - per_address)

    # A fresh gunicorn on the same database: new workers, nothing in their memory.
    with gunicorn(env, tmp_path) as (port, _):
        attacker = Browser(port, ATTACKER)
        attacker.open_sign_in()
        assert attacker.sign_in(emails[-1], "wrong-password-9") == 429
        assert attacker.sign_in(victim, PASSWORD) == 429
        # The owner of the attacked e-mail, from an address that never failed, gets in.
        owner = Browser(port, OWNER)
        owner.open_sign_in()
        assert owner.sign_in(victim, PASSWORD) == 303
