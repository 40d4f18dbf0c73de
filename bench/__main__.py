"""`python -m bench` (`make bench`): search and page benchmarks, printed as tables and written
to bench/results/latest.json. `--quick` is a short smoke run."""

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from app.config import BASE_DIR
from app.formatting import money
from bench.billing import run_billing_bench
from bench.corpus import generate_corpus
from bench.pages import run_page_bench
from bench.pay import run_pay_bench
from bench.search import REAL_CONTENT_DIR, run_relevance, run_search_bench

RESULTS_DIR = BASE_DIR / "bench" / "results"
FULL = {"articles": 2000, "rounds": 3, "duration": 10.0}
QUICK = {"articles": 100, "rounds": 1, "duration": 2.0}
# Served when the real articles are missing or do not load, so the page bench still runs.
FALLBACK_ARTICLES = 100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 100 articles, 1 round, 2 s per page")
    parser.add_argument("--articles", type=int, help="generated corpus size (default 2000)")
    parser.add_argument("--rounds", type=int, help="passes over the search queries (default 3)")
    parser.add_argument("--duration", type=float, help="seconds of load per page (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--skip-search", action="store_true", help="only the page benchmark")
    parser.add_argument("--skip-pages", action="store_true", help="only the search benchmark")
    parser.add_argument("--skip-billing", action="store_true",
                        help="leave out the billing benchmark (PostgreSQL)")
    parser.add_argument("--skip-pay", action="store_true", help="leave out the pay flow")
    parser.add_argument("--billing-accounts", type=int, default=None,
                        help="accounts of ~100 subscriptions each (default 1100; quick: 20)")
    parser.add_argument("--billing-months", type=int, default=None,
                        help="months of billing history (default 24; quick: 3)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json",
                        help="where to write the JSON results")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _git_revision() -> str:
    try:
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR,
                                  capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=BASE_DIR,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision + ("+uncommitted changes" if dirty else "")


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[_fmt(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                  for i, cell in enumerate(row))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_search(search: dict) -> None:
    print(f"\nSearch: {search['articles']} generated articles, {search['sections']} sections, "
          f"{search['queries']} distinct queries, each timed once")
    print(f"  our index build {search['index_build_ms'] / 1000:.1f} s "
          f"(library load {search['library_load_ms'] / 1000:.1f} s); "
          f"FTS5 build {search['fts5_build_ms'] / 1000:.1f} s")
    print(f"  index opened in {search['index_open_ms']:.0f} ms; term table "
          f"{search['term_table_mib']} MiB; process memory {search['rss_mib_before_open']} MiB "
          f"before opening it, {search['rss_mib_after_open']} MiB after")
    hostile = search["hostile_ms"]
    print(f"  hostile queries (unbounded fuzzy terms, 40 words): slowest "
          f"{max(hostile.values()):.0f} ms of {len(hostile)}")
    rows = []
    for name, label in [("fragment", "ours: /help/search fragment"),
                        ("engine", "ours: engine only"), ("fts5", "SQLite FTS5 (baseline)")]:
        row = search[name]
        rows.append([label, row["n"], row["p50"], row["p95"], row["mean"], row["max"]])
    print(_table(["ms", "samples", "p50", "p95", "mean", "max"], rows))
    ratios = search["ratios"]
    print(_table(
        ["ratio to FTS5", "p50", "p95"],
        [["fragment / FTS5", ratios["fragment_vs_fts5"]["p50"], ratios["fragment_vs_fts5"]["p95"]],
         ["engine / FTS5", ratios["engine_vs_fts5"]["p50"], ratios["engine_vs_fts5"]["p95"]]],
    ))


def print_relevance(relevance: dict) -> None:
    print(f"\nRelevance on the real articles ({relevance['articles']} in "
          f"{relevance['content_dir']}):")
    if "error" in relevance:
        print(f"  not measured: {relevance['error']}")
        return
    print(f"  {relevance['answerable']} of {relevance['total']} questions have their expected "
          f"article written; top-1 {relevance['top1']}, top-3 {relevance['top3']} "
          f"(accuracy over answerable: top-1 {_fmt(relevance['top1_accuracy'], 3)}, "
          f"top-3 {_fmt(relevance['top3_accuracy'], 3)})")
    for question in relevance["questions"]:
        if question["answerable"] and not question["top1_ok"]:
            mark = "top-3" if question["top3_ok"] else "MISS "
            print(f"  {mark} {question['question']!r}: got {question['top3']}")


def print_pages(pages: dict) -> None:
    print(f"\nPages: gunicorn {pages['workers']} workers, {pages['clients']} clients, "
          f"{pages['duration_s']:.0f} s per page, articles from {pages['content_dir']}")
    rows = []
    for name, row in pages["targets"].items():
        latency = row["latency_ms"]
        rows.append([name, row["requests"], row["rps"], row["rps_vs_healthz"], latency["p50"],
                     latency["p95"], latency["p99"], row["non_200"] + row["connection_errors"]])
    print(_table(["page", "requests", "req/s", "vs healthz", "p50 ms", "p95 ms", "p99 ms",
                  "errors"], rows))
    for name, memory in pages["memory_kb"].items():
        peak = memory["VmHWM"]
        print(f"  {name} (pid {memory['pid']}): peak RSS "
              f"{_fmt(peak / 1024 if peak else None, 1)} MiB")
    if pages["gunicorn_log_tail"]:
        print("  gunicorn log (errors seen):\n" + pages["gunicorn_log_tail"])


def print_billing(billing: dict) -> None:
    run = billing["billing_run"]
    print(f"\nBilling run on PostgreSQL: {run['accounts']} accounts, "
          f"{run['subscriptions_billed']} subscriptions billed in one period")
    print(_table(["", "seconds", "per second"], [
        ["billing run (one worker)", run["run_seconds"],
         f"{run['subscriptions_per_second']} subscriptions"],
        ["raw bulk insert of its rows", run["raw_insert_seconds"],
         f"{run['raw_rows_per_second']} rows"],
    ]))
    print(f"  billing run / raw insert: {run['run_vs_raw_insert']}x; "
          f"{run['months']} months of history billed in {run['history_seconds']} s")
    print(f"  auto-apply on; credit on {run['accounts_with_credit']} accounts: "
          f"{run['invoices_taking_credit']} invoices took "
          f"{money(Decimal(run['credit_applied']), 'USD')} "
          f"({run['credit_applications']} ledger entries)")
    big = billing["big_invoice"]
    print(f"\nInvoice of {big['lines']} lines (ms): detail {big['detail_ms']}, one group "
          f"{big['group_fragment_ms']}, CSV {big['csv_ms']}, PDF {big['pdf_ms']}")
    print("\nSQL queries per page:")
    for account, counts in billing["queries_per_page"].items():
        print(f"  {account}: " + ", ".join(f"{page} {n}" for page, n in counts.items()))
    pages = billing["invoice_pages"]
    print(f"\nInvoice pages under gunicorn ({pages['workers']} workers, {pages['clients']} "
          f"clients, {pages['duration_s']} s each), signed in, on the large data set")
    rows = [[name, row["rps"], row["rps_vs_healthz"], row["latency_ms"]["p50"],
             row["latency_ms"]["p95"], row["latency_ms"]["p99"], row["non_200"]]
            for name, row in pages["targets"].items()]
    print(_table(["page", "req/s", "vs healthz", "p50 ms", "p95 ms", "p99 ms", "non-200"], rows))


def print_pay(pay: dict) -> None:
    print(f"\nPay flow: gunicorn {pay['workers']} workers, {pay['clients']} signed-in payers, "
          f"{pay['duration_s']:.0f} s, {pay['database']}: {pay['payments_per_second']} "
          f"payments/s ({pay['payments']} made), a whole payment p50 {pay['flow_ms']['p50']} ms")
    print(f"  {pay['requests_per_second']} requests/s in all (4 a payment): "
          f"{pay['requests_vs_healthz']} of /healthz")
    rows = []
    for name, row in pay["targets"].items():
        latency = row["latency_ms"]
        rows.append([name, row["requests"], row["rps"], row["rps_vs_healthz"], latency["p50"],
                     latency["p95"], latency["p99"], row["p50_vs_healthz"]])
    print(_table(["step", "requests", "req/s", "vs healthz", "p50 ms", "p95 ms", "p99 ms",
                  "p50 vs healthz"], rows))
    if pay["unexpected_answers"] or pay["connection_errors"]:
        print(f"  unexpected answers {pay['unexpected_answers']} "
              f"{pay['unexpected_samples']}, connection errors {pay['connection_errors']} "
              f"{pay['error_samples']}")
    if pay["gunicorn_log_tail"]:
        print("  gunicorn log (errors seen):\n" + pay["gunicorn_log_tail"])


def page_content_dir(relevance: dict | None, work_dir: Path, log=print) -> Path:
    """The real articles when they load; otherwise a small generated Help Center."""
    if relevance is None:  # not checked in this run: serve them if there are any
        usable = any(REAL_CONTENT_DIR.glob("*.md"))
    else:
        usable = "error" not in relevance and relevance["articles"] > 0
    if usable:
        return REAL_CONTENT_DIR
    folder = work_dir / "fallback-articles"
    generate_corpus(folder, FALLBACK_ARTICLES, seed=7)
    log(f"  the real articles are missing or broken: serving {FALLBACK_ARTICLES} generated ones")
    return folder


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "revision": _git_revision(),
        "machine": machine(),
        # Other work on the machine skews every figure; the ratios of one run much less so.
        "load_average_at_start": os.getloadavg(),
    }
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        work = Path(tmp)
        relevance = None
        if not args.skip_search:
            print("Search benchmark")
            _attempt(failures, results, "search",
                     lambda: run_search_bench(work / "search", args.articles, args.rounds))
            print("Relevance on the real articles")
            relevance = _attempt(failures, results, "relevance",
                                 lambda: run_relevance(work / "relevance"))
        if not args.skip_pages:
            print("Page benchmark")
            content_dir = page_content_dir(relevance, work)
            _attempt(failures, results, "pages", lambda: run_page_bench(
                work / "pages", content_dir, args.duration, args.clients, args.workers
            ))
        database_url = os.environ.get("BENCH_DATABASE_URL")
        if not args.skip_pay:
            print("Pay flow benchmark")
            _attempt(failures, results, "pay", lambda: run_pay_bench(
                work / "pay", database_url, args.duration, args.clients, args.workers))
        if not args.skip_billing and database_url:
            print("Billing benchmark (PostgreSQL)")
            accounts = args.billing_accounts or (20 if args.quick else 1100)
            months = args.billing_months or (3 if args.quick else 24)
            _attempt(failures, results, "billing", lambda: run_billing_bench(
                database_url, accounts=accounts, months=months,
                duration=args.duration or (2 if args.quick else 10), clients=args.clients,
                workers=args.workers))
        elif not args.skip_billing:
            failures["billing"] = "BENCH_DATABASE_URL is not set (a PostgreSQL database to empty)"
    results["failures"] = failures
    results["load_average_at_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\n=== Partner Portal benchmark, {results['date']}, {results['machine']['cpus']} CPUs,"
          f" {results['mode']} run, revision {results['revision']} ===")
    start_load, end_load = results["load_average_at_start"][0], results["load_average_at_end"][0]
    busy = max(start_load, end_load) > (results["machine"]["cpus"] or 1)
    print(f"load average {start_load:.1f} at start, {end_load:.1f} at end"
          + (": other work shared the CPUs, read the ratios rather than the times" if busy else ""))
    if "search" in results:
        print_search(results["search"])
    if "relevance" in results:
        print_relevance(results["relevance"])
    if "pages" in results:
        print_pages(results["pages"])
    if "billing" in results:
        print_billing(results["billing"])
    if "pay" in results:
        print_pay(results["pay"])
    for part, message in failures.items():
        print(f"\nFAILED: the {part} benchmark did not finish:\n{message}")
    print(f"\nFinished in {results['elapsed_s']:.0f} s; results in {args.output}")
    targets = [*results.get("pages", {}).get("targets", {}).values(),
               *results.get("billing", {}).get("invoice_pages", {}).get("targets", {}).values()]
    errors = sum(row["non_200"] + row["connection_errors"] for row in targets)
    if "pay" in results:
        errors += results["pay"]["unexpected_answers"] + results["pay"]["connection_errors"]
    if errors:
        print(f"{errors} requests failed under load (expected none).")
    return 1 if errors or failures else 0


def _attempt(failures: dict[str, str], results: dict, part: str, run) -> dict | None:
    """Run one part; a failure is recorded and reported at the end instead of losing the
    figures of the other parts."""
    try:
        results[part] = run()
    except Exception as error:  # noqa: BLE001 - reported, and the exit status says so
        failures[part] = f"{type(error).__name__}: {error}"[-3000:]
        print(f"  failed: {type(error).__name__} (details at the end)")
        return None
    return results[part]


if __name__ == "__main__":
    sys.exit(main())
