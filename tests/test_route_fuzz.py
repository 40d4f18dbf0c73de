"""Every route, as every role, with hostile values in every path variable, query parameter and
form field: no answer is a 5xx, an anonymous visitor gets nothing private, and a second
tenant's answers hold none of the first tenant's data (SPEC §14).

Routes come from `app.url_map`, so a route added later is walked without editing this file.
A route whose path variable the walk cannot point at a real object (PATH_VALUES), or that no
role reaches with real values, fails the test with what to add, unless SKIPPED lists it with
a reason. Parameter names come from the form classes, the public URL contract and a few
generic names. HOSTILE_EXAMPLES (environment) sets the examples per route (default 12)."""

import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.routing import Rule
from werkzeug.test import encode_multipart

from app.accounts import users as account_users
from app.accounts.models import Role, User
from app.billing import services
from app.billing.engine import run_billing
from app.billing.legacy import COLUMNS, import_rows
from app.billing.models import Invoice, InvoiceLine, Subscription
from app.billing.rating import Period
from app.changes.models import ChangeType
from app.credit.services import apply_credit, issue_credit_note
from app.extensions import db, limiter
from app.payments import methods
from app.payments.gateways import get_gateway
from app.payments.services import create_payment
from tests.billing.factories import BillingFactory
from tests.changes import conftest as change_requests
from tests.conftest import sign_in

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "8"))
# A PDF takes a few hundred milliseconds to draw: routes that answer with one get fewer random
# examples (the sweep of CRITICAL values still covers each of their parameters).
PDF_EXAMPLES = max(1, EXAMPLES // 4)

# Endpoints the walk leaves out, each with the reason. Empty: every route is walked.
SKIPPED: dict[str, str] = {}

# Query and form names of the public URL contract (SPEC §3) and a few generic ones; the form
# classes' field names are added to these at run time.
CONTRACT_NAMES = ["status", "from", "to", "q", "page", "expand", "sq", "next", "category",
                  "type", "sort", "id", "number", "key", "slug", "csrf_token"]
ODD_NAMES = ["", "page[]", "\x00", "ﬁle", "x" * 300]

LONG = "x" * 100_000
UNICODE_DIGITS = ["²", "٣", "１２", "𝟗", "߁", "৯", "Ⅻ", "½", "٢٠٢٦-٠٣-٠١", "２０２６-０３-０１"]
HOSTILE = [
    "", " ", "0", "-1", "1", "+1", "-0", "1.5", "1e400", "NaN", "inf", "0x1F", "1_000",
    "99999999999999999999999", str(2**31), str(2**63), str(-(2**63) - 1), "9" * 400,
    "\x00", "a\x00b", "%00", "\ud800", "a\udfffb", "\u202e\u202d", "\ufeff", "\u0301",
    "\n\r\t", "../../../../etc/passwd", "..%2f..%2f", "<script>alert(1)</script>",
    "' OR '1'='1", "{{7*7}}", "${7*7}", "javascript:alert(1)", "//evil.example/x",
    "https://evil.example/", "/\\evil.example", "9999-12-31", "0001-01-01", "2026-02-30",
    "10000-01-01", "2026-13-01", "true", "[]", "{}", "null", "€" * 5000, LONG,
    *UNICODE_DIGITS,
]
# Each of these goes into every parameter and path variable of every route (the sweep); a
# path variable also gets LONG (in every parameter at once it would make megabyte URLs).
CRITICAL = ["²", "٣", "１２", "99999999999999999999999", "-1", "\x00", "\ud800", "y" * 5_000]
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(st.characters(exclude_categories=()), max_size=12),
)
ENCODINGS = ["form", "multipart", "json"]
# Bodies that are not what their Content-Type says.
RAW_BODIES = [
    (b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff', "multipart/form-data"),
    (b"\xff\xfe garbage", "multipart/form-data; boundary=x"),
    (b'{"email": ', "application/json"),
    (b"email=%ZZ&password&=&&%00=%00", "application/x-www-form-urlencoded"),
    (b"email=a\xff\xfe@example.test", "application/x-www-form-urlencoded; charset=latin-1"),
    (b"\x00" * 100, "text/plain"),
]
ROOT_LIST = 80  # in `odd`: a JSON body that is a list, not an object
JSON_VALUES = [{"a": 1}, [1, [2]], None, True, 12.5, 10**30, -1, {}]
FILE_NAMES = ["x.txt", "../../etc/passwd", "a\x00.pdf", "", "é" * 300]


@dataclass
class Seed:
    """What the walk points path variables at: the first tenant's objects."""

    invoice_number: str
    historical_number: str
    customer_keys: list[str]
    markers: list[str]  # text of the first tenant that the second must never see
    users: dict[str, object]
    real_values: list[str] = field(default_factory=list)
    payment_ids: list[str] = field(default_factory=list)
    method_ids: list[str] = field(default_factory=list)
    card_setups: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    invitation_ids: list[str] = field(default_factory=list)
    signup_tokens: list[str] = field(default_factory=list)
    account_numbers: list[str] = field(default_factory=list)
    subscription_ids: list[str] = field(default_factory=list)
    change_ids: list[str] = field(default_factory=list)
    document_ids: list[str] = field(default_factory=list)
    change_references: list[str] = field(default_factory=list)


# Real values for each path variable name, from the seed. A new path variable fails the walk
# until it has an entry here.
PATH_VALUES = {
    "number": lambda seed: [seed.invoice_number, seed.historical_number],
    "key": lambda seed: seed.customer_keys,
    "slug": lambda seed: ["getting-started", "payments", "marketplace-enhancements-april-2018"],
    "filename": lambda seed: ["css/portal.css", "js/portal.js"],
    "payment_id": lambda seed: seed.payment_ids,
    "method_id": lambda seed: seed.method_ids,
    "reference": lambda seed: seed.card_setups,
    "user_id": lambda seed: seed.user_ids,
    "invitation_id": lambda seed: seed.invitation_ids,
    "token": lambda seed: seed.signup_tokens,
    # The ERP API (/api/erp/v1): without a bearer token every role gets 401 JSON.
    "account_number": lambda seed: seed.account_numbers,
    "subscription_id": lambda seed: seed.subscription_ids,
    "request_id": lambda seed: seed.change_ids,
    "document_id": lambda seed: seed.document_ids,
    "request_reference": lambda seed: seed.change_references,
}
# Routes that change a user: after each request the walk gives its own users back their role
# and access (and signs them in again), so that one random id does not lock a role out.
USER_CHANGES = {"users.change_role", "users.deactivate"}
# Pages whose link is the credential: whoever holds a sign-up link is its invitee and sees who
# invited them, so the second tenant holding the first's link is not a breach of isolation.
BEARER_LINKS = {"auth.signup"}


def _seed(factory) -> Seed:
    billing = BillingFactory(factory)
    billing.tax()
    billing.tax(country="CA", region="ON", rate="0.13")
    home = billing.account(subscriptions=2, start=date(2026, 1, 1), number="R-700001",
                           legal_name="Walked Home Reseller Ltd")
    customer = services.create_end_customer(home.id, "Walked Hidden Customer")
    services.add_one_time_charge(account_id=home.id, customer=customer, description="Setup",
                                 amount=Decimal("99.00"), charge_date=date(2026, 2, 10))
    other = billing.account(subscriptions=1, country="CA", region="ON", currency="CAD",
                            number="R-700002", legal_name="Second Tenant Inc")
    db.session.commit()
    run_billing(Period.parse("2026-03"))
    historical = ",".join(["R-700001", "LEG-WALK-1", "2017-05-01", "2017-05-31", "USD", "paid",
                           "1", "Legacy seats", "3", "12.50", "37.50", "3.79"])
    report = import_rows([COLUMNS, historical.split(",")], cutover=date(2018, 4, 2))
    db.session.commit()
    assert report.imported == ["LEG-WALK-1"], report
    invoice = db.session.query(Invoice).filter_by(account_id=home.id).one()
    # Credit with an application, for the credit page's ledger and its Reverse button.
    issue_credit_note(home, Decimal("20.00"), "Walked credit note", issue_date=date(2026, 3, 2))
    apply_credit(invoice, Decimal("5.00"), on=date(2026, 3, 3))
    db.session.commit()
    keys = sorted({str(line.end_customer_id or 0) for line in
                   db.session.query(InvoiceLine).filter_by(invoice_id=invoice.id)})
    users = {role: factory.user(role, account=home)
             for role in (Role.ADMIN, Role.BILLING, Role.VIEWER)}
    users[Role.STAFF] = factory.user(Role.STAFF)
    users["second tenant"] = factory.user(Role.ADMIN, account=other)
    payment = create_payment(account_id=home.id, currency="USD", method_label="Bank transfer",
                             allocations=[(invoice, Decimal("10.00"))],
                             received_on=date(2026, 3, 9))
    db.session.commit()
    markers = [home.legal_name, "Walked Hidden Customer", "Walked Viewer",
               "walked.invitee@example.test", f"Customer of {home.number}",
               home.number, invoice.number, "LEG-WALK-1", payment.reference,
               "Walked credit note"]
    seed = Seed(invoice.number, "LEG-WALK-1", keys, markers, users,
                payment_ids=[str(payment.id)], account_numbers=[home.number],
                subscription_ids=[str(subscription.id) for subscription in
                                  db.session.query(Subscription).filter_by(account_id=home.id)])
    seed.method_ids, seed.card_setups = _seed_payment_methods(home, users[Role.ADMIN])
    seed.user_ids, seed.invitation_ids, seed.signup_tokens = _seed_team(factory, home,
                                                                        users[Role.ADMIN])
    seed.change_ids, seed.document_ids, seed.change_references = _seed_changes(
        users[Role.ADMIN])
    seed.real_values = [invoice.number, "LEG-WALK-1", *keys, "getting-started", "payments",
                        "open", "overdue", "paid", "void", "all", "-total", "number", "2026-03-01",
                        "2026-03-31", "2017-05-01", "yes", "no", "invoice", "/billing/invoices"]
    return seed


def _seed_payment_methods(account, admin) -> tuple[list[str], list[str]]:
    """A card and a bank account waiting for verification (method ids), and an open card
    setup of the sandbox's hosted page (its reference)."""
    gateway = get_gateway()
    setup = gateway.begin_card_setup(customer=account.number, return_url="/billing")
    gateway.tokenize_card(setup.reference, number="4242424242424242", exp_month=12,
                          exp_year=2034, cvc="123")
    card = methods.add_card(account, gateway.finish_card_setup(setup.reference), user=admin)
    bank = methods.add_bank_account(
        account, holder_name="Walked Home", routing_number="110000000",
        account_number="000123456789", account_type="checking", payee="Payee",
        authorisation=methods.Authorisation(admin, None, datetime.now(UTC)), today=date.today())
    open_setup = gateway.begin_card_setup(customer=account.number, return_url="/billing")
    db.session.commit()
    return [str(card.id), str(bank.id)], [open_setup.reference]


def _seed_changes(admin) -> tuple[list[str], list[str], list[str]]:
    """A submitted legal name request and a tax-exemption draft, each with a document (the
    requests' ids, the documents' ids, and the submitted request's reference)."""
    submitted = change_requests.submitted(ChangeType.LEGAL_NAME, admin)
    draft = change_requests.draft_of(ChangeType.TAX, admin)
    db.session.commit()
    return ([str(submitted.id), str(draft.id)],
            [str(submitted.documents[0].id), str(draft.documents[0].id)],
            [submitted.reference])


def _seed_team(factory, account, admin) -> tuple[list[str], list[str], list[str]]:
    """A second admin and a viewer to change (user ids), an open invitation to revoke (its
    id), and sign-up links: another open invitation's and a revoked one's."""
    team = [factory.user(Role.ADMIN, account=account, name="Walked Admin"),
            factory.user(Role.VIEWER, account=account, name="Walked Viewer")]
    pending = account_users.invite_user(account, email="walked.invitee@example.test",
                                        name="Walked Invitee", role=Role.VIEWER, by=admin)
    to_revoke = account_users.invite_user(account, email="walked.revokable@example.test",
                                          name="Walked Revokable", role=Role.VIEWER, by=admin)
    revoked = account_users.invite_user(account, email="walked.revoked@example.test",
                                        name="Walked Revoked", role=Role.BILLING, by=admin)
    account_users.revoke_invitation(revoked.invitation, by=admin)
    db.session.commit()
    return ([str(user.id) for user in team], [str(to_revoke.invitation.id)],
            [pending.token, revoked.token])


def _parameter_names(app: Flask) -> list[str]:
    """The field names of every form class of the application, and the contract's names."""

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    names = set(CONTRACT_NAMES)
    with app.test_request_context():
        for form_class in subclasses(FlaskForm):
            if form_class.__module__.startswith("app."):
                names.update(form_class(formdata=None, meta={"csrf": False})._fields)
    return sorted(names)


def _encode(text: str, safe: str = "") -> str:
    # Lone surrogates cannot be sent as UTF-8; as a client would, send their bytes anyway.
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in pairs)


def _sendable(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _short(text: str) -> str:
    return repr(text) if len(text) < 60 else f"{text[:40]!r}… ({len(text)} characters)"


@dataclass
class Sent:
    method: str
    url: str
    body: dict
    headers: dict
    path_values: dict[str, str]
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    odd: set[int]

    @property
    def values(self) -> list[str]:
        return [*self.path_values.values(), *(v for pair in self.query + self.form for v in pair)]

    def describe(self) -> str:
        def pairs(items: list[tuple[str, str]], odd: set[int] = frozenset()) -> str:
            return ", ".join(f"{_short(n)}={'(odd) ' if i in odd else ''}{_short(v)}"
                             for i, (n, v) in enumerate(items))

        parts = [self.method, f"path variables: {pairs(list(self.path_values.items()))}",
                 f"query: {pairs(self.query)}"]
        if self.body:
            parts.append(f"{self.body['content_type'].split(';')[0]} form: "
                         f"{pairs(self.form, self.odd)}")
        return f"{' | '.join(parts)} | headers: {self.headers}"


def _path(rule: Rule, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        return _encode(values[name], safe="/" if converter and "path" in converter else "")

    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", replace, rule.rule)


def _build(rule: Rule, method: str, path_values: dict[str, str], query: list, form: list,
           odd: set[int], encoding: str, htmx: bool) -> Sent:
    """The request: `form` is sent urlencoded, as multipart (the fields numbered in `odd` as
    files) or as JSON (those fields as objects, lists, numbers or null; with ROOT_LIST in
    `odd`, the body is a list, not an object)."""
    url = _path(rule, path_values)
    if query:
        url += "?" + _query(query)
    body: dict = {}
    if method != "GET" and form:
        if encoding == "multipart":
            data: dict = {}
            for index, (name, value) in enumerate(form):
                key = _sendable(name)
                if index in odd:
                    data.setdefault(key, []).append(FileStorage(
                        io.BytesIO(value.encode("utf-8", "surrogatepass")[:2000]),
                        filename=_sendable(FILE_NAMES[index % len(FILE_NAMES)])))
                else:
                    data.setdefault(key, []).append(_sendable(value))
            boundary, encoded = encode_multipart(data)
            body = {"data": encoded, "content_type": f"multipart/form-data; boundary={boundary}"}
        elif encoding == "json":
            data = {}
            for index, (name, value) in enumerate(form):
                item = JSON_VALUES[index % len(JSON_VALUES)] if index in odd else value
                data.setdefault(_sendable(name), []).append(
                    _sendable(item) if isinstance(item, str) else item)
            fields = {name: values[0] if len(values) == 1 else values
                      for name, values in data.items()}
            document = list(fields.items()) if ROOT_LIST in odd else fields
            body = {"data": json.dumps(document), "content_type": "application/json"}
        else:
            body = {"data": _query(form).encode("ascii"),
                    "content_type": "application/x-www-form-urlencoded"}
    headers = {"HX-Request": "true"} if htmx else {}
    return Sent(method, url, body, headers, path_values, query, form if body else [],
                odd if encoding != "form" else set())


class Walk:
    """Sends requests as each role and checks every answer."""

    def __init__(self, app: Flask, seed: Seed, public: set[str]) -> None:
        self.app = app
        self.seed = seed
        self.public = public
        self.requests = 0
        self.clients: dict[str, FlaskClient] = {"anonymous": app.test_client()}
        self.users = {str(role): user for role, user in seed.users.items()}
        self.roles = {role: (user.id, user.role) for role, user in self.users.items()}
        for role in self.users:
            self.clients[role] = app.test_client()
            self.sign_in(role)

    def sign_in(self, role: str) -> None:
        limiter.reset()  # the walk's own sign-in attempts from one address add up
        response = sign_in(self.clients[role], self.users[role])
        assert response.status_code == 303, f"{role} could not sign in again"

    def send(self, role: str, rule: Rule, sent: Sent):
        client = self.clients[role]
        # Sign-in throttling would answer most of the walk's requests with 429 before the view
        # reads them; the walk is about what views do with input (throttling has its tests).
        limiter.reset()
        response = client.open(sent.url, method=sent.method, headers=sent.headers, **sent.body)
        self.requests += 1
        where = f"{rule.endpoint} as {role}: {sent.describe()}"
        try:
            assert response.status_code < 500, f"{response.status_code} from {where}"
            if role == "anonymous" and rule.endpoint not in self.public:
                assert response.status_code >= 300, f"private page shown to anonymous: {where}"
            if role == "second tenant":
                self.check_isolation(rule, sent, response, where)
        finally:
            response.close()  # a file sent from disk is otherwise left open
        if rule.endpoint == "auth.logout" and role in self.users:
            self.sign_in(role)
        if rule.endpoint in USER_CHANGES:
            self.restore_users()
        if rule.endpoint == "auth.signup" and response.status_code in (204, 303):
            # Signed up through the seeded link: this client is the invitee now.
            self.clients[role] = self.app.test_client()
            if role in self.users:
                self.sign_in(role)
        return response

    def restore_users(self) -> None:
        db.session.expire_all()
        for role, (user_id, original) in self.roles.items():
            user = db.session.get(User, user_id)
            if user.active and user.role == original:
                continue
            user.active, user.role = True, original
            db.session.commit()
            self.sign_in(role)

    def check_isolation(self, rule, sent, response, where) -> None:
        if response.status_code >= 300 or rule.endpoint in BEARER_LINKS:
            return
        first_tenant = {self.seed.invoice_number, self.seed.historical_number}
        asked = [value for value in sent.path_values.values() if value in first_tenant]
        asked += [value for name, value in sent.path_values.items()
                  if name == "method_id" and value in self.seed.method_ids]
        assert not asked, f"the second tenant reached {asked}: {where}"
        if response.mimetype.startswith("text/") or response.mimetype == "application/json":
            body = response.get_data(as_text=True)
            sent_text = " ".join(sent.values)
            leaked = [m for m in self.seed.markers if m in body and m not in sent_text]
            assert not leaked, f"first tenant's {leaked} shown to the second tenant: {where}"


def _methods(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED]


def _parameters(names: list[str], values: st.SearchStrategy) -> st.SearchStrategy:
    """Some of `names`, each with one value or repeated: a list of (name, value) pairs."""
    return st.fixed_dictionaries(
        {}, optional={name: st.lists(values, min_size=1, max_size=2) for name in names}
    ).map(lambda drawn: [(name, value) for name, values in drawn.items() for value in values])


def _hostile_requests(walk: Walk, rule: Rule, names: list[str], examples: int):
    """A Hypothesis test of one route: each drawn request is sent as every role."""
    seed = walk.seed
    values = st.one_of(hostile_text, st.sampled_from(seed.real_values))
    parameters = _parameters(names, values)
    path_values = st.fixed_dictionaries({
        name: st.one_of(st.sampled_from(PATH_VALUES[name](seed)), hostile_text)
        for name in sorted(rule.arguments)
    })

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(
        method=st.sampled_from(_methods(rule)),
        path_values=path_values,
        query=parameters,
        form=parameters,
        odd=st.sets(st.integers(min_value=0, max_value=ROOT_LIST), max_size=8),
        encoding=st.sampled_from(ENCODINGS),
        htmx=st.booleans(),
    )
    def hostile_requests(**drawn):
        sent = _build(rule, **drawn)
        for role in walk.clients:
            walk.send(role, rule, sent)

    return hostile_requests


def _combinations(rule: Rule, seed: Seed) -> list[dict[str, str]]:
    """Every combination of the real values of the rule's path variables."""
    combinations: list[dict[str, str]] = [{}]
    for name in sorted(rule.arguments):
        combinations = [{**c, name: v} for c in combinations for v in PATH_VALUES[name](seed)]
    return combinations


def test_skipped_endpoints_exist(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert [name for name in SKIPPED if name not in endpoints] == []


def test_no_route_answers_5xx_to_hostile_input(app, client, factory, capsys):
    seed = _seed(factory)
    public = {"static"} | {name for name, view in app.view_functions.items()
                           if getattr(view, "is_public", False)}
    walk = Walk(app, seed, public)
    names = _parameter_names(app)
    # Sign-out last, so that each role is signed in again as few times as possible.
    rules = sorted(_rules(app), key=lambda rule: (rule.endpoint == "auth.logout", rule.rule))

    unknown = sorted({(rule.rule, name) for rule in rules for name in rule.arguments
                      if name not in PATH_VALUES})
    assert not unknown, (
        f"The route walk cannot point these path variables at real objects: {unknown}. "
        "Add their real values to PATH_VALUES in tests/test_route_fuzz.py (seeding what they "
        "point at in _seed), or list the endpoint in SKIPPED with the reason."
    )

    # 1. Real objects, every role, page and fragment: each route must be reached by someone.
    reached, answers_pdf = set(), set()
    for rule in rules:
        for method in _methods(rule):
            for values in _combinations(rule, seed):
                for htmx in (False, True):
                    sent = _build(rule, method, values, [], [], set(), "form", htmx)
                    for role in walk.clients:
                        response = walk.send(role, rule, sent)
                        if response.status_code not in (404, 405):
                            reached.add(rule.endpoint)
                        if response.mimetype == "application/pdf":
                            answers_pdf.add(rule.endpoint)
    unreached = sorted({rule.endpoint for rule in rules} - reached)
    assert not unreached, (
        f"No role reached {unreached} with the seeded objects (only 404/405). Seed what these "
        "routes show in _seed and point PATH_VALUES at it, or list them in SKIPPED with the "
        "reason."
    )

    # 2. The sweep: each CRITICAL value in every parameter and form field (a body urlencoded,
    # multipart and JSON), then in each path variable, as every role; and a body whose every
    # field is a file, a JSON object or list, whose JSON is not an object, or that is not
    # what its Content-Type says.
    all_names = names + ODD_NAMES
    for rule in rules:
        real = _combinations(rule, seed)[0]
        for method in _methods(rule):
            encodings = ["form"] if method == "GET" else ["form", "multipart", "json"]
            for encoding in encodings:
                for k in range(len(CRITICAL)):
                    pairs = [(name, CRITICAL[(i + k) % len(CRITICAL)])
                             for i, name in enumerate(all_names)]
                    form = pairs if method != "GET" else []
                    sent = _build(rule, method, real, pairs, form, set(), encoding,
                                  htmx=k % 2 == 1)
                    for role in walk.clients:
                        walk.send(role, rule, sent)
            if method != "GET":
                form = [(name, CRITICAL[i % len(CRITICAL)]) for i, name in enumerate(all_names)]
                every_field = set(range(len(form)))
                for encoding, odd in [("multipart", every_field), ("json", every_field),
                                      ("json", {ROOT_LIST})]:
                    sent = _build(rule, method, real, [], form, odd, encoding, htmx=False)
                    for role in walk.clients:
                        walk.send(role, rule, sent)
                for data, content_type in RAW_BODIES:
                    sent = _build(rule, method, real, [], [], set(), "form", htmx=False)
                    sent.body = {"data": data, "content_type": content_type}
                    for role in walk.clients:
                        walk.send(role, rule, sent)
            for k, value in enumerate([*CRITICAL, LONG]):
                for name in sorted(rule.arguments):
                    sent = _build(rule, method, {**real, name: value}, [], [], set(), "form",
                                  htmx=k % 2 == 1)
                    for role in walk.clients:
                        walk.send(role, rule, sent)

    # 3. Random hostile requests: Hypothesis draws each one, and every role sends it.
    for rule in rules:
        examples = PDF_EXAMPLES if rule.endpoint in answers_pdf else EXAMPLES
        _hostile_requests(walk, rule, all_names, examples)()

    with capsys.disabled():
        print(f"\nroute walk ({db.engine.dialect.name}): {len(rules)} routes × "
              f"{len(walk.clients)} roles, {walk.requests} requests, none answered 5xx")
