"""Configuration read from the environment; TestConfig for the test suite."""

import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEVELOPMENT_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - refused in production
# A well-formed Fernet key for development and tests only; refused in production too.
DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY = "ZGV2LW9ubHktcGF5bWVudHMta2V5LWNoYW5nZS1tZSE="  # noqa: S105

# Sign-in throttling (SPEC §14); the Help Center article "Signing in and security" quotes these.
DEFAULT_LOGIN_RATE_LIMIT = "10 per minute"  # attempts from one client address
DEFAULT_LOGIN_EMAIL_RATE_LIMIT = "5 per minute"  # attempts for one e-mail from one address
DEFAULT_LOGIN_LOCKOUT_LIMIT = "20 per 15 minutes"  # failures for one e-mail from anywhere


class Config:
    """Production settings: HTTPS-only cookies, and a real SECRET_KEY is required."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    REQUIRE_SECRET_KEY = True
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    CONTENT_DIR = Path(os.environ.get("CONTENT_DIR", BASE_DIR / "content" / "articles"))
    SEARCH_INDEX_DIR = Path(os.environ.get("SEARCH_INDEX_DIR", INSTANCE_DIR / "search-index"))
    # Supporting documents of change requests: private files, outside the static folder.
    DOCUMENTS_DIR = Path(os.environ.get("DOCUMENTS_DIR", INSTANCE_DIR / "documents"))
    # Rebuild the search index at start when the articles changed since it was built.
    SEARCH_AUTO_REINDEX = _env_bool("SEARCH_AUTO_REINDEX", True)
    SEARCH_PAGE_SIZE = 10
    PDF_FONT_DIR = Path(
        os.environ.get("PDF_FONT_DIR", BASE_DIR / "node_modules" / "dejavu-fonts-ttf" / "ttf")
    )
    CUTOVER_DATE = date.fromisoformat(os.environ.get("CUTOVER_DATE", "2018-04-02"))

    # Session security (SPEC §14).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    SESSION_IDLE_TIMEOUT = timedelta(minutes=int(os.environ.get("SESSION_IDLE_MINUTES", "30")))
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12")))
    PERMANENT_SESSION_LIFETIME = SESSION_ABSOLUTE_TIMEOUT
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name; n=2**15, r=8, p=1
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE_LIMIT)
    LOGIN_EMAIL_RATE_LIMIT = os.environ.get(
        "LOGIN_EMAIL_RATE_LIMIT", DEFAULT_LOGIN_EMAIL_RATE_LIMIT
    )
    LOGIN_LOCKOUT_LIMIT = os.environ.get("LOGIN_LOCKOUT_LIMIT", DEFAULT_LOGIN_LOCKOUT_LIMIT)
    # New "Was this helpful?" votes from readers who are not signed in, per client address:
    # across all articles, and on any one article. Signed-in readers have one vote per article.
    FEEDBACK_ANONYMOUS_RATE_LIMIT = os.environ.get("FEEDBACK_ANONYMOUS_RATE_LIMIT", "5 per hour")
    FEEDBACK_ANONYMOUS_ARTICLE_LIMIT = os.environ.get(
        "FEEDBACK_ANONYMOUS_ARTICLE_LIMIT", "1 per day"
    )
    # `database://`: the counters live in the portal's own database, shared by every worker.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "database://")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    # How many reverse proxies in front of the portal set X-Forwarded-For/-Proto. 0 (default):
    # none, the client address is the connection's. Never set it higher than the real number:
    # a client could then choose its own address and escape the sign-in limits.
    TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

    # Payments (SPEC §8): which gateway charges, and the keys that encrypt bank account numbers
    # at rest (comma-separated Fernet keys, newest first; see app/payments/gateways/).
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "sandbox")
    PAYMENTS_ENCRYPTION_KEYS = os.environ.get(
        "PAYMENTS_ENCRYPTION_KEYS", DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY
    )

    # Who issues the invoices and collects the payments: printed on invoices, receipts and the
    # ACH debit authorisation.
    ISSUER_NAME = os.environ.get("ISSUER_NAME", "Northgate Cloud Distribution Inc.")
    ISSUER_ADDRESS = os.environ.get(
        "ISSUER_ADDRESS", "1200 Harbor Avenue, Suite 400, Seattle, WA 98101, United States"
    )
    ISSUER_TAX_ID = os.environ.get("ISSUER_TAX_ID", "EIN 46-2468013")

    # ERP webhooks (SPEC §13): `flask erp deliver` posts the outbox's events to this URL, signed
    # with this Standard Webhooks secret ("whsec_" + base64). No URL: events wait in the outbox.
    ERP_WEBHOOK_URL = os.environ.get("ERP_WEBHOOK_URL") or None
    ERP_WEBHOOK_SECRET = os.environ.get("ERP_WEBHOOK_SECRET") or None

    # Request size (SPEC §14): a larger body gets a 413 page before it is read. The whole
    # request may carry a 10 MB document and the form around it; a form's text (an urlencoded
    # body, or a text part of a multipart one) is far smaller; so is the number of its parts.
    MAX_REQUEST_MB = int(os.environ.get("MAX_REQUEST_MB", "11"))
    MAX_CONTENT_LENGTH = MAX_REQUEST_MB * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 500_000
    MAX_FORM_PARTS = 1_000


class DevelopmentConfig(Config):
    """`make run` serves plain HTTP on 127.0.0.1, so the Secure cookie flag is off there."""

    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REQUIRE_SECRET_KEY = False


class TestConfig(Config):
    TESTING = True
    # Still scrypt, with a lower work factor so that the suite's many users are quick to make.
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # noqa: S105 - a method name
    REQUIRE_SECRET_KEY = False
    SECRET_KEY = "test-secret-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = False
    SEARCH_AUTO_REINDEX = True
    # Uploads made by the test suite go to a folder of their own for each test process, never
    # to the instance folder (created on the first upload).
    DOCUMENTS_DIR = Path(tempfile.gettempdir()) / f"portal-test-documents-{os.getpid()}"
    ERP_WEBHOOK_URL = None
    ERP_WEBHOOK_SECRET = None
