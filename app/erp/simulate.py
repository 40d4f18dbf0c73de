"""A stand-in ERP on loopback (`flask erp simulate`), so that the whole loop runs on one machine.

It provisions its own API token and webhook secret, listens on 127.0.0.1 for the outbox's
webhooks, verifies each signature (Standard Webhooks) and answers through the portal's inbound
API as the ERP would: a submitted change request is acknowledged (in review) and then decided.
It delivers the outbox itself, so it needs no `flask erp deliver` beside it; one that runs as
well is harmless, since deliverers never send one event twice (app.erp.deliver).

It can also report subscription data late, as real ERPs do: a quantity change or a cancellation
dated in a period already invoiced, sent once at start (`report`); the next billing run corrects
it with adjustment lines or a credit note.
"""

import base64
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.erp.deliver import SECRET_PREFIX

DEFAULT_PORTAL = "http://127.0.0.1:5000"
DEFAULT_DELAY = 2.0  # seconds between receiving a request, acknowledging it and deciding it
API_PREFIX = "/api/erp/v1"
REJECTION_REASON = ("The supporting document does not show the change requested. Start a new "
                    "request with a document that does.")
API_ATTEMPTS = 5  # tries of one call to the portal before giving up on that event
MAX_BODY = 1024 * 1024


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class Decision:
    approve: bool
    delay: float = DEFAULT_DELAY

    def body(self, today: date) -> dict:
        if self.approve:
            return {"decision": "approve", "effective_date": today.isoformat()}
        return {"decision": "reject", "reason": REJECTION_REASON}


@dataclass(frozen=True)
class SubscriptionReport:
    """A subscription change (`quantity` from `day`) or, with no quantity, a cancellation
    (`day` is the last day of service), reported for `account_number`."""

    account_number: str
    subscription_id: int
    day: date
    quantity: int | None = None

    def call(self) -> tuple[str, dict]:
        base = (f"{API_PREFIX}/accounts/{self.account_number}/subscriptions/"
                f"{self.subscription_id}")
        if self.quantity is None:
            return f"{base}/cancellation", {"last_day": self.day.isoformat()}
        return f"{base}/changes", {"effective_date": self.day.isoformat(),
                                   "quantity": self.quantity}

    def describe(self) -> str:
        what = (f"cancelled with last day {self.day.isoformat()}" if self.quantity is None
                else f"{self.quantity} seats from {self.day.isoformat()}")
        return f"Subscription {self.subscription_id} of {self.account_number}: {what}"


class PortalError(Exception):
    """The portal's API refused a call or could not be reached."""


@dataclass
class StandInErp:
    """Receives webhooks on `listen_port` (0: any free port) and answers through `api`, an
    httpx client for the portal's inbound API with the token in its headers."""

    api: httpx.Client
    secret: str
    decision: Decision
    log: Callable[[str], None] = print
    today: Callable[[], date] = date.today
    listen_port: int = 0
    sleep: Callable[[float], None] = time.sleep
    received: list[dict] = field(default_factory=list)
    bad_signatures: int = 0

    def __post_init__(self) -> None:
        self.webhook = Webhook(self.secret)
        self.inbox: queue.Queue[dict | None] = queue.Queue()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.listen_port), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks"
        self._threads = [threading.Thread(target=self.server.serve_forever, daemon=True),
                         threading.Thread(target=self._work, daemon=True)]

    # Receiving -----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        erp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status = 413 if length > MAX_BODY else erp.receive(
                    self.rfile.read(length), dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        return Handler

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """Verify one webhook and queue it: 204, or 401 when its signature does not hold."""
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            message = self.webhook.verify(body, lowered)
        except WebhookVerificationError:
            self.bad_signatures += 1
            self.log("Refused a webhook with a bad signature.")
            return 401
        self.received.append(message)
        self.inbox.put(message)
        return 204

    # Answering -----------------------------------------------------------------------------

    def _work(self) -> None:
        while (message := self.inbox.get()) is not None:
            try:
                self.handle(message)
            except PortalError as error:
                self.log(f"{message.get('id')}: {error}")

    def handle(self, message: dict) -> None:
        """Answer one event as the ERP would; events it has no answer for are only logged."""
        event_type = message.get("type")
        data = message.get("data") or {}
        self.log(f"Received {event_type} {message.get('id')} "
                 f"({message.get('account_number') or 'no account'}).")
        if event_type != "change_request.submitted":
            return
        reference = data["reference"]
        base = f"{API_PREFIX}/change-requests/{reference}"
        self.sleep(self.decision.delay)
        self.call(f"{base}/acknowledge", {"note": "Received by the stand-in ERP."},
                  key=f"{message['id']}-acknowledge")
        self.log(f"{reference}: in review.")
        self.sleep(self.decision.delay)
        self.call(f"{base}/decision", self.decision.body(self.today()),
                  key=f"{message['id']}-decision")
        self.log(f"{reference}: {'approved' if self.decision.approve else 'rejected'}.")

    def call(self, path: str, body: dict, *, key: str) -> dict:
        """POST to the portal with an Idempotency-Key, so that a retry after a lost answer has
        one effect. Retries connection errors and 5xx; raises PortalError otherwise."""
        problem = ""
        for attempt in range(API_ATTEMPTS):
            if attempt:
                self.sleep(min(2.0 ** attempt, 10.0))
            try:
                response = self.api.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if response.is_success:
                return response.json()
            problem = f"{path} answered {response.status_code}: {response.text[:300]}"
            if response.status_code < 500:
                break
        raise PortalError(problem)

    def report(self, report: SubscriptionReport) -> None:
        """Send one subscription change or cancellation through the API (one effect, even
        when the stand-in is started again with the same report)."""
        path, body = report.call()
        key = "report-" + "-".join(str(part) for part in (
            report.account_number, report.subscription_id, report.day, report.quantity))
        self.call(path, body, key=key)
        self.log(f"Reported: {report.describe()}.")

    # Running -------------------------------------------------------------------------------

    def start(self) -> "StandInErp":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.inbox.put(None)
        self.server.shutdown()
        self.server.server_close()
        self._threads[1].join(timeout=5)

    def __enter__(self) -> "StandInErp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def portal_client(portal: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=portal.rstrip("/"), timeout=10.0, follow_redirects=False,
                        headers={"Authorization": f"Bearer {token}",
                                 "Accept": "application/json"})

