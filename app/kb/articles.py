"""Help Center articles: loading with front matter validation, and safe rendering.

An article is `content/articles/<slug>.md`: YAML front matter between `---` lines, then Markdown.
Articles are loaded and rendered once per process; the HTML is the same for every reader.
"""

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import markdown
import nh3
import yaml
from flask import Flask, url_for
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension
from werkzeug.routing import BuildError

CATEGORIES: dict[str, str] = {
    "whats-new": "What's new",
    "invoices-billing": "Invoices & billing",
    "payments": "Payments",
    "account-information": "Account information",
    "control-panel": "Control panel",
}
CATEGORY_SLUGS = {name: slug for slug, name in CATEGORIES.items()}
REQUIRED_FIELDS = {
    "title": str,
    "summary": str,
    "category": str,
    "tags": list,
    "related": list,
    "pages": list,
    "updated": date,
}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)
SECTION_HEADING_RE = re.compile(r'<h([23]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
TAG_RE = re.compile(r"<[^>]+>")
# Inline elements join their text to the words around them; block elements separate words.
INLINE_TAG_RE = re.compile(r"</?(?:a|abbr|code|em|kbd|mark|span|strong)\b[^>]*>")
TABLE_RE = re.compile(r"<table>.*?</table>", re.S)
EMPTY_HEADER_RE = re.compile(r"<th( [^>]*)?>\s*</th>")
HEADERLINK_TEXT_RE = re.compile(r'(<a [^>]*class="headerlink"[^>]*>)#(</a>)')
HEADERLINK_RE = re.compile(r'<a [^>]*class="headerlink"[^>]*>.*?</a>', re.S)
LINK_RE = re.compile(r'href="(app|help):([^"#]*)(#[^"]*)?"')

ALLOWED_TAGS = {
    "a", "abbr", "blockquote", "br", "code", "dd", "details", "div", "dl", "dt", "em", "h2",
    "h3", "h4", "hr", "kbd", "li", "ol", "p", "pre", "span", "strong", "summary", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "abbr": {"title"},
    "div": {"class"},
    "p": {"class"},
    "span": {"class"},
    "code": {"class"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}


class ArticleError(Exception):
    """An article file is invalid; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Section:
    anchor: str
    heading: str
    text: str


@dataclass
class Article:
    slug: str
    title: str
    summary: str
    category: str
    tags: list[str]
    related: list[str]
    pages: list[str]
    updated: date
    body: str
    html: str = ""
    toc: list[dict] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category]


@dataclass
class Library:
    """All articles of the Help Center, by slug, with the hash of their source files."""

    articles: dict[str, Article]
    content_hash: str
    # Endpoint → the articles that explain it, built once: every page asks for its help.
    _by_page: dict[str, list[Article]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_page = {}
        for article in sorted(self.articles.values(), key=lambda a: a.title):
            for endpoint in article.pages:
                self._by_page.setdefault(endpoint, []).append(article)

    def get(self, slug: str) -> Article | None:
        return self.articles.get(slug)

    def in_category(self, category: str) -> list[Article]:
        return sorted(
            (a for a in self.articles.values() if a.category == category), key=lambda a: a.title
        )

    def for_page(self, endpoint: str) -> list[Article]:
        """Articles whose front matter says they explain the page `endpoint`."""
        return self._by_page.get(endpoint, [])

    def related(self, article: Article) -> list[Article]:
        return [self.articles[slug] for slug in article.related]


def content_hash(content_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(content_dir.glob("*.md")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def parse_article(path: Path) -> Article:
    """Read one article file. Raises ArticleError naming the file when it is invalid."""
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise ArticleError(f"{path.name}: the file name must be a lower-case slug")
    match = FRONT_MATTER_RE.match(path.read_text(encoding="utf-8"))
    if not match:
        raise ArticleError(f"{path.name}: no front matter (a block between '---' lines) at the top")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise ArticleError(f"{path.name}: the front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise ArticleError(f"{path.name}: the front matter must be a mapping of fields")
    unknown = set(meta) - set(REQUIRED_FIELDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ArticleError(f"{path.name}: unknown front matter fields: {names}")
    for name, kind in REQUIRED_FIELDS.items():
        if name not in meta:
            raise ArticleError(f"{path.name}: front matter field '{name}' is missing")
        if not isinstance(meta[name], kind):
            raise ArticleError(
                f"{path.name}: front matter field '{name}' must be a {kind.__name__}"
            )
        if kind is list and not all(isinstance(item, str) for item in meta[name]):
            raise ArticleError(f"{path.name}: front matter field '{name}' must list strings")
        if kind is str and not meta[name].strip():
            raise ArticleError(f"{path.name}: front matter field '{name}' is empty")
    category = CATEGORY_SLUGS.get(meta["category"])
    if category is None:
        raise ArticleError(
            f"{path.name}: unknown category '{meta['category']}'; "
            f"use one of: {', '.join(CATEGORIES.values())}"
        )
    return Article(
        slug=slug,
        title=meta["title"].strip(),
        summary=meta["summary"].strip(),
        category=category,
        tags=[tag.strip().lower() for tag in meta["tags"]],
        related=meta["related"],
        pages=meta["pages"],
        updated=meta["updated"],
        body=match.group(2),
    )


def _markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=[
            TableExtension(use_align_attribute=True),
            "admonition",
            "attr_list",
            "def_list",
            "pymdownx.superfences",
            TocExtension(permalink="#", permalink_title="Link to this section", toc_depth="2-3"),
        ],
        output_format="html",
    )


def _sanitise(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _plain_text(markup: str) -> str:
    text = TAG_RE.sub(" ", INLINE_TAG_RE.sub("", HEADERLINK_RE.sub("", markup)))
    text = re.sub(r"\s+", " ", html.unescape(text)).strip()
    return re.sub(r" ([.,;:!?)])", r"\1", text).replace("( ", "(")


def _resolve_links(article: Article, markup: str, slugs: set[str]) -> str:
    """Turn `app:endpoint` and `help:slug` links into URLs; raise ArticleError on a broken one."""

    def replace(match: re.Match) -> str:
        scheme, target, fragment = match.group(1), match.group(2), match.group(3) or ""
        if scheme == "help":
            if target not in slugs:
                raise ArticleError(f"{article.slug}.md: link to unknown article 'help:{target}'")
            url = url_for("kb.article", slug=target)
        else:
            try:
                url = url_for(target)
            except BuildError as error:
                raise ArticleError(
                    f"{article.slug}.md: link to unknown page 'app:{target}'"
                ) from error
        article.links.append(f"{scheme}:{target}")
        return f'href="{html.escape(url + fragment)}"'

    return LINK_RE.sub(replace, markup)


def _split_sections(article: Article) -> list[Section]:
    """One section per h2/h3 heading (plus the introduction), for deep links from search."""
    sections = []
    matches = list(SECTION_HEADING_RE.finditer(article.html))
    intro = article.html[: matches[0].start()] if matches else article.html
    sections.append(Section(anchor="", heading=article.title, text=_plain_text(intro)))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(article.html)
        body = article.html[match.end() : end]
        sections.append(
            Section(
                anchor=match.group(2),
                heading=_plain_text(match.group(3)),
                text=_plain_text(body),
            )
        )
    return sections


def _accessible(markup: str) -> str:
    """After sanitising (this markup is ours): wide tables scroll inside a region that the
    keyboard can reach, heading links are named for screen readers, not read as "#", and the
    empty corner of a table with row labels is a plain cell rather than a header without text.

    Each table region is a landmark, so each gets its own name, from the heading of its
    section: "Table: Aging buckets", then "Table 2: Aging buckets" for a second one there."""
    headings = [(match.start(), _plain_text(match.group(3)))
                for match in SECTION_HEADING_RE.finditer(markup)]
    counts: dict[str, int] = {}

    def wrap(match: re.Match) -> str:
        heading = next((text for start, text in reversed(headings) if start < match.start()), "")
        counts[heading] = counts.get(heading, 0) + 1
        number = f" {counts[heading]}" if counts[heading] > 1 else ""
        name = f"Table{number}: {heading}" if heading else f"Table{number}"
        return (f'<div class="table-scroll" role="region" tabindex="0" '
                f'aria-label="{html.escape(name)}">{match.group(0)}</div>')

    markup = EMPTY_HEADER_RE.sub(r"<td\1></td>", TABLE_RE.sub(wrap, markup))
    return HEADERLINK_TEXT_RE.sub(
        r'\1<span aria-hidden="true">#</span>'
        r'<span class="visually-hidden">Link to this section</span>\2', markup)


def render_article(article: Article, slugs: set[str]) -> None:
    """Render the Markdown body to sanitised HTML, with TOC and sections. Needs an app context."""
    md = _markdown()
    markup = md.convert(article.body)
    markup = _resolve_links(article, markup, slugs)
    article.html = _accessible(_sanitise(markup))
    article.toc = md.toc_tokens
    article.sections = _split_sections(article)


def load_library(content_dir: Path, app: Flask) -> Library:
    """Load and render every article. Raises ArticleError naming the first bad file."""
    if not content_dir.is_dir():
        raise ArticleError(f"{content_dir}: the articles folder does not exist")
    articles = {path.stem: parse_article(path) for path in sorted(content_dir.glob("*.md"))}
    slugs = set(articles)
    for article in articles.values():
        for slug in article.related:
            if slug not in slugs:
                raise ArticleError(f"{article.slug}.md: related article '{slug}' does not exist")
            if slug == article.slug:
                raise ArticleError(f"{article.slug}.md: an article cannot be related to itself")
        for endpoint in article.pages:
            if endpoint not in app.view_functions:
                raise ArticleError(f"{article.slug}.md: 'pages' names unknown page '{endpoint}'")
    with app.test_request_context("/"):
        for article in articles.values():
            render_article(article, slugs)
    return Library(articles=articles, content_hash=content_hash(content_dir))
