"""Help Center search: the index of the articles, queries, and the log of what was searched."""

import re
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app

from app.extensions import db
from app.kb.articles import Library
from app.search.engine import SearchIndex, SearchResult, SectionDoc, build_index, index_version
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
    stale = index_version(app.config["SEARCH_INDEX_DIR"]) != library.content_hash
    if stale and app.config["SEARCH_AUTO_REINDEX"]:
        reindex(app, library, force=False)


def get_index() -> SearchIndex:
    return current_app.extensions["search_index"]


def normalise_query(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())[:MAX_QUERY_LENGTH]


def search_articles(text: str, *, category: str | None, page: int) -> SearchResult:
    return get_index().search(
        text[:MAX_QUERY_LENGTH],
        category=category,
        page=page,
        page_size=current_app.config["SEARCH_PAGE_SIZE"],
    )


def record_search(
    result: SearchResult, *, category: str | None, user_id: int | None, previous_id: int | None
) -> SearchQuery | None:
    """Log a search. A query that extends or trims the previous one of the same reader within
    a minute (typing in the active search) updates that row instead of adding one."""
    normalised = normalise_query(result.query)
    if len(normalised) < 2:
        return None
    now = datetime.now(UTC)
    row = db.session.get(SearchQuery, previous_id) if previous_id else None
    typing = (
        row is not None
        and row.clicked_slug is None
        and now - row.created_at < TYPING_WINDOW
        and (normalised.startswith(row.normalised) or row.normalised.startswith(normalised))
    )
    if not typing:
        row = SearchQuery(user_id=user_id)
        db.session.add(row)
    row.query = result.query[:MAX_QUERY_LENGTH]
    row.normalised = normalised
    row.result_count = result.total
    row.category = category
    row.created_at = now
    db.session.flush()
    return row


def record_click(search_id: int, slug: str) -> None:
    row = db.session.get(SearchQuery, search_id)
    if row is not None and row.clicked_slug is None:
        row.clicked_slug = slug
        row.clicked_at = datetime.now(UTC)
        db.session.flush()
