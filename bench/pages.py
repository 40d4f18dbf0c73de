"""Page throughput: gunicorn serving the portal on 127.0.0.1, loaded by a few keep-alive clients
for a fixed time per page, against `/healthz` (the cost of the stack with no work) in the same
run."""

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.config import BASE_DIR
from bench.stats import ratio, summarise

HOST = "127.0.0.1"
VENV_BIN = BASE_DIR / ".venv" / "bin"
PREFERRED_ARTICLE = "what-will-my-invoice-look-like"
HX = {"HX-Request": "true"}


@dataclass
class Target:
    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def pick_article(content_dir: Path) -> str | None:
    """The invoice layout article, or else the first article there is."""
    if (content_dir / f"{PREFERRED_ARTICLE}.md").exists():
        return PREFERRED_ARTICLE
    files = sorted(content_dir.glob("*.md"))
    return files[0].stem if files else None


def _client(port: int, target: Target, deadline: float, result: LoadResult,
            lock: threading.Lock) -> None:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    # http.client keeps the connection open between requests and reopens it by itself when
    # the server closed it (gunicorn's sync workers close after each response).
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                connection.request("GET", target.path, headers=target.headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"{type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            key = str(response.status)
            statuses[key] = statuses.get(key, 0) + 1
    finally:
        connection.close()
    with lock:
        result.latencies_ms.extend(latencies)
        for key, count in statuses.items():
            result.statuses[key] = result.statuses.get(key, 0) + count
        result.errors.extend(errors)


def load(port: int, target: Target, clients: int, duration: float, result: LoadResult) -> float:
    """`clients` threads request `target` back to back for `duration` seconds, adding to
    `result`. Returns the seconds it took."""
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + duration
    threads = [
        threading.Thread(target=_client, args=(port, target, deadline, result, lock))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def load_interleaved(port: int, targets: list[Target], clients: int, duration: float,
                     log=print) -> dict[str, dict]:
    """Load each target for `duration` seconds in all, in slices of about 2 s taken in turn,
    so that a burst of other work on the machine falls on every target alike."""
    slices = max(1, round(duration / 2))
    for target in targets:  # warm-up, not counted
        load(port, target, clients, min(1.0, duration / 4), LoadResult())
    results = {target.name: LoadResult() for target in targets}
    elapsed = dict.fromkeys(results, 0.0)
    for _ in range(slices):
        for target in targets:
            elapsed[target.name] += load(
                port, target, clients, duration / slices, results[target.name]
            )
    rows = {}
    for target in targets:
        result, seconds = results[target.name], elapsed[target.name]
        rows[target.name] = {
            "path": target.path,
            "headers": target.headers,
            "requests": len(result.latencies_ms),
            "seconds": round(seconds, 2),
            "rps": round(len(result.latencies_ms) / seconds, 1),
            "latency_ms": summarise(result.latencies_ms),
            "statuses": result.statuses,
            "non_200": sum(n for status, n in result.statuses.items() if status != "200"),
            "connection_errors": len(result.errors),
            "error_samples": sorted(set(result.errors))[:5],
        }
        row = rows[target.name]
        log(f"  {target.name}: {row['rps']} req/s, {row['non_200']} non-200, "
            f"{row['connection_errors']} connection errors")
    return rows


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (the gunicorn workers of a master)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the ppid follows it.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def _memory_kb(pid: int) -> dict[str, int | None]:
    values: dict[str, int | None] = {"VmHWM": None, "VmRSS": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def _run_flask(args: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{completed.stderr[-2000:]}")


def _wait_until_up(process: subprocess.Popen, port: int, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{_tail(log_path)}")
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n"
                       f"{_tail(log_path)}")


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _stop(process: subprocess.Popen) -> None:
    """Stop the gunicorn master we started (it stops its workers); kill it if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run_page_bench(
    work_dir: Path,
    content_dir: Path,
    duration: float = 10.0,
    clients: int = 8,
    workers: int = 2,
    log=print,
) -> dict:
    """Migrate and seed a fresh SQLite database, start gunicorn on a free port of 127.0.0.1,
    load each page for `duration` seconds, and read the workers' peak memory at the end."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "PORTAL_ENV"}
    env.update(
        DATABASE_URL=f"sqlite:///{work_dir / 'pages.sqlite3'}",
        SEARCH_INDEX_DIR=str(work_dir / "search-index"),
        CONTENT_DIR=str(content_dir),
        RATELIMIT_ENABLED="0",
    )
    start = time.perf_counter()
    _run_flask(["db", "upgrade"], env)
    _run_flask(["demo", "seed"], env)
    _run_flask(["search", "reindex"], env)
    prepare_s = time.perf_counter() - start

    article = pick_article(content_dir)
    targets = [Target("healthz", "/healthz")]
    if article:
        # An anonymous reader, as every request here: the page every such reader shares. With
        # JavaScript, the page then asks for its feedback form by htmx (a new session each time).
        targets.append(Target("article", f"/help/{article}"))
        targets.append(Target("feedback fragment", f"/help/{article}/feedback", HX))
    targets += [
        Target("help index", "/help"),
        Target("search fragment", "/help/search?q=invoice", HX),
    ]

    port = free_port()
    log_path = work_dir / "gunicorn.log"
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers", str(workers),
        "--bind", f"{HOST}:{port}",
        "--error-logfile", str(log_path),
        "wsgi:app",
    ]
    memory: dict[str, dict] = {}
    with open(work_dir / "gunicorn.out", "w") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        try:
            start = time.perf_counter()
            _wait_until_up(process, port, log_path, timeout=120)
            startup_s = time.perf_counter() - start
            log(f"  gunicorn up on port {port} in {startup_s:.1f} s")
            results = load_interleaved(port, targets, clients, duration, log)
            memory["master"] = {"pid": process.pid, **_memory_kb(process.pid)}
            for number, pid in enumerate(_children(process.pid), start=1):
                memory[f"worker {number}"] = {"pid": pid, **_memory_kb(pid)}
        finally:
            _stop(process)

    base = results["healthz"]
    for row in results.values():
        row["rps_vs_healthz"] = ratio(row["rps"], base["rps"])
        row["p50_vs_healthz"] = ratio(row["latency_ms"]["p50"], base["latency_ms"]["p50"])
    return {
        "workers": workers,
        "clients": clients,
        "duration_s": duration,
        "content_dir": str(content_dir),
        "article": article,
        "prepare_s": round(prepare_s, 1),
        "startup_s": round(startup_s, 1),
        "targets": results,
        "memory_kb": memory,
        "gunicorn_log_tail": _tail(log_path, 1500) if _has_errors(results) else "",
    }


def _has_errors(results: dict[str, dict]) -> bool:
    return any(row["non_200"] or row["connection_errors"] for row in results.values())
