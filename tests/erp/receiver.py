"""A stand-in ERP for delivery tests: an HTTP server on 127.0.0.1, in a thread, that verifies
each webhook's signature, counts the event ids it receives and answers the statuses it is
told to (204 when told nothing)."""

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    def __init__(self, secret: str = SECRET, delay: float = 0.0) -> None:
        self.webhook = Webhook(secret)
        self.delay = delay
        self.statuses: list[int] = []
        self.received: list[dict] = []  # verified bodies, in order
        self.ids = Counter()
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                status = receiver.answer(body, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            message = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return 401
        with self.lock:
            self.received.append(message)
            self.ids[headers["webhook-id"]] += 1
            return self.statuses.pop(0) if self.statuses else 204

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
