"""The full-text engine behind Help Center search (Whoosh), kept behind this module so it can
be swapped. One document per article section, so that a hit deep-links to its heading.

The index lives in `SEARCH_INDEX_DIR/<content hash>/`; the file `CURRENT` names the live one.
A rebuild writes a new folder and then replaces `CURRENT` atomically, so readers never wait for
a writer and never see half an index.
"""

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import highlight, index
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.analysis.filters import STOP_WORDS
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.qparser import (
    AndGroup,
    FieldsPlugin,
    FuzzyTermPlugin,
    MultifieldParser,
    OrGroup,
)
from whoosh.query import Query, Term
from whoosh.searching import Searcher

# Words of a question that say nothing about its subject ("how do I …", "where are my …").
QUESTION_WORDS = frozenset(
    {
        "how", "what", "where", "when", "why", "which", "who", "do", "does", "did", "i", "me",
        "my", "our", "can", "could", "should", "would", "there", "get", "need", "want", "about",
    }
)
STOP = STOP_WORDS | QUESTION_WORDS
FIELD_BOOSTS = {"title": 4.0, "heading": 2.5, "tags": 2.0, "body": 1.0}
SEARCH_FIELDS = list(FIELD_BOOSTS)
WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
SNIPPET_CHARS = 220


def _analyzer(stem: bool):
    chain = RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP, minsize=2)
    return chain | StemFilter() if stem else chain


SCHEMA = Schema(
    doc_id=ID(unique=True, stored=True),
    slug=ID(stored=True, sortable=True),  # sortable: a column that maps hits to articles
    anchor=STORED,
    category=ID(stored=True),
    title=TEXT(analyzer=_analyzer(stem=True), stored=True),
    heading=TEXT(analyzer=_analyzer(stem=True), stored=True),
    tags=TEXT(analyzer=_analyzer(stem=True)),
    body=TEXT(analyzer=_analyzer(stem=True), stored=True),
    # Unstemmed words of every field: the dictionary of "Did you mean …?".
    spell=TEXT(analyzer=_analyzer(stem=False), spelling=True),
)


@dataclass(frozen=True)
class SectionDoc:
    slug: str
    anchor: str
    category: str
    title: str
    heading: str
    tags: str
    body: str


@dataclass
class SectionHit:
    anchor: str
    heading: str
    snippet: str  # HTML: escaped text with <mark> around matched terms


@dataclass
class ArticleHit:
    slug: str
    title: str
    category: str
    score: float
    sections: list[SectionHit] = field(default_factory=list)


@dataclass
class SearchResult:
    query: str
    hits: list[ArticleHit]
    total: int  # articles matched
    page: int
    pages: int
    corrected: str | None = None  # the query actually searched, when a misspelling was fixed
    suggestion: str | None = None  # "Did you mean …?" when the query found results as typed
    error: str | None = None


def _current_dir(base: Path) -> Path | None:
    try:
        name = (base / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    path = base / name
    return path if index.exists_in(str(path)) else None


def index_version(base: Path) -> str | None:
    """The content hash of the live index, or None when there is none."""
    current = _current_dir(base)
    return current.name if current else None


@contextmanager
def _writer_lock(base: Path) -> Iterator[None]:
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_index(
    base: Path,
    version: str,
    docs: list[SectionDoc],
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> Path:
    """Build a new index of `docs` and make it the live one. Only one builder runs at a time;
    readers keep using the previous index until the switch. Without `force`, an index already
    built for `version` (by another worker) is kept."""
    with _writer_lock(base):
        if not force and index_version(base) == version:
            return base / version
        build_dir = Path(tempfile.mkdtemp(prefix=".build-", dir=base))
        ix = index.create_in(str(build_dir), SCHEMA)
        writer = ix.writer(limitmb=256)
        for count, doc in enumerate(docs, start=1):
            writer.add_document(
                doc_id=f"{doc.slug}#{doc.anchor}",
                slug=doc.slug,
                anchor=doc.anchor,
                category=doc.category,
                title=doc.title,
                heading=doc.heading,
                tags=doc.tags,
                body=doc.body,
                spell=" ".join([doc.title, doc.heading, doc.tags, doc.body]),
            )
            if progress:
                progress(count)
        writer.commit()
        target = base / version
        if target.exists():
            shutil.rmtree(target)
        os.replace(build_dir, target)
        pointer = base / ".CURRENT.tmp"
        pointer.write_text(version)
        os.replace(pointer, base / "CURRENT")
        for old in base.iterdir():
            if old.is_dir() and old.name != version:
                shutil.rmtree(old, ignore_errors=True)
        return target


class SearchIndex:
    """A read-only handle on the live index that follows `CURRENT` when a rebuild replaces it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._version: str | None = None
        self._ix: index.Index | None = None

    def _index(self) -> index.Index:
        version = index_version(self.base)
        if version is None:
            raise FileNotFoundError(f"no search index in {self.base}; run `flask search reindex`")
        if version != self._version or self._ix is None:
            self._ix = index.open_dir(str(self.base / version))
            self._version = version
        return self._ix

    @property
    def version(self) -> str | None:
        return index_version(self.base)

    def doc_count(self) -> int:
        return self._index().doc_count()

    def search(
        self, query: str, *, category: str | None = None, page: int = 1, page_size: int = 10
    ) -> SearchResult:
        with self._index().searcher() as searcher:
            return _search(searcher, query.strip(), category, max(page, 1), page_size)


def _parser(group) -> MultifieldParser:
    parser = MultifieldParser(SEARCH_FIELDS, SCHEMA, fieldboosts=FIELD_BOOSTS, group=group)
    # Readers type words, not field names: "Note: ACH" must not search a field called "note".
    parser.remove_plugin_class(FieldsPlugin)
    # "ivoice~" (or "ivoice~2") asks for words within one (two) edits, as the help explains.
    parser.add_plugin(FuzzyTermPlugin())
    return parser


def _parse(text: str, group) -> Query | None:
    try:
        return _parser(group).parse(text)
    except Exception:  # noqa: BLE001 - any parser failure falls back to plain words
        words = " ".join(WORD_RE.findall(text))
        return _parser(group).parse(words) if words else None


def _nearest_word(corrector, word: str) -> str | None:
    # The nearest word first: Whoosh ranks by frequency within the distance it is given.
    for distance in (1, 2):
        suggestions = corrector.suggest(word, limit=1, maxdist=distance, prefix=1)
        if suggestions:
            return suggestions[0]
    return None


def _correct(searcher: Searcher, text: str) -> str | None:
    """The query with each word missing from the dictionary replaced by its nearest word."""
    corrector = searcher.corrector("spell")
    reader = searcher.reader()
    changed = False
    out = []
    for token in re.split(r"(\W+)", text):
        word = token.lower()
        unknown = (
            WORD_RE.fullmatch(token)
            and len(word) > 2
            and word not in STOP
            and reader.doc_frequency("spell", word) == 0
        )
        replacement = _nearest_word(corrector, word) if unknown else None
        changed = changed or replacement is not None
        out.append(replacement or token)
    return "".join(out) if changed else None


def _matches(searcher: Searcher, parsed: Query, category: str | None) -> set[int]:
    """The document numbers that match, unscored (cheap: no ranking, no stored fields)."""
    docs = set(searcher.docs_for_query(parsed))
    if category:
        docs &= set(searcher.docs_for_query(Term("category", category)))
    return docs


def _run(searcher: Searcher, text: str, category: str | None):
    """AND of the words first; when nothing has them all, OR with a bonus for more words.
    Returns the query that matched and the document numbers it matched."""
    parsed = None
    for group in (AndGroup, OrGroup.factory(0.9)):
        parsed = _parse(text, group)
        if parsed is None:
            return None, set()
        docs = _matches(searcher, parsed, category)
        if docs:
            return parsed, docs
    return parsed, set()


def _ranked_articles(searcher: Searcher, parsed: Query, category: str | None, slugs,
                     wanted: int) -> tuple[dict[str, list], object]:
    """The best `wanted` articles, each with its best-scoring section hits, in rank order.
    Scores only as many sections as needed: the limit grows until enough articles appear."""
    filter_query = Term("category", category) if category else None
    limit = max(wanted * 4, 40)
    while True:
        results = searcher.search(parsed, limit=limit, filter=filter_query)
        grouped: dict[str, list] = {}
        for hit in results:
            grouped.setdefault(slugs[hit.docnum], []).append(hit)
        if len(grouped) >= wanted or len(results) < limit:
            return grouped, results
        limit *= 4


def _snippet(hit) -> str:
    text = hit.get("body", "")
    snippet = hit.highlights("body", text=text, top=2)
    if not snippet:
        ellipsis = "…" if len(text) > SNIPPET_CHARS else ""
        snippet = highlight.htmlescape(text[:SNIPPET_CHARS] + ellipsis)
    return snippet


def _search(
    searcher: Searcher, text: str, category: str | None, page: int, page_size: int
) -> SearchResult:
    if not WORD_RE.search(text):
        return SearchResult(query=text, hits=[], total=0, page=1, pages=0)
    parsed, docs = _run(searcher, text, category)
    corrected = suggestion = None
    correction = _correct(searcher, text)
    if not docs and correction:
        parsed, docs = _run(searcher, correction, category)
        if docs:
            corrected = correction
    elif correction:
        suggestion = correction
    if not docs:
        return SearchResult(query=text, hits=[], total=0, page=1, pages=0,
                            suggestion=suggestion)

    slugs = searcher.reader().column_reader("slug")
    total = len({slugs[doc] for doc in docs})
    pages = -(-total // page_size)
    page = min(page, pages)
    grouped, results = _ranked_articles(searcher, parsed, category, slugs, page * page_size)
    visible = list(grouped.items())[(page - 1) * page_size : page * page_size]
    results.fragmenter = highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=60)
    results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
    hits = [
        ArticleHit(
            slug=slug,
            title=section_hits[0]["title"],
            category=section_hits[0]["category"],
            score=section_hits[0].score,
            sections=[
                SectionHit(anchor=h["anchor"], heading=h["heading"], snippet=_snippet(h))
                for h in section_hits[:3]
            ],
        )
        for slug, section_hits in visible
    ]
    return SearchResult(
        query=text,
        hits=hits,
        total=total,
        page=page,
        pages=pages,
        corrected=corrected,
        suggestion=suggestion,
    )
