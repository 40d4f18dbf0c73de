"""Article loading, front matter validation and safe rendering."""

import re
from pathlib import Path

import pytest

from app.kb.articles import ArticleError, load_library

GOOD_FRONT_MATTER = """---
title: Paying by ACH
summary: How to pay.
category: Payments
tags: [ach, bank]
related: []
pages: []
updated: 2026-11-01
---
"""


def write(folder: Path, slug: str, text: str) -> Path:
    path = folder / f"{slug}.md"
    path.write_text(text)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path


def load(app, folder):
    return load_library(folder, app)


def test_a_valid_article_renders_with_toc_and_sections(app, folder):
    write(folder, "pay", GOOD_FRONT_MATTER + "Intro text.\n\n## First step\n\nDo this.\n\n"
          "### Detail\n\nMore.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    article = load(app, folder).get("pay")
    assert article.category == "payments" and article.category_name == "Payments"
    assert '<h2 id="first-step">' in article.html
    assert "<table>" in article.html
    assert [t["id"] for t in article.toc] == ["first-step"]
    assert [s.anchor for s in article.sections] == ["", "first-step", "detail"]
    assert article.sections[1].heading == "First step"
    assert article.sections[1].text == "Do this."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "no front matter"),
        ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        (GOOD_FRONT_MATTER.replace("summary: How to pay.\n", ""), "'summary' is missing"),
        (GOOD_FRONT_MATTER.replace("Payments", "Misc"), "unknown category 'Misc'"),
        (GOOD_FRONT_MATTER.replace("tags: [ach, bank]", "tags: ach"), "'tags' must be a list"),
        (GOOD_FRONT_MATTER.replace("updated: 2026-11-01", "updated: soon"), "must be a date"),
        (GOOD_FRONT_MATTER.replace("pages: []", "pages: [billing.nowhere]"), "unknown page"),
        (GOOD_FRONT_MATTER.replace("related: []", "related: [missing]"), "'missing' does not"),
        (GOOD_FRONT_MATTER.replace("pages: []", "pages: []\nauthor: me"), "unknown front matter"),
        (GOOD_FRONT_MATTER + "[x](help:missing)", "unknown article 'help:missing'"),
        (GOOD_FRONT_MATTER + "[x](app:billing.nowhere)", "unknown page 'app:billing.nowhere'"),
    ],
)
def test_a_bad_article_is_a_clear_error_naming_the_file(app, folder, text, message):
    write(folder, "broken-article", text)
    with pytest.raises(ArticleError) as error:
        load(app, folder)
    assert "broken-article.md" in str(error.value)
    assert message in str(error.value)


def test_file_name_must_be_a_slug(app, folder):
    write(folder, "Not A Slug", GOOD_FRONT_MATTER)
    with pytest.raises(ArticleError, match="Not A Slug.md"):
        load(app, folder)


def test_app_and_help_links_resolve_with_url_for(app, folder):
    write(folder, "other", GOOD_FRONT_MATTER)
    write(folder, "pay", GOOD_FRONT_MATTER + "[Sign in](app:auth.login) and [other](help:other#x)")
    article = load(app, folder).get("pay")
    assert 'href="/login"' in article.html
    assert 'href="/help/other#x"' in article.html
    assert article.links == ["app:auth.login", "help:other"]


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">click</a>',
        "[click](javascript:alert(1))",
        '<div hx-get="/logout" hx-trigger="load">x</div>',
        '<iframe src="https://evil.example"></iframe>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        "<svg><script>alert(1)</script></svg>",
    ],
)
def test_article_html_is_sanitised(app, folder, attack):
    write(folder, "evil", GOOD_FRONT_MATTER + "Hello\n\n" + attack + "\n")
    markup = load(app, folder).get("evil").html.lower()
    for forbidden in ("<script", "onerror", "javascript:", "hx-", "<iframe", "style=", "<svg"):
        assert forbidden not in markup


def test_each_table_region_is_named_after_its_section(app, folder):
    """Each table scrolls in a region landmark; landmarks need distinct names."""
    table = "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    write(folder, "tables", GOOD_FRONT_MATTER + "Intro." + table + "\n## Aging & buckets\n"
          + table + table + "\n## Fees\n" + table)
    markup = load(app, folder).get("tables").html
    names = re.findall(r'<div class="table-scroll" role="region" tabindex="0" '
                       r'aria-label="([^"]*)">', markup)
    assert names == ["Table", "Table: Aging &amp; buckets", "Table 2: Aging &amp; buckets",
                     "Table: Fees"]


def test_the_empty_corner_of_a_table_is_not_a_header(app, folder):
    """A header cell without text means nothing to a screen reader (axe: empty-table-header)."""
    write(folder, "corner", GOOD_FRONT_MATTER + "| | Old | New |\n|---|---|---|\n| Layout | Flat | "
          "Grouped |\n")
    markup = load(app, folder).get("corner").html
    assert "<td></td>" in markup and "<th>Old</th>" in markup
    assert not re.search(r"<th[^>]*>\s*</th>", markup)
