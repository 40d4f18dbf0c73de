"""Search benchmark: our search fragment and engine against SQLite FTS5 on the same generated
corpus, and ranking accuracy on the real Help Center articles."""

import random
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.config import BASE_DIR, TestConfig
from app.extensions import db
from app.kb.articles import ArticleError
from app.search.engine import STOP
from app.search.services import reindex, section_docs
from bench.corpus import NOUNS, PAGES, STATES, SUBJECTS, VERBS, generate_corpus
from bench.stats import ratio, summarise

REAL_CONTENT_DIR = BASE_DIR / "content" / "articles"

# (query, kind). Kinds only label the table; every query is timed the same way.
QUERIES = [
    ("invoice", "word"),
    ("payment", "word"),
    ("refund", "word"),
    ("credit", "word"),
    ("tax", "word"),
    ("statement", "word"),
    ("subscription", "word"),
    ("currency", "word"),
    ("remittance", "word"),
    ("proration", "word"),
    ("credit card", "two words"),
    ("bank account", "two words"),
    ("billing contact", "two words"),
    ("usage charges", "two words"),
    ("end customer", "two words"),
    ("purchase order", "two words"),
    ("late fee", "two words"),
    ("legal name", "two words"),
    ("mailing address", "two words"),
    ("price list", "two words"),
    ("renewal date", "two words"),
    ("wire transfer", "two words"),
    ('"credit memo"', "phrase"),
    ('"bank account"', "phrase"),
    ('"payment method"', "phrase"),
    ('"end customer"', "phrase"),
    ('"billing contact"', "phrase"),
    ('"statement of account"', "phrase"),
    ("how do I update my billing address", "question"),
    ("where can I download the invoice pdf", "question"),
    ("why was my card declined", "question"),
    ("how do I verify micro-deposits", "question"),
    ("export invoice csv", "question"),
    ("apply credit to the oldest open invoice", "question"),
    ("invocie", "misspelling"),
    ("paymnet", "misspelling"),
    ("subscripton", "misspelling"),
    ("tax exemption certficate", "misspelling"),
    ("kubernetes cluster", "no hits"),
    ("zzqxv", "no hits"),
]
COMMON_QUERY = "invoice"
# Queries that once held a worker for seconds (unbounded fuzzy terms): timed apart, each must
# answer within a second; they are not part of the ratio to FTS5.
HOSTILE_QUERIES = [
    " ".join(["ivoice~9"] * 30),
    "ivoice~9",
    " ".join(["statment~2"] * 25),
    " ".join(["invoice", "payment", "credit", "account", "bank"] * 8),
]
NO_HIT_WORDS = ["kubernetes", "sandwich", "telescope", "glacier", "violin", "zzqxv", "qwfpgj",
                "marathon", "origami", "volcano", "saxophone", "xylograph"]

# Real reseller questions, some misspelt, and the articles that answer them (any one of the
# set counts). tests/search/test_relevance.py holds the engine to these too.
ACH = "how-do-i-add-ach-as-a-payment-method"
PAY = "how-do-i-submit-a-payment-for-open-invoices"
CREDIT = "how-is-the-credit-on-my-account-used"
AUTO = "turn-off-credit-auto-apply"
HIST = "how-do-i-retrieve-historical-invoice-information"
LOOK = "what-will-my-invoice-look-like"
ACCOUNT = "how-do-i-change-my-account-information"
TAX = "how-do-i-change-my-tax-information"
RELEVANCE: list[tuple[str, set[str]]] = [
    # Payments
    ("how do I pay by bank transfer", {ACH, PAY}),
    ("pay open invoices", {PAY}),
    ("pay part of an invoice", {PAY}),
    ("partial payment", {PAY}),
    ("add a credit card", {"card-payments"}),
    ("my card was declined", {"card-payments", PAY}),
    ("card about to expire", {"card-payments"}),
    ("add ACH bank account", {ACH}),
    ("ACH debit authorization", {ACH}),
    ("verify micro deposits", {"verify-micro-deposits", ACH}),
    ("micro deposit amounts", {"verify-micro-deposits", ACH}),
    ("microdeposits", {"verify-micro-deposits", ACH}),
    ("returned ACH payment", {"ach-returns", ACH}),
    ("R01 insufficient funds", {"ach-returns"}),
    ("bank account disabled", {"ach-returns"}),
    ("payment receipt", {"payment-receipts"}),
    ("where is my receipt", {"payment-receipts"}),
    ("payment status pending", {"payment-receipts", PAY}),
    # Credit
    ("how is credit used", {CREDIT}),
    ("credit balance", {CREDIT, AUTO}),
    ("stop credit applying automatically", {AUTO}),
    ("turn off auto apply", {AUTO}),
    ("apply credit to a specific invoice", {AUTO, CREDIT}),
    ("reverse a credit application", {AUTO}),
    # Invoices and statements
    ("where are my old invoices", {HIST}),
    ("historical invoices", {HIST}),
    ("legacy invoices before the cutover", {HIST}),
    ("what will my invoice look like", {LOOK}),
    ("invoice grouped by end customer", {LOOK}),
    ("download invoice PDF", {"download-invoice-pdf-and-csv", LOOK}),
    ("export invoice to CSV", {"download-invoice-pdf-and-csv"}),
    ("overdue invoice status", {"invoice-statuses"}),
    ("invoice statuses", {"invoice-statuses"}),
    ("how is tax calculated on my invoice", {LOOK, TAX}),
    ("statement of account", {"statement-of-account"}),
    ("statement aging", {"statement-of-account"}),
    ("running balance", {"statement-of-account"}),
    # Account
    ("change company legal name", {ACCOUNT}),
    ("new mailing address", {ACCOUNT}),
    ("change billing contact", {ACCOUNT}),
    ("change my tax information", {TAX}),
    ("tax exempt certificate", {TAX, "tax-exempt-status"}),
    ("apply for tax exemption", {"tax-exempt-status"}),
    ("upload a supporting document", {"supporting-documents"}),
    ("which file types can I upload", {"supporting-documents"}),
    ("change request status", {"change-request-statuses"}),
    ("cancel a change request", {"change-request-statuses"}),
    ("invite a new user", {"users-and-roles"}),
    ("change a user's role", {"users-and-roles"}),
    ("deactivate a user", {"users-and-roles"}),
    # Signing in
    ("password rules", {"signing-in-and-security"}),
    ("session timed out", {"signing-in-and-security"}),
    ("too many sign in attempts", {"signing-in-and-security"}),
    # What's new, control panel, terms
    ("what changed in April 2018",
     {"marketplace-enhancements-april-2018", "control-panel-changes"}),
    ("new navigation", {"control-panel-changes"}),
    ("where is the dashboard", {"control-panel-changes", "getting-started"}),
    ("what does CCD mean", {"glossary", ACH}),
    # Misspelt
    ("ivoice layout", {LOOK}),
    ("paymnet", {PAY, "card-payments", ACH}),
    ("statment", {"statement-of-account"}),
    ("histroical invoices", {HIST}),
    ("recipt", {"payment-receipts"}),
    ("credt card", {"card-payments"}),
    ("tax exemtion", {"tax-exempt-status", TAX}),
    ("micro deposists", {"verify-micro-deposits", ACH}),
    ("acount information", {ACCOUNT}),
    ("biling contact", {ACCOUNT}),
    ("dowload invoice", {"download-invoice-pdf-and-csv"}),
    ("pasword rules", {"signing-in-and-security"}),
    ("verfy bank account", {"verify-micro-deposits", ACH}),
    ("subscripton", {LOOK}),
]

HIT_RE = re.compile(r'<li class="search-hit">')
TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
PHRASE_OR_WORD_RE = re.compile(r'"([^"]*)"|([^\s"]+)')
FTS_SQL = (
    "SELECT slug, anchor, title, heading, "
    "snippet(sections, 4, '<mark>', '</mark>', '…', 32) "
    "FROM sections WHERE sections MATCH ? "
    # slug and anchor are not indexed (weight 0); the weights of our engine for the others.
    "ORDER BY bm25(sections, 0.0, 0.0, 4.0, 2.5, 1.0) LIMIT 10"
)


def _misspell(word: str, rng: random.Random) -> str:
    """`word` with one typo: a letter dropped, doubled or swapped with the next."""
    position = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:position] + word[position + 1 :]
    if kind == "double":
        return word[:position] + word[position] + word[position:]
    return word[:position] + word[position + 1] + word[position] + word[position + 2 :]


def distinct_queries(base: list[tuple[str, str]], rounds: int,
                     seed: int = 20261126) -> list[tuple[str, str]]:
    """`base`, then `rounds - 1` more sets of the same kinds in the same numbers, drawn from
    the corpus vocabulary: every query differs from every other, so that each is timed once
    and no cache of results can stand in for the search."""
    rng = random.Random(seed)
    words = sorted(
        w for w in {w for text in NOUNS + VERBS + STATES + PAGES for w in text.lower().split()}
        | {w for subject, _, _ in SUBJECTS for w in subject.lower().split()}
        if w not in STOP and len(w) > 2
    )
    long_words = [w for w in words if len(w) >= 6]
    pairs = sorted({n for n in NOUNS if " " in n} | {s for s, _, _ in SUBJECTS if " " in s})

    def draw(kind: str) -> str:
        if kind == "word":
            return rng.choice(words)
        if kind == "two words":
            return f"{rng.choice(NOUNS)} {rng.choice(STATES + VERBS)}"
        if kind == "phrase":
            return f'"{rng.choice(pairs)}"' if rng.random() < 0.5 else \
                f'"{rng.choice(VERBS)} the {rng.choice(NOUNS)}"'
        if kind == "question":
            template = rng.choice(["how do I {verb} my {noun}", "where can I {verb} the {noun}",
                                   "why is my {noun} {state}", "can I {verb} a {noun} online"])
            return template.format(verb=rng.choice(VERBS), noun=rng.choice(NOUNS),
                                   state=rng.choice(STATES))
        if kind == "misspelling":
            return " ".join(_misspell(w, rng) if len(w) >= 6 else w
                            for w in rng.choice(long_words + NOUNS).split())
        return f"{rng.choice(NO_HIT_WORDS)} {rng.choice(NO_HIT_WORDS)}"

    out = list(base)
    seen = {text for text, _ in base}
    for _ in range(rounds - 1):
        for _, kind in base:
            for _attempt in range(1000):
                text = draw(kind)
                if text not in seen:
                    break
            seen.add(text)
            out.append((text, kind))
    return out


def _rss_mib() -> float | None:
    """The resident memory of this process (VmRSS), in MiB; None where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def fts5_query(text: str) -> str | None:
    """The FTS5 query for what a reader typed: every word as a quoted token, quoted phrases as
    FTS5 phrases, all ANDed. The words our engine drops (stop and question words) are dropped
    here too, so both engines look for the same words. None when no word is left."""
    parts = []
    for phrase, word in PHRASE_OR_WORD_RE.findall(text):
        tokens = TOKEN_RE.findall(phrase or word)
        if not phrase:
            tokens = [t for t in tokens if t.lower() not in STOP and len(t) > 1]
        if tokens:
            parts.append('"' + " ".join(tokens) + '"')
    return " ".join(parts) or None


@dataclass
class Fts5Index:
    connection: sqlite3.Connection

    def search(self, text: str) -> list[tuple]:
        query = fts5_query(text)
        if query is None:
            return []
        return self.connection.execute(FTS_SQL, (query,)).fetchall()

    def close(self) -> None:
        self.connection.close()


def build_fts5(path: Path, app: Flask) -> Fts5Index:
    """An FTS5 table of the same sections our engine indexes (title, heading, body)."""
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE VIRTUAL TABLE sections USING fts5("
        "slug UNINDEXED, anchor UNINDEXED, title, heading, body, tokenize='porter unicode61')"
    )
    docs = section_docs(app.extensions["kb_library"])
    with connection:
        connection.executemany(
            "INSERT INTO sections VALUES (?, ?, ?, ?, ?)",
            [(d.slug, d.anchor, d.title, d.heading, d.body) for d in docs],
        )
    connection.execute("INSERT INTO sections(sections) VALUES ('optimize')")
    connection.commit()
    return Fts5Index(connection)


def _config(content_dir: Path, work_dir: Path, database_url: str, auto_reindex: bool,
            **extra) -> type:
    return type(
        "BenchConfig",
        (TestConfig,),
        {
            "CONTENT_DIR": content_dir,
            "SEARCH_INDEX_DIR": work_dir / "search-index",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SEARCH_AUTO_REINDEX": auto_reindex,
            **extra,
        },
    )


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _timed(samples: list[float], call):
    start = time.perf_counter()
    value = call()
    samples.append(_ms(start))
    return value


def run_search_bench(
    work_dir: Path,
    articles: int = 2000,
    rounds: int = 3,
    queries: list[tuple[str, str]] | None = None,
    log=print,
) -> dict:
    """Generate the corpus in `work_dir`, then time our fragment, our engine alone and FTS5
    once each on every query of `queries` plus `rounds - 1` sets of distinct queries of the
    same kinds, after a short untimed warm-up. Returns the figures as a dict."""
    timed = distinct_queries(queries or QUERIES, max(1, rounds))
    corpus_dir = work_dir / "corpus"
    start = time.perf_counter()
    generate_corpus(corpus_dir, articles)
    generate_ms = _ms(start)
    log(f"  generated {articles} articles in {generate_ms / 1000:.1f} s")

    database_url = f"sqlite:///{work_dir / 'search-bench.sqlite3'}"
    start = time.perf_counter()
    # The search log is written as in production: by a background thread, after the response.
    app = create_app(_config(corpus_dir, work_dir, database_url, auto_reindex=False,
                             SEARCH_LOG_BACKGROUND=True))
    load_ms = _ms(start)
    with app.app_context():
        upgrade()
        db.session.remove()
    library = app.extensions["kb_library"]
    start = time.perf_counter()
    sections = reindex(app, library)
    index_ms = _ms(start)
    log(f"  loaded the library in {load_ms / 1000:.1f} s, "
        f"indexed {sections} sections in {index_ms / 1000:.1f} s")
    engine = app.extensions["search_index"]
    rss_before = _rss_mib()
    start = time.perf_counter()
    engine.doc_count()  # opens the new generation: its term table, as a worker does
    open_ms = _ms(start)
    rss_after = _rss_mib()
    tables_bytes = sum(p.stat().st_size for p in (work_dir / "search-index").glob("*/tables*"))

    start = time.perf_counter()
    fts = build_fts5(work_dir / "fts5.sqlite3", app)
    fts_build_ms = _ms(start)
    log(f"  FTS5 table built in {fts_build_ms / 1000:.1f} s")

    client = app.test_client()
    headers = {"HX-Request": "true"}

    def fragment(text: str) -> str:
        response = client.get("/help/search", query_string={"q": text}, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"/help/search?q={text} answered {response.status_code}")
        return response.get_data(as_text=True)

    timings: dict[str, list[float]] = {"fragment": [], "engine": [], "fts5": []}
    per_query: dict[str, dict] = {}
    hostile: dict[str, float] = {}
    try:
        for text in ("warm-up", "bank warm", '"warm up"'):  # open files and SQLite pages
            fragment(text)
            engine.search(text)
            fts.search(text)
        for position, (text, kind) in enumerate(timed):
            entry = per_query[text] = {"kind": kind, "fts5_query": fts5_query(text), "ms": {}}
            body = _timed(timings["fragment"], lambda t=text: fragment(t))
            result = _timed(timings["engine"], lambda t=text: engine.search(t))
            rows = _timed(timings["fts5"], lambda t=text: fts.search(t))
            for name in timings:
                entry["ms"][name] = round(timings[name][-1], 2)
            entry.update(ours_articles=result.total, ours_corrected=result.corrected,
                         ours_hits_shown=len(HIT_RE.findall(body)), fts5_rows=len(rows))
            if (position + 1) % len(QUERIES) == 0:
                log(f"  {position + 1}/{len(timed)} queries timed")
        for text in HOSTILE_QUERIES:
            samples: list[float] = []
            _timed(samples, lambda t=text: fragment(t))
            hostile[text] = round(samples[0], 2)
        app.extensions["search_log"].flush()
    finally:
        fts.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    summaries = {name: summarise(samples) for name, samples in timings.items()}
    return {
        "articles": articles,
        "sections": sections,
        "queries": len(timed),
        "rounds": rounds,
        "generate_ms": round(generate_ms, 1),
        "library_load_ms": round(load_ms, 1),
        "index_build_ms": round(index_ms, 1),
        "index_open_ms": round(open_ms, 1),
        "term_table_mib": round(tables_bytes / 2**20, 1),
        "rss_mib_before_open": rss_before,
        "rss_mib_after_open": rss_after,
        "fts5_build_ms": round(fts_build_ms, 1),
        "fragment": summaries["fragment"],
        "engine": summaries["engine"],
        "fts5": summaries["fts5"],
        "hostile_ms": hostile,
        "ratios": {
            "fragment_vs_fts5": {
                p: ratio(summaries["fragment"][p], summaries["fts5"][p]) for p in ("p50", "p95")
            },
            "engine_vs_fts5": {
                p: ratio(summaries["engine"][p], summaries["fts5"][p]) for p in ("p50", "p95")
            },
        },
        "per_query": per_query,
    }


def run_relevance(work_dir: Path, content_dir: Path = REAL_CONTENT_DIR, log=print) -> dict:
    """Top-1 and top-3 accuracy of our engine on real reseller questions over the real
    articles. Questions whose expected articles are not written yet are counted apart."""
    files = sorted(content_dir.glob("*.md")) if content_dir.is_dir() else []
    report: dict = {"content_dir": str(content_dir), "articles": len(files), "questions": []}
    try:
        app = create_app(_config(content_dir, work_dir, "sqlite://", auto_reindex=True))
    except ArticleError as error:
        report["error"] = f"the articles do not load: {error}"
        log(f"  relevance skipped: {report['error']}")
        return report
    engine = app.extensions["search_index"]
    slugs = set(app.extensions["kb_library"].articles)
    for question, expected in RELEVANCE:
        ranked = [hit.slug for hit in engine.search(question).hits]
        report["questions"].append(
            {
                "question": question,
                "expected": sorted(expected),
                "answerable": bool(expected & slugs),
                "top3": ranked[:3],
                "top1_ok": bool(ranked) and ranked[0] in expected,
                "top3_ok": bool(expected & set(ranked[:3])),
            }
        )
    questions = report["questions"]
    answerable = [q for q in questions if q["answerable"]]
    report.update(
        total=len(questions),
        answerable=len(answerable),
        top1=sum(q["top1_ok"] for q in questions),
        top3=sum(q["top3_ok"] for q in questions),
        top1_accuracy=_share(sum(q["top1_ok"] for q in answerable), len(answerable)),
        top3_accuracy=_share(sum(q["top3_ok"] for q in answerable), len(answerable)),
    )
    return report


def _share(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None
