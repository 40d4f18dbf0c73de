"""The full-text engine behind Help Center search, kept behind this module so it can be swapped.
One document per article section, so that a hit deep-links to its heading.

Whoosh builds the index: it analyses the text (English stemming, stop words), keeps the term
statistics and scores every term with BM25F. At build time the score of every word in every
section (Whoosh's BM25F, summed over the fields with their boosts) is written beside the index
in a compact *term table* (`tables.bin` + `tables-v<format>.meta`), with the sections that have
each pair of words side by side and each section's analysed words (for phrases), its text (for
snippets) and the spelling dictionary. A query then costs a few look-ups per word instead of
walking the postings in Python; a worker opens the index and its table once per generation
(memory-mapped, in milliseconds), not per request.

The index lives in `SEARCH_INDEX_DIR/<content hash>/`; the file `CURRENT` names the live one.
A rebuild writes a new folder and then replaces `CURRENT` atomically, so readers never wait for
a writer and never see half an index; running workers pick the new one up at their next query.

Every query is bounded: at most `MAX_QUERY_WORDS` words count, fuzzy words (`word~`, `word~2`)
allow at most `MAX_EDIT_DISTANCE` edits, only `MAX_FUZZY_WORDS` of them are fuzzy and each
stands for at most `MAX_FUZZY_EXPANSIONS` indexed words, and the optional work (fuzzy
expansion, phrase checks, spelling correction) stops when `TIME_BUDGET_SECONDS` are spent.
"""

import fcntl
import heapq
import html
import marshal
import mmap
import os
import re
import shutil
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, pairwise
from operator import itemgetter
from pathlib import Path

from whoosh import index
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.analysis.filters import STOP_WORDS
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.lang.porter import stem as porter_stem
from whoosh.scoring import BM25F, bm25

# Words of a question that say nothing about its subject ("how do I …", "where are my …").
QUESTION_WORDS = frozenset(
    {
        "how", "what", "where", "when", "why", "which", "who", "do", "does", "did", "i", "me",
        "my", "our", "can", "could", "should", "would", "there", "get", "need", "want", "about",
        "was", "were", "has", "had", "am", "been", "im",
    }
)
STOP = STOP_WORDS | QUESTION_WORDS
FIELD_BOOSTS = {"title": 4.0, "heading": 2.5, "tags": 2.0, "body": 1.0}
SEARCH_FIELDS = list(FIELD_BOOSTS)
WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
SNIPPET_CHARS = 220

# Bounds of one query (stated in the article "Searching the Help Center").
MAX_QUERY_WORDS = 10  # words after the first ten (not counting ignored words) are left out
MAX_EDIT_DISTANCE = 2  # "word~5" allows two edits, not five
MAX_FUZZY_WORDS = 3  # a fourth "word~" in one query is searched as typed
MAX_FUZZY_EXPANSIONS = 10  # the nearest, most frequent indexed words a fuzzy word stands for
TIME_BUDGET_SECONDS = 0.5  # optional work (fuzzy, phrases, spelling) stops after this
# Spelling: a word of up to SHORT_WORD letters is corrected by one edit at most, a longer one by
# MAX_EDIT_DISTANCE. A word found in a single section, one edit away from a word at least
# TYPO_RATIO times as frequent with the same first letter and another stem (like the sample
# typo in the search help), is left out of the vocabulary: a typo, not a word the help uses.
SHORT_WORD = 7
TYPO_RATIO = 20
TYPO_MIN_LENGTH = 5

TABLES_FORMAT = 3
TABLES_BIN = "tables.bin"
TABLES_META = f"tables-v{TABLES_FORMAT}.meta"  # an older format is rebuilt
# Whoosh's tokenizer pattern: for the build's own pass over the text (see `analyse`).
TOKEN_RE = re.compile(r"\w+(?:\.?\w+)*")
QUERY_PART_RE = re.compile(r'"([^"]*)"?|([^\s"]+)')
QUERY_WORD_RE = re.compile(r"(\w+(?:\.?\w+)*)(~(\d*))?")
FIELD_SEPARATOR = " | "


def _analyzer(stem: bool):
    chain = RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP, minsize=2)
    return chain | StemFilter() if stem else chain


SCHEMA = Schema(
    doc_id=ID(unique=True, stored=True),
    slug=ID(stored=True, sortable=True),
    anchor=STORED,
    category=ID(stored=True),
    title=TEXT(analyzer=_analyzer(stem=True), stored=True),
    heading=TEXT(analyzer=_analyzer(stem=True), stored=True),
    tags=TEXT(analyzer=_analyzer(stem=True)),
    body=TEXT(analyzer=_analyzer(stem=True), stored=True),
    # Unstemmed words of every field: the dictionary of "Did you mean …?".
    spell=TEXT(analyzer=_analyzer(stem=False), spelling=True),
)
STEMMED = SCHEMA["body"].analyzer
UNSTEMMED = SCHEMA["spell"].analyzer


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
class ArticleHit:
    """One article, with the section that matched best."""

    slug: str
    title: str
    category: str
    score: float
    anchor: str  # "" for the top of the article
    heading: str
    snippet: str  # HTML: escaped text with <mark> around matched words


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
    over_budget: bool = False  # the time budget cut some optional work short
    ignored_words: int = 0  # words beyond MAX_QUERY_WORDS


# --- Building -----------------------------------------------------------------------------


def _current_dir(base: Path) -> Path | None:
    try:
        name = (base / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    path = base / name
    # An index without its term table (an older format) counts as none: it gets rebuilt.
    if not (path / TABLES_META).is_file() or not index.exists_in(str(path)):
        return None
    return path


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
        _write_tables(ix, build_dir, docs)
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


def analyse(text: str) -> list[str]:
    """The stemmed words of `text`, as the index's analyser gives them (Whoosh's tokenizer
    pattern, lower case, stop words and one-letter words out, Whoosh's Porter stemmer), without
    its per-token objects: the build analyses every section once more, and this is faster."""
    words = []
    for match in TOKEN_RE.finditer(text):
        word = match.group().lower()
        if len(word) > 1 and word not in STOP:
            words.append(_stem(word))
    return words


def _write_tables(ix: index.Index, folder: Path, docs: list[SectionDoc]) -> None:
    """The term table of a freshly built index: per stemmed word, the sections that contain it
    and their BM25F score (Whoosh's scorer: its idf, average and section field lengths; summed
    over the fields with their boosts); per section, its analysed words (for phrases) and its
    text (for snippets)."""
    # Each section analysed once: its words in a row (fields apart) for long phrases, the pairs
    # of words side by side for phrases, and how often each word is in each field.
    fields_of = [[analyse(text) for text in (doc.title, doc.heading, doc.tags, doc.body)]
                 for doc in docs]
    frequencies: dict[str, dict[str, dict[int, int]]] = {name: {} for name in FIELD_BOOSTS}
    for docnum, fields in enumerate(fields_of):
        for name, words in zip(FIELD_BOOSTS, fields, strict=True):
            postings = frequencies[name]
            for word in words:
                counts = postings.setdefault(word, {})
                counts[docnum] = counts.get(docnum, 0) + 1

    blob = bytearray()
    terms: dict[str, tuple[int, int]] = {}
    with ix.searcher(weighting=BM25F()) as searcher:
        reader = searcher.reader()
        count = reader.doc_count_all()
        if count != len(docs):
            raise RuntimeError("the index does not hold one document per section")
        spelling = {
            text: reader.doc_frequency("spell", text) for text in reader.field_terms("spell")
        }
        typos = _typos(spelling)
        for word in typos:
            del spelling[word]
        typo_stems = {_stem(word) for word in typos}
        lengths = {
            name: [searcher.doc_field_length(docnum, name) for docnum in range(count)]
            for name in FIELD_BOOSTS
        }
        for text in sorted({text for postings in frequencies.values() for text in postings}):
            if text in typo_stems and max(
                len(frequencies[name].get(text, ())) for name in FIELD_BOOSTS
            ) <= 1:
                continue
            table: dict[int, float] = {}
            for name, boost in FIELD_BOOSTS.items():
                counts = frequencies[name].get(text)
                if not counts:
                    continue
                # What Whoosh's BM25F scorer gives each posting (scorer.score(matcher)), from
                # the same figures without reading the postings back one by one.
                scorer = searcher.weighting.scorer(searcher, name, text)
                field_lengths = lengths[name]
                for docnum, weight in counts.items():
                    score = bm25(scorer.idf, weight, field_lengths[docnum], scorer.avgfl,
                                 scorer.B, scorer.K1)
                    table[docnum] = table.get(docnum, 0.0) + boost * score
            docnums = sorted(table)
            terms[text] = (len(blob), len(docnums))
            blob += array("I", docnums).tobytes()
            blob += array("f", [table[d] for d in docnums]).tobytes()
    del frequencies
    streams = array("Q", [len(blob)])
    pair_docs: dict[str, array] = {}
    for docnum, fields in enumerate(fields_of):
        analysed = FIELD_SEPARATOR.join(" ".join(words) for words in fields)
        blob += f" {analysed} ".encode()
        streams.append(len(blob))
        for pair in {f"{a} {b}" for words in fields for a, b in pairwise(words)}:
            pair_docs.setdefault(pair, array("I")).append(docnum)
    pairs: dict[str, tuple[int, int]] = {}
    for pair in sorted(pair_docs):
        pairs[pair] = (len(blob), len(pair_docs[pair]))
        blob += pair_docs[pair].tobytes()
    del pair_docs, fields_of
    bodies = array("Q", [len(blob)])
    for doc in docs:
        blob += doc.body.encode()
        bodies.append(len(blob))
    articles: dict[str, int] = {}
    article_rows: list[tuple[str, str, str]] = []
    doc_article = array("I")
    for doc in docs:
        if doc.slug not in articles:
            articles[doc.slug] = len(article_rows)
            article_rows.append((doc.slug, doc.title, doc.category))
        doc_article.append(articles[doc.slug])
    meta = {
        "format": TABLES_FORMAT,
        "docs": len(docs),
        "terms": terms,
        "pairs": pairs,
        "streams": streams.tobytes(),
        "bodies": bodies.tobytes(),
        "anchors": [doc.anchor for doc in docs],
        "headings": [doc.heading for doc in docs],
        "doc_article": doc_article.tobytes(),
        "articles": article_rows,
        "spelling": spelling,
    }
    (folder / TABLES_BIN).write_bytes(bytes(blob) or b"\0")
    (folder / TABLES_META).write_bytes(marshal.dumps(meta))


def _typos(spelling: dict[str, int]) -> set[str]:
    """Words of one section that are one edit from a word TYPO_RATIO times as frequent, which
    starts with the same letter and is not another form of the same word ("banks" is no typo
    of "bank")."""
    by_length = _by_length(spelling)
    typos = set()
    for word, frequency in spelling.items():
        if frequency > 1 or len(word) < TYPO_MIN_LENGTH:
            continue
        for length in (len(word) - 1, len(word), len(word) + 1):
            if any(
                spelling[other] >= TYPO_RATIO * frequency
                and _stem(other) != _stem(word)
                and _distance(word, other, 1) <= 1
                for other in by_length.get((word[0], length), ())
            ):
                typos.add(word)
                break
    return typos


# --- Reading ------------------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds
        self.hit = False

    def passed(self) -> bool:
        if not self.hit and time.perf_counter() >= self.end:
            self.hit = True
        return self.hit


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return porter_stem(word)


def _distance(a: str, b: str, limit: int) -> int:
    """Edit distance (insertions, deletions, substitutions and swaps of neighbours), or
    `limit + 1` as soon as it is known to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        best = i
        for j in range(1, len(b) + 1):
            value = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _nearest(word: str, vocabulary: dict[str, int], by_length: dict[object, list[str]],
             max_distance: int, limit: int, deadline: _Deadline,
             same_first_letter: bool = False) -> list[str]:
    """Up to `limit` words of `vocabulary` within `max_distance` edits of `word`: the nearest
    first, then the most frequent. With `same_first_letter`, only words that start like `word`
    (a typo in the first letter is rare, and checking fewer words is faster)."""
    found = []
    for length in range(len(word) - max_distance, len(word) + max_distance + 1):
        for candidate in by_length.get((word[0], length) if same_first_letter else length, ()):
            distance = _distance(word, candidate, max_distance)
            if distance <= max_distance:
                found.append((distance, -vocabulary[candidate], candidate))
        if deadline.passed():
            break
    return [candidate for _, _, candidate in sorted(found)[:limit]]


@dataclass
class _Clause:
    kind: str  # "word", "fuzzy" or "phrase"
    stems: list[str]
    distance: int = 0


@dataclass
class _Query:
    clauses: list[_Clause] = field(default_factory=list)
    ignored_words: int = 0


def parse_query(text: str) -> _Query:
    """Words, "quoted phrases" and fuzzy words (`word~`, `word~2`), analysed like the index.
    Anything else (operators, brackets, field names) is plain text: no query is a syntax
    error."""
    query = _Query()
    words = fuzzy = 0
    for match in QUERY_PART_RE.finditer(text):
        phrase, bare = match.groups()
        if phrase is not None:
            stems = [token.text for token in STEMMED(phrase)]
            room = MAX_QUERY_WORDS - words
            query.ignored_words += max(0, len(stems) - room)
            stems = stems[:room]
            if stems:
                query.clauses.append(_Clause("phrase" if len(stems) > 1 else "word", stems))
                words += len(stems)
            continue
        for part in QUERY_WORD_RE.finditer(bare):
            word, tilde, digits = part.groups()
            for position, stem in enumerate([token.text for token in STEMMED(word)]):
                if words >= MAX_QUERY_WORDS:
                    query.ignored_words += 1
                    continue
                words += 1
                distance = min(int(digits or 1), MAX_EDIT_DISTANCE) if tilde else 0
                if distance and fuzzy < MAX_FUZZY_WORDS and position == 0:
                    fuzzy += 1
                    query.clauses.append(_Clause("fuzzy", [stem], distance))
                else:
                    query.clauses.append(_Clause("word", [stem]))
    return query


class _Generation:
    """One built index, opened once: its term table mapped in memory and what is derived
    from it. Read-only, so threads share it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = path.name
        # Written by build_index into the index folder, which only the application writes.
        meta = marshal.loads((path / TABLES_META).read_bytes())  # noqa: S302
        if meta.get("format") != TABLES_FORMAT:
            raise FileNotFoundError(f"the search index in {path} has an older format")
        with open(path / TABLES_BIN, "rb") as file:
            self._blob = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self.doc_count = meta["docs"]
        self.terms: dict[str, tuple[int, int]] = meta["terms"]
        self.pairs: dict[str, tuple[int, int]] = meta["pairs"]
        self._streams = array("Q", meta["streams"])
        self._bodies = array("Q", meta["bodies"])
        self.anchors: list[str] = meta["anchors"]
        self.headings: list[str] = meta["headings"]
        self.doc_article = array("I", meta["doc_article"])
        self.articles: list[tuple[str, str, str]] = meta["articles"]
        self.spelling: dict[str, int] = meta["spelling"]
        self.spelling_by_length = _by_length(self.spelling)
        self.term_frequency = {text: count for text, (_, count) in self.terms.items()}
        self.terms_by_length = _by_length(self.term_frequency)
        self.category_articles: dict[str, frozenset[int]] = {}
        for number, (_, _, category) in enumerate(self.articles):
            self.category_articles.setdefault(category, set()).add(number)
        self.category_articles = {
            name: frozenset(numbers) for name, numbers in self.category_articles.items()
        }

    def postings(self, text: str) -> dict[int, float]:
        entry = self.terms.get(text)
        if entry is None:
            return {}
        offset, count = entry
        docnums = array("I")
        docnums.frombytes(self._blob[offset : offset + 4 * count])
        scores = array("f")
        scores.frombytes(self._blob[offset + 4 * count : offset + 8 * count])
        return dict(zip(docnums, scores, strict=True))

    def phrase_docs(self, stems: list[str], deadline: _Deadline) -> set[int]:
        """The sections where `stems` follow each other in one field."""
        lists = []
        for pair in pairwise(stems):
            entry = self.pairs.get(" ".join(pair))
            if entry is None:
                return set()
            offset, count = entry
            docnums = array("I")
            docnums.frombytes(self._blob[offset : offset + 4 * count])
            lists.append(docnums)
        lists.sort(key=len)
        found = set(lists[0]).intersection(*lists[1:])
        if len(stems) == 2:
            return found
        needle = (" " + " ".join(stems) + " ").encode()
        starts, blob = self._streams, self._blob
        checked = set()
        for position, docnum in enumerate(found):
            if position % 512 == 0 and deadline.passed():
                break
            if needle in blob[starts[docnum] : starts[docnum + 1]]:
                checked.add(docnum)
        return checked

    def body(self, docnum: int) -> str:
        return self._blob[self._bodies[docnum] : self._bodies[docnum + 1]].decode()


def _by_length(vocabulary: dict[str, int]) -> dict[object, list[str]]:
    """The words by length, and by first letter and length."""
    buckets: dict[object, list[str]] = {}
    for word in vocabulary:
        buckets.setdefault(len(word), []).append(word)
        buckets.setdefault((word[0], len(word)), []).append(word)
    return buckets


class SearchIndex:
    """A read-only handle on the live index that follows `CURRENT` when a rebuild replaces it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._generation: _Generation | None = None
        self._pointer: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _current(self) -> _Generation:
        # One stat of CURRENT per query (a rebuild replaces the file, so its inode changes);
        # the index itself is opened and checked only when it does.
        try:
            stat = os.stat(self.base / "CURRENT")
            pointer = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            pointer = None
        generation = self._generation
        if generation is not None and pointer is not None and pointer == self._pointer:
            return generation
        with self._lock:
            version = index_version(self.base)
            if version is None:
                raise FileNotFoundError(
                    f"no search index in {self.base}; run `flask search reindex`"
                )
            generation = self._generation
            if generation is None or generation.version != version:
                generation = _Generation(self.base / version)
                self._generation = generation
            self._pointer = pointer
        return generation

    @property
    def version(self) -> str | None:
        return index_version(self.base)

    def doc_count(self) -> int:
        return self._current().doc_count

    def search(
        self,
        query: str,
        *,
        category: str | None = None,
        page: int = 1,
        page_size: int = 10,
        budget: float | None = None,
    ) -> SearchResult:
        deadline = _Deadline(TIME_BUDGET_SECONDS if budget is None else budget)
        return _search(self._current(), query.strip(), category, max(page, 1), page_size,
                       deadline)


# --- Searching ----------------------------------------------------------------------------


def _clause_postings(generation: _Generation, clause: _Clause, deadline: _Deadline,
                     highlight: set[str]) -> dict[int, float]:
    if clause.kind == "word":
        highlight.add(clause.stems[0])
        return generation.postings(clause.stems[0])
    if clause.kind == "fuzzy":
        words = _nearest(clause.stems[0], generation.term_frequency,
                         generation.terms_by_length, clause.distance, MAX_FUZZY_EXPANSIONS,
                         deadline)
        highlight.update(words)
        merged: dict[int, float] = {}
        for word in words:
            for docnum, score in generation.postings(word).items():
                if score > merged.get(docnum, 0.0):
                    merged[docnum] = score
        return merged
    # A phrase: the sections with all its words, then those with the words side by side in
    # one field (stop words are left out of both, as when indexing).
    highlight.update(clause.stems)
    tables = [generation.postings(stem) for stem in clause.stems]
    if not all(tables):
        return {}
    first, *others = tables
    found = {docnum: first[docnum] for docnum in generation.phrase_docs(clause.stems, deadline)}
    for table in others:
        found = {docnum: score + table[docnum] for docnum, score in found.items()}
    return found


def _match(generation: _Generation, query: _Query, category: str | None,
           deadline: _Deadline) -> tuple[dict[int, float], set[str], bool]:
    """Section scores: sections with every clause first; when there are none, sections with
    any, the score scaled by the share of clauses they have. The flag tells which it was."""
    highlight: set[str] = set()
    tables = [_clause_postings(generation, c, deadline, highlight) for c in query.clauses]
    if category is not None:
        wanted = generation.category_articles.get(category, frozenset())
        articles = generation.doc_article
        tables = [{d: s for d, s in t.items() if articles[d] in wanted} for t in tables]
    if not tables:
        return {}, highlight, False
    ordered = sorted(tables, key=len)
    matched = ordered[0]
    for table in ordered[1:]:
        if not matched:
            break
        matched = {d: s + table[d] for d, s in matched.items() if d in table}
    if matched or len(tables) == 1:
        return matched, highlight, bool(matched)
    # Sums over the largest table first, which is copied rather than added up.
    largest, *rest = sorted(tables, key=len, reverse=True)
    total = dict(largest)
    for table in rest:
        for docnum, score in table.items():
            total[docnum] = total.get(docnum, 0.0) + score
    count = Counter(chain.from_iterable(tables))
    share = 1 / len(tables)
    return {d: s * count[d] * share for d, s in total.items()}, highlight, False


def _correct(generation: _Generation, text: str, deadline: _Deadline) -> str | None:
    """The query with each word the index does not know (neither as typed nor in any other
    form of it) replaced by the nearest, most frequent word it does know."""
    changed = False
    out = []
    checked = 0
    tokens = re.split(r"(\W+)", text)
    for position, token in enumerate(tokens):
        word = token.lower()
        fuzzy = position + 1 < len(tokens) and tokens[position + 1].startswith("~")
        replacement = None
        if (
            WORD_RE.fullmatch(token)
            and len(word) > 2
            and word not in STOP
            and not fuzzy
            and word not in generation.spelling
            and _stem(word) not in generation.terms
            and checked < MAX_QUERY_WORDS
            and not deadline.passed()
        ):
            checked += 1
            distance = 1 if len(word) <= SHORT_WORD else MAX_EDIT_DISTANCE
            nearest = _nearest(word, generation.spelling, generation.spelling_by_length,
                               distance, 1, deadline, same_first_letter=True)
            replacement = nearest[0] if nearest else None
        changed = changed or replacement is not None
        out.append(replacement or token)
    return "".join(out) if changed else None


@lru_cache(maxsize=512)
def _candidates_re(stems: frozenset[str]) -> re.Pattern[str]:
    """The words that may stem to one of `stems`: those that start with all but the last letter
    of one (Porter stemming only cuts endings, and changes at most the last letter kept)."""
    prefixes = sorted({stem[:-1] if len(stem) > 2 else stem for stem in stems}, key=len,
                      reverse=True)
    alternatives = "|".join(re.escape(prefix) for prefix in prefixes) or "(?!)"
    return re.compile(rf"\b(?:{alternatives})\w*(?:\.\w+)*", re.IGNORECASE)


def _snippet(text: str, stems: frozenset[str]) -> str:
    """Up to SNIPPET_CHARS of `text` around the most matched words, escaped, matched words in
    <mark>."""
    spans = [m.span() for m in _candidates_re(stems).finditer(text)
             if _stem(m.group().lower()) in stems]
    if not spans:
        cut = text[:SNIPPET_CHARS]
        return html.escape(cut) + ("…" if len(text) > SNIPPET_CHARS else "")
    lead = SNIPPET_CHARS // 4
    best_start, best_count = spans[0][0], 0
    for index_, (start, _) in enumerate(spans):
        count = sum(1 for s, _ in spans[index_:] if s < start - lead + SNIPPET_CHARS)
        if count > best_count:
            best_start, best_count = start, count
    begin = max(0, best_start - lead)
    if begin:
        space = text.find(" ", begin, best_start)
        begin = space + 1 if space != -1 else begin
    end = min(len(text), begin + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > begin else end
    out = ["…" if begin else ""]
    position = begin
    for start, stop in spans:
        if start < begin or stop > end:
            continue
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:stop])}</mark>")
        position = stop
    out.append(html.escape(text[position:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


def _search(generation: _Generation, text: str, category: str | None, page: int,
            page_size: int, deadline: _Deadline) -> SearchResult:
    if not WORD_RE.search(text):
        return SearchResult(query=text, hits=[], total=0, page=1, pages=0)
    query = parse_query(text)
    scores, highlight, every_word = _match(generation, query, category, deadline)
    corrected = suggestion = None
    # A word the index does not know cannot match: when not every word matched, the corrected
    # words are searched, and shown when they all match (or the words as typed found nothing).
    correction = None if every_word else _correct(generation, text, deadline)
    if correction:
        fixed = parse_query(correction)
        fixed_scores, fixed_highlight, fixed_every_word = _match(generation, fixed, category,
                                                                 deadline)
        if fixed_scores and (fixed_every_word or not scores):
            query, scores, highlight, corrected = fixed, fixed_scores, fixed_highlight, correction
        elif scores:
            suggestion = correction
    if not scores:
        return SearchResult(query=text, hits=[], total=0, page=1, pages=0,
                            suggestion=suggestion, over_budget=deadline.hit,
                            ignored_words=query.ignored_words)

    # The best section of each article: the sections in score order, each article at its first.
    articles = generation.doc_article
    total = len(set(map(articles.__getitem__, scores)))
    pages = -(-total // page_size)
    page = min(page, pages)
    wanted = page * page_size
    limit = wanted * 4
    while True:
        if limit < len(scores):
            ordered = heapq.nlargest(limit, scores.items(), key=itemgetter(1))
        else:
            ordered = sorted(scores.items(), key=itemgetter(1), reverse=True)
        best: dict[int, tuple[float, int]] = {}
        for docnum, score in ordered:
            article = articles[docnum]
            if article not in best:
                best[article] = (score, docnum)
                if len(best) == wanted:
                    break
        if len(best) == wanted or len(ordered) == len(scores):
            break
        limit *= 4
    ranked = list(best.items())
    stems = frozenset(highlight)
    hits = []
    for article, (score, docnum) in ranked[(page - 1) * page_size :]:
        slug, title, article_category = generation.articles[article]
        hits.append(
            ArticleHit(
                slug=slug,
                title=title,
                category=article_category,
                score=score,
                anchor=generation.anchors[docnum],
                heading=generation.headings[docnum],
                snippet=_snippet(generation.body(docnum), stems),
            )
        )
    return SearchResult(
        query=text,
        hits=hits,
        total=total,
        page=page,
        pages=pages,
        corrected=corrected,
        suggestion=suggestion,
        over_budget=deadline.hit,
        ignored_words=query.ignored_words,
    )
