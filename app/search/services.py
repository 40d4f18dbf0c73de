"""Help Center search: the index of the articles, queries, and the log of what was searched."""

import re
import threading
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.kb.articles import Library
from app.search.engine import SearchIndex, SearchResult, SectionDoc, build_index, index_version
from app.search.log import SearchLog
from app.search.models import SearchQuery

MAX_QUERY_LENGTH = 200
# Keystrokes of one active search, closer than this, are logged as one query.
TYPING_WINDOW = timedelta(seconds=60)


def section_docs(library: Library) -> list[SectionDoc]:
    return [
        SectionDoc(
            slug=article.slug,
            anchor=section.anchor,
            category=article.category,
            title=article.title,
            heading=section.heading if section.anchor else "",
            tags=" ".join(article.tags),
            body=(article.summary + " " + section.text) if not section.anchor else section.text,
        )
        for article in library.articles.values()
        for section in article.sections
    ]


def reindex(app: Flask, library: Library, progress=None, force: bool = True) -> int:
    """Build the index of `library` and make it live. Returns the number of sections."""
    docs = section_docs(library)
    build_index(app.config["SEARCH_INDEX_DIR"], library.content_hash, docs, progress, force)
    return len(docs)


def init_search(app: Flask, library: Library) -> None:
    """At start: open the index, rebuilt first when the articles changed since it was built
    (and SEARCH_AUTO_REINDEX is on)."""
    app.extensions["search_index"] = SearchIndex(app.config["SEARCH_INDEX_DIR"])
    app.extensions["search_log"] = SearchLog(app, background=_log_in_background(app))
    stale = index_version(app.config["SEARCH_INDEX_DIR"]) != library.content_hash
    if stale and app.config["SEARCH_AUTO_REINDEX"]:
        reindex(app, library, force=False)


def _log_in_background(app: Flask) -> bool:
    """SEARCH_LOG_BACKGROUND when set; else in a background thread, except in tests and on an
    in-memory SQLite database (one connection, shared by every thread)."""
    setting = app.config.get("SEARCH_LOG_BACKGROUND")
    if setting is not None:
        return bool(setting)
    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    in_memory = uri in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in uri
    return not app.testing and not in_memory


def get_index() -> SearchIndex:
    return current_app.extensions["search_index"]


def get_log() -> SearchLog:
    return current_app.extensions["search_log"]


def normalise_query(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())[:MAX_QUERY_LENGTH]


def search_articles(text: str, *, category: str | None, page: int) -> SearchResult:
    return get_index().search(
        text[:MAX_QUERY_LENGTH],
        category=category,
        page=page,
        page_size=current_app.config["SEARCH_PAGE_SIZE"],
    )


# A logged search is known by the microsecond it was made at (its `created_at`), so that the
# page can link to it before the row is written: the reader's session keeps that key, and the
# click on a result names it. Keys are unique within a worker process.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_key_lock = threading.Lock()
_previous_key = 0


def _new_key(now: datetime) -> int:
    global _previous_key
    key = (now - EPOCH) // timedelta(microseconds=1)
    with _key_lock:
        key = max(key, _previous_key + 1)
        _previous_key = key
    return key


def key_time(key: int) -> datetime:
    return EPOCH + timedelta(microseconds=key)


def _logged(key: int, user_id: int | None) -> SearchQuery | None:
    owner = SearchQuery.user_id.is_(None) if user_id is None else SearchQuery.user_id == user_id
    return db.session.scalars(
        select(SearchQuery).where(SearchQuery.created_at == key_time(key), owner).limit(1)
    ).first()


def record_search(
    result: SearchResult, *, category: str | None, user_id: int | None, previous_id: int | None
) -> int | None:
    """Log a search once the request is over; returns its key (None for a one-letter query).
    A query that extends or trims the previous one of the same reader within a minute (typing
    in the active search) updates that row instead of adding one."""
    normalised = normalise_query(result.query)
    if len(normalised) < 2:
        return None
    key = _new_key(datetime.now(UTC))
    query = result.query[:MAX_QUERY_LENGTH]
    count = result.total

    def write() -> None:
        now = key_time(key)
        row = _logged(previous_id, user_id) if previous_id else None
        typing = (
            row is not None
            and row.clicked_slug is None
            and now - row.created_at < TYPING_WINDOW
            and (normalised.startswith(row.normalised) or row.normalised.startswith(normalised))
        )
        if not typing:
            row = SearchQuery(user_id=user_id)
            db.session.add(row)
        row.query = query
        row.normalised = normalised
        row.result_count = count
        row.category = category
        row.created_at = now

    get_log().defer(write)
    return key


def record_click(search_id: int, slug: str) -> None:
    """Record, once the request is over, that the reader opened `slug` from the search
    `search_id` (a key from record_search)."""
    user_id = current_user.id if current_user.is_authenticated else None
    clicked_at = datetime.now(UTC)

    def write() -> None:
        row = _logged(search_id, user_id)
        if row is not None and row.clicked_slug is None:
            row.clicked_slug = slug
            row.clicked_at = clicked_at

    get_log().defer(write)
