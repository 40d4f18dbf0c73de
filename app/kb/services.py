"""Help Center operations: the loaded articles, feedback votes, and staff insights."""

from dataclasses import dataclass

from flask import Flask, current_app, request
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.kb.articles import Library, load_library
from app.kb.models import SIGNED_IN_VOTER, ArticleFeedback
from app.search.models import SearchQuery


def init_library(app: Flask) -> Library:
    """Load and render every article at start. Raises ArticleError naming a bad file. Every
    page then gets `page_help`: the articles whose front matter names its endpoint."""
    library = load_library(app.config["CONTENT_DIR"], app)
    app.extensions["kb_library"] = library

    @app.context_processor
    def page_help() -> dict:
        endpoint = request.endpoint or ""
        return {"page_help": library.for_page(endpoint) if "." in endpoint else []}

    return library


def get_library() -> Library:
    return current_app.extensions["kb_library"]


def find_vote(slug: str, voter: str) -> ArticleFeedback | None:
    return db.session.scalar(
        select(ArticleFeedback).where(ArticleFeedback.slug == slug, ArticleFeedback.voter == voter)
    )


def record_vote(
    *, slug: str, voter: str, user_id: int | None, helpful: bool, comment: str | None
) -> ArticleFeedback:
    """Record a reader's vote: one per reader and article; voting again replaces the vote."""
    vote = find_vote(slug, voter)
    if vote is None:
        vote = ArticleFeedback(slug=slug, voter=voter, user_id=user_id)
        db.session.add(vote)
    vote.helpful = helpful
    vote.comment = (comment or "").strip() or None
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # Two tabs voted at once: the other vote won the insert; update it instead.
        vote = find_vote(slug, voter)
        vote.helpful = helpful
        vote.comment = (comment or "").strip() or None
        db.session.flush()
    return vote


@dataclass(frozen=True)
class QueryStat:
    query: str
    searches: int
    results: int
    clicks: int


@dataclass(frozen=True)
class ArticleStat:
    """Votes on one article, from signed-in readers and from readers who were not signed in
    (those are the ones a stranger could stuff, within the anonymous vote limits)."""

    slug: str
    title: str
    signed_in_yes: int = 0
    signed_in_no: int = 0
    anonymous_yes: int = 0
    anonymous_no: int = 0

    @property
    def yes(self) -> int:
        return self.signed_in_yes + self.anonymous_yes

    @property
    def no(self) -> int:
        return self.signed_in_no + self.anonymous_no

    @property
    def helpful_percent(self) -> int | None:
        total = self.yes + self.no
        return round(100 * self.yes / total) if total else None


@dataclass(frozen=True)
class Insights:
    searches: int
    clicked: int
    top_queries: list[QueryStat]
    zero_result_queries: list[QueryStat]
    articles: list[ArticleStat]
    comments: list[ArticleFeedback]

    @property
    def signed_in_votes(self) -> int:
        return sum(a.signed_in_yes + a.signed_in_no for a in self.articles)

    @property
    def anonymous_votes(self) -> int:
        return sum(a.anonymous_yes + a.anonymous_no for a in self.articles)

    @property
    def click_through_percent(self) -> int | None:
        return round(100 * self.clicked / self.searches) if self.searches else None


def _query_stats(*conditions, limit: int) -> list[QueryStat]:
    clicks = func.sum(case((SearchQuery.clicked_slug.is_not(None), 1), else_=0))
    rows = db.session.execute(
        select(
            SearchQuery.normalised,
            func.count(),
            func.max(SearchQuery.result_count),
            clicks,
        )
        .where(*conditions)
        .group_by(SearchQuery.normalised)
        .order_by(func.count().desc(), SearchQuery.normalised)
        .limit(limit)
    )
    return [QueryStat(query=q, searches=n, results=r or 0, clicks=c or 0) for q, n, r, c in rows]


def content_insights(limit: int = 20) -> Insights:
    """Search and feedback figures for staff."""
    searches, clicked = db.session.execute(
        select(func.count(), func.count(SearchQuery.clicked_slug))
    ).one()
    library = get_library()
    signed_in = ArticleFeedback.voter.startswith(SIGNED_IN_VOTER)

    def count(*conditions) -> object:
        return func.sum(case((and_(*conditions), 1), else_=0))

    votes = db.session.execute(
        select(
            ArticleFeedback.slug,
            count(signed_in, ArticleFeedback.helpful.is_(True)),
            count(signed_in, ArticleFeedback.helpful.is_(False)),
            count(~signed_in, ArticleFeedback.helpful.is_(True)),
            count(~signed_in, ArticleFeedback.helpful.is_(False)),
        ).group_by(ArticleFeedback.slug)
    )
    counts = {slug: [n or 0 for n in numbers] for slug, *numbers in votes}
    articles = sorted(
        (
            ArticleStat(a.slug, a.title, *counts.get(a.slug, ()))
            for a in library.articles.values()
        ),
        key=lambda s: (-(s.yes + s.no), s.title),
    )
    comments = db.session.scalars(
        select(ArticleFeedback)
        .where(ArticleFeedback.comment.is_not(None))
        .order_by(ArticleFeedback.created_at.desc())
        .limit(limit)
    ).all()
    return Insights(
        searches=searches,
        clicked=clicked,
        top_queries=_query_stats(limit=limit),
        zero_result_queries=_query_stats(SearchQuery.result_count == 0, limit=limit),
        articles=articles,
        comments=list(comments),
    )
