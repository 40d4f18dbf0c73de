"""Browser tests: Debian's Chromium driven by Playwright against a live server of the portal.

The server runs the real configuration where it matters: CSRF on (htmx sends the token from
`hx-headers`), the Content-Security-Policy on (axe-core is injected through Playwright's
`page.evaluate`, which the page's CSP does not govern), the login throttle on (with a limit the
suite never reaches). Every test fails on a JavaScript error or a console error, such as a CSP
violation or a failed request, unless it declares that message as expected.
"""

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page
from werkzeug.serving import make_server

from app import create_app
from app.demo.services import DEMO_PASSWORD, seed_demo
from app.extensions import db
from app.kb.articles import Library
from tests.browser.helpers import DESKTOP
from tests.conftest import make_config

BROWSER_DIR = Path(__file__).resolve().parent
AXE_SOURCE = BROWSER_DIR.parents[1] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    """Debian's Chromium. Skips the browser tests without it, or fails them when
    REQUIRE_BROWSER=1 (CI), so that a missing browser never passes silently."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but `chromium` is not on PATH", pytrace=False)
        pytest.skip("`chromium` is not installed (set REQUIRE_BROWSER=1 to make this an error)")
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


# The live server ------------------------------------------------------------------------------


def build_portal(folder: Path) -> Flask:
    """The portal on a SQLite file (the server's threads share it), migrated and seeded."""
    config = make_config(
        f"sqlite:///{folder / 'portal.sqlite3'}",
        folder / "search-index",
        WTF_CSRF_ENABLED=True,
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_EMAIL_RATE_LIMIT="1000 per minute",
    )
    portal = create_app(config)
    with portal.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
    return portal


@contextmanager
def serve(portal: Flask) -> Iterator[str]:
    """Serve `portal` on a free port in a daemon thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, portal, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with portal.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def portal(tmp_path_factory) -> Flask:
    return build_portal(tmp_path_factory.mktemp("live-portal"))


@pytest.fixture(scope="session")
def live_server(portal: Flask) -> Iterator[str]:
    with serve(portal) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def library(portal: Flask) -> Library:
    """The Help Center articles the live server shows (titles, TOC, related)."""
    return portal.extensions["kb_library"]


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    """The live server. This also replaces pytest-playwright's own `base_url` fixture, an
    instance method of a plugin class that pytest 9 deprecates (an error under
    filterwarnings=error)."""
    return live_server


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, live_server: str) -> dict:
    return {**browser_context_args, "base_url": live_server, "viewport": DESKTOP}


# Console errors, JavaScript errors and CSP violations fail the test ------------------------


class BrowserErrors:
    """Collects console errors and uncaught exceptions of every page of watched contexts."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.expected: list[re.Pattern] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.messages.append(f"pageerror: {error.error}"))
        return context

    def expect_message(self, pattern: str) -> None:
        """Allow console errors matching `pattern` (a regex) in this test, e.g. the
        "Failed to load resource … 404" that Chromium logs for a page that is meant to 404."""
        self.expected.append(re.compile(pattern))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type not in {"error", "assert"}:
            return
        text = f"console.{message.type}: {message.text}"
        if message.location.get("url"):
            text += f" ({message.location['url']})"
        self.messages.append(text)

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(p.search(m) for p in self.expected)]


@pytest.fixture(autouse=True)
def browser_errors(context: BrowserContext) -> Iterator[BrowserErrors]:
    """Fails the test on a JavaScript error, a CSP violation or any other console error.
    Contexts a test makes itself are watched with `browser_errors.watch(context)`."""
    errors = BrowserErrors()
    errors.watch(context)
    yield errors
    unexpected = errors.unexpected()
    if unexpected:
        pytest.fail("The browser reported errors:\n" + "\n".join(unexpected), pytrace=False)


# axe-core -------------------------------------------------------------------------------------


@cache
def axe_source() -> str:
    if not AXE_SOURCE.is_file():
        pytest.fail(f"{AXE_SOURCE} is missing: run `npm ci` (make install)", pytrace=False)
    return AXE_SOURCE.read_text(encoding="utf-8")


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"  - {' '.join(node['target'])}: {node['failureSummary']!r}")
    return "\n".join(lines)


def check_accessibility(page: Page) -> None:
    """Run axe-core on the page with its default rule set (every WCAG A/AA rule and the best
    practices, such as unique landmarks and one main heading) and fail on any violation.

    The script goes in through `page.evaluate`, which runs it as DevTools code: the page's CSP
    (`script-src 'self'`, no inline scripts, no eval) stays on and does not apply to it, where
    `add_script_tag` would add an inline <script> that the CSP rightly refuses. The UMD build
    assigns `window.axe` itself.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
        if not page.evaluate("() => typeof window.axe === 'object'"):
            pytest.fail("axe-core did not load into the page", pytrace=False)
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    assert not violations, f"axe-core on {page.url}:\n{format_violations(violations)}"


@pytest.fixture
def axe() -> Callable[[Page], None]:
    """`axe(page)` fails the test when axe-core's default rules (WCAG 2.2 AA and best
    practices) find a violation on the page."""
    return check_accessibility


# Signing in -----------------------------------------------------------------------------------


def sign_in_as(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form; waits until the sign-in has left the login page."""
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """`sign_in(page, email)` signs in with the demo password."""
    return sign_in_as


@contextmanager
def swapped_in_place(page: Page) -> Iterator[None]:
    """Asserts that what happens inside the block leaves the page's document in place (an htmx
    swap), rather than loading a new one."""
    page.evaluate("() => { window.__sameDocument = true; }")
    yield
    try:
        same = page.evaluate("() => window.__sameDocument === true")
    except Error:  # the document went away in the middle of the check
        same = False
    assert same, "the page was reloaded; htmx should have swapped the content in place"


@pytest.fixture
def in_place() -> Callable[[Page], AbstractContextManager[None]]:
    """`with in_place(page): …` fails when the block makes the page load a new document."""
    return swapped_in_place
