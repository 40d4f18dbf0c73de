"""The rate-limit storage in the portal's own database (`database://`, app/ratelimit.py)."""

import threading
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select

from app import create_app, ratelimit
from app.extensions import db, limiter
from app.ratelimit import (
    CLEANUP_INTERVAL_SECONDS,
    MAX_KEY_LENGTH,
    DatabaseStorage,
    RateLimitCounter,
)
from app.web import public
from tests.conftest import make_config


class Clock:
    """Stands in for the `time` module of app.ratelimit: a clock the test moves."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


@pytest.fixture
def storage(app) -> DatabaseStorage:
    return DatabaseStorage("database://")


def row_count() -> int:
    return db.session.scalar(select(func.count()).select_from(RateLimitCounter))


def test_the_default_storage_is_the_portals_database(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "database://"
    assert isinstance(limiter.storage, DatabaseStorage)
    assert isinstance(storage_from_string("database://"), DatabaseStorage)


def test_increments_count_up_from_the_amount(storage):
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1
    assert storage.incr("k", 60) == 2
    assert storage.incr("k", 60, amount=3) == 5
    assert storage.get("k") == 5
    assert storage.get("other") == 0


def test_a_counter_expires_after_its_window_and_starts_again(storage, clock):
    storage.incr("k", 60)
    storage.incr("k", 60)
    assert storage.get_expiry("k") == clock.now + 60
    clock.now += 59
    assert storage.incr("k", 60) == 3
    assert storage.get_expiry("k") == clock.now + 1  # the window does not move with hits
    clock.now += 1
    assert storage.get("k") == 0
    assert storage.get_expiry("k") == clock.now
    assert storage.incr("k", 60) == 1
    assert storage.get_expiry("k") == clock.now + 60


def test_clear_removes_one_counter_and_reset_all(storage):
    storage.incr("a", 60)
    storage.incr("b", 60)
    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    storage.incr("c", 60)
    assert storage.reset() == 2
    assert row_count() == 0


def test_long_keys_are_stored_as_digests_and_kept_apart(storage):
    first, second = "x" * 300 + "1", "x" * 300 + "2"
    storage.incr(first, 60)
    storage.incr(second, 60)
    storage.incr(second, 60)
    assert (storage.get(first), storage.get(second)) == (1, 2)
    keys = db.session.scalars(select(RateLimitCounter.key)).all()
    assert all(len(key) <= MAX_KEY_LENGTH for key in keys)
    assert len(keys) == 2


def test_expired_rows_are_deleted_at_most_once_an_interval(storage, clock):
    storage.incr("old", 10)  # the first increment of the process cleans up too: nothing yet
    clock.now += 11
    storage.incr("new", 600)
    assert row_count() == 2  # "old" has expired, but the last clean-up is too recent
    clock.now += CLEANUP_INTERVAL_SECONDS
    storage.incr("new", 600)
    assert db.session.scalars(select(RateLimitCounter.key)).all() == ["new"]


def test_delete_expired_keeps_live_counters(storage, clock):
    storage.incr("short", 5)
    storage.incr("long", 500)
    clock.now += 5
    assert storage.delete_expired() == 1
    assert storage.get("long") == 1


def test_check_reports_a_reachable_database(storage):
    assert storage.check() is True


def test_fixed_window_strategy_allows_exactly_the_limit(storage):
    item = parse("3 per minute")
    strategy = FixedWindowRateLimiter(storage)
    assert [strategy.hit(item, "client") for _ in range(4)] == [True, True, True, False]
    assert strategy.test(item, "another client")
    assert strategy.get_window_stats(item, "client").remaining == 0


def _hammer(application: Flask, storage: DatabaseStorage, key: str, times: int,
            results: list[int], errors: list[BaseException]) -> None:
    try:
        with application.app_context():
            for _ in range(times):
                results.append(storage.incr(key, 60))
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


def assert_no_lost_increments(application: Flask, threads: int = 2, times: int = 100) -> None:
    storage = DatabaseStorage("database://")
    results: list[int] = []
    errors: list[BaseException] = []
    workers = [
        threading.Thread(target=_hammer, args=(application, storage, "shared", times, results,
                                                errors))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with application.app_context():
        assert storage.get("shared") == threads * times
    # Every increment saw its own value: none was lost or counted twice.
    assert sorted(results) == list(range(1, threads * times + 1))


@pytest.mark.postgresql
def test_concurrent_increments_lose_nothing_on_postgresql(app):
    assert_no_lost_increments(app)


def migrated_portal(folder: Path, **overrides) -> Flask:
    """The portal on a SQLite file of its own, migrated (its threads share the file)."""
    portal = create_app(make_config(
        f"sqlite:///{folder / 'portal.sqlite3'}", folder / "search-index", **overrides
    ))
    with portal.app_context():
        upgrade()
    return portal


def test_concurrent_increments_lose_nothing_on_a_sqlite_file(tmp_path):
    portal = migrated_portal(tmp_path)
    assert_no_lost_increments(portal)
    with portal.app_context():
        db.engine.dispose()


def test_any_flask_limiter_limit_counts_in_the_database(tmp_path):
    """Not only sign-in: a limit on any route, with several windows, uses the same table."""
    portal = migrated_portal(tmp_path)

    @portal.route("/limited")
    @public
    @limiter.limit("2 per minute;3 per hour")
    def limited():
        return "ok"

    client = portal.test_client()
    statuses = [client.get("/limited").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    with portal.app_context():
        keys = db.session.scalars(select(RateLimitCounter.key)).all()
        assert sorted(key.rsplit("/", 3)[1:] for key in keys) == [
            ["2", "1", "minute"], ["3", "1", "hour"],
        ]
        db.session.remove()
        db.engine.dispose()
