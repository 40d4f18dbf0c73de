"""Writing the search log outside the request: a search or a click is a small job, handed over
when the request's application context ends (after its own database session is closed) to one
background thread per worker process, which writes it with a session of its own. A reader
never waits for the log.

Where a background thread cannot have a connection of its own (an in-memory SQLite database,
whose one connection every thread shares) or in tests, the job runs in the request's thread at
that same point instead. `flush()` waits until every job handed over is written."""

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable

from flask import Flask, g
from flask.signals import appcontext_tearing_down

from app.extensions import db

logger = logging.getLogger(__name__)

# Jobs waiting to be written; beyond this (the database is down or far behind) new ones are
# dropped rather than held in memory: the log is statistics, not a record anyone relies on.
MAX_PENDING = 10_000
DRAIN_SECONDS = 2.0  # how long a stopping worker waits for the jobs still queued

Job = Callable[[], None]


class SearchLog:
    def __init__(self, app: Flask, background: bool) -> None:
        self.app = app
        self.background = background
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue(MAX_PENDING)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        appcontext_tearing_down.connect(self._hand_over, app, weak=False)

    def defer(self, job: Job) -> None:
        """Write `job` once the current request is over."""
        g.setdefault("_search_log_jobs", []).append(job)

    def flush(self) -> None:
        """Wait until every job handed over is written."""
        if self._thread is not None and self._pid == os.getpid():
            self._queue.join()

    def _hand_over(self, sender: Flask, **extra) -> None:
        jobs = g.pop("_search_log_jobs", None)
        for job in jobs or ():
            if self.background:
                self._submit(job)
            else:
                self._write(job)

    def _submit(self, job: Job) -> None:
        self._start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            logger.warning("search log queue full: a search was not logged")

    def _start(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._pid != os.getpid():
                # A forked worker: the parent's thread and queue are not its own.
                self._queue = queue.Queue(MAX_PENDING)
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="search-log", daemon=True)
                self._thread.start()
                atexit.register(self._stop)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._write(job)
            finally:
                self._queue.task_done()

    def _stop(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                return
            thread.join(DRAIN_SECONDS)

    def _write(self, job: Job) -> None:
        with self.app.app_context():
            try:
                job()
                db.session.commit()
            except Exception:  # noqa: BLE001 - a lost log entry must not break anything else
                db.session.rollback()
                logger.exception("search log write failed")
            finally:
                db.session.remove()
