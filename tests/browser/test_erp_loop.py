"""The whole loop on one machine, as a reseller sees it: the portal served live, and `flask erp
simulate` started as its own process on the same database. An admin submits a change request
in the browser; the stand-in ERP receives the signed webhook, puts the request in review and
decides it through the inbound API; the request page and the account page show the outcome.
Approved: the new address is on /account, or the tax exemption with its certificate.
Rejected: the ERP's reason is on the request page.
When the stand-in stops it withdraws its endpoint and revokes its token."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.demo.services import DEMO_PASSWORD
from app.erp.models import ErpApiToken
from app.erp.simulate import REJECTION_REASON
from app.erp.webhook_endpoint import WebhookEndpoint
from app.extensions import db
from tests.browser.conftest import build_portal, serve

ROOT = Path(__file__).resolve().parents[2]
DECIDED_WITHIN = 45  # seconds: the stand-in's delays are short, the machine may be busy


@pytest.fixture(scope="module")
def loop_portal(tmp_path_factory) -> tuple[Flask, Path]:
    folder = tmp_path_factory.mktemp("erp-loop")
    return build_portal(folder), folder / "portal.sqlite3"


@pytest.fixture(scope="module")
def base(loop_portal) -> Iterator[str]:
    with serve(loop_portal[0]) as url:
        yield url


@contextmanager
def simulate(database: Path, portal_url: str, decision: str) -> Iterator[list[str]]:
    """`flask erp simulate` in its own process; yields the lines it printed when it ends."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERP_")}
    env.update(DATABASE_URL=f"sqlite:///{database}", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(  # noqa: S603 - our own command line, no outside input
        [sys.executable, "-m", "flask", "--app", "wsgi", "erp", "simulate", "--portal",
         portal_url, "--decision", decision, "--delay", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        yield output
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        output.extend(out.splitlines())
    assert process.returncode == 0, "\n".join(output)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def submit_with_password(page: Page) -> None:
    page.get_by_label(re.compile("I confirm that")).check()
    page.get_by_role("button", name="Submit request").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"Confirm your password|change CR-"))
    if heading.inner_text() == "Confirm your password":
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Confirm password").click()
        page.get_by_role("button", name="Submit request").click()
    expect(page.locator(".request-status")).to_contain_text("Submitted")


def wait_for_status(page: Page, status: str) -> None:
    """Reload the request page until it shows `status` (the reseller refreshing)."""
    deadline = time.monotonic() + DECIDED_WITHIN
    while time.monotonic() < deadline:
        page.reload()
        if status in page.locator(".request-status").inner_text():
            return
        page.wait_for_timeout(500)
    expect(page.locator(".request-status")).to_contain_text(status)


def test_an_approved_address_change_reaches_the_account_page(page: Page, base, loop_portal,
                                                              axe, browser_errors):
    portal, database = loop_portal
    sign_in(page, base, "admin@northwind.example")
    with simulate(database, base, "approve") as output:
        page.goto(f"{base}/account")
        page.get_by_role("link", name="Change mailing address").click()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Street address").fill("77 Harbor Way")
        page.get_by_label("City").fill("Tacoma")
        page.get_by_label("State").select_option("WA")
        page.get_by_label("ZIP code").fill("98402")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Review").click()
        submit_with_password(page)
        wait_for_status(page, "Approved")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("In review")
    expect(timeline).to_contain_text("Applied to your account")
    axe(page)
    page.goto(f"{base}/account")
    expect(page.locator(".address-block")).to_contain_text("77 Harbor Way")
    expect(page.locator(".address-block")).to_contain_text("Tacoma WA 98402")
    axe(page)
    log = "\n".join(output)
    assert re.search(r"CR-\d+: approved\.", log), log
    with portal.app_context():
        assert db.session.scalar(select(WebhookEndpoint)) is None
        tokens = db.session.scalars(select(ErpApiToken)).all()
        assert tokens and all(token.revoked_at is not None for token in tokens)
        db.session.remove()


def test_a_rejected_legal_name_change_shows_the_erps_reason(page: Page, base, loop_portal,
                                                           axe, tmp_path, browser_errors):
    _, database = loop_portal
    document = tmp_path / "name-change-certificate.pdf"
    document.write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\nstartxref\n0\n%%EOF\n")
    sign_in(page, base, "admin@contoso.example")
    with simulate(database, base, "reject"):
        page.goto(f"{base}/account/changes/new?type=legal-name")
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("New legal name").fill("Contoso Partners Canada Ltd")
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Document", exact=True).set_input_files(str(document))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("link", name="name-change-certificate.pdf")).to_be_visible()
        page.get_by_role("button", name="Review").click()
        submit_with_password(page)
        wait_for_status(page, "Rejected")
    expect(page.locator("main")).to_contain_text(REJECTION_REASON)
    axe(page)
    page.goto(f"{base}/account")
    expect(page.locator("main")).to_contain_text("Contoso Partners Ltd")


def test_an_approved_tax_exemption_shows_with_its_certificate(page: Page, base, loop_portal,
                                                               axe, tmp_path, browser_errors):
    _, database = loop_portal
    certificate = tmp_path / "exemption-certificate.pdf"
    certificate.write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\nstartxref\n0\n"
                            b"%%EOF\n")
    sign_in(page, base, "admin@northwind.example")
    with simulate(database, base, "approve"):
        page.goto(f"{base}/account/changes/new?type=tax")
        page.get_by_label(re.compile("Tax-exempt status")).check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label(re.compile("My company is tax-exempt")).check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Document", exact=True).set_input_files(str(certificate))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("link", name="exemption-certificate.pdf")).to_be_visible()
        page.get_by_role("button", name="Review").click()
        submit_with_password(page)
        wait_for_status(page, "Approved")
    page.goto(f"{base}/account")
    tax = page.get_by_role("region", name="Tax details")
    expect(tax.locator("dt:text-is('Tax-exempt status') + dd")).to_have_text("Tax-exempt")
    expect(tax.get_by_role("link", name="exemption-certificate.pdf")).to_be_visible()
    axe(page)
