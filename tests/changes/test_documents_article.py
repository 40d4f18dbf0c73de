"""`supporting-documents` against the code: the accepted types, the size limit, the display
name rules and its example are read from the article and compared with the constants and
functions that apply them."""

import re
from pathlib import Path

from app.changes.documents import (
    ACCEPTED,
    MAX_DOCUMENT_BYTES,
    MAX_FILENAME_LENGTH,
    describe_kinds,
    describe_limits,
    display_filename,
)

ARTICLE = (Path(__file__).parents[2] / "content/articles/supporting-documents.md").read_text()
FRONT_MATTER, BODY = ARTICLE.split("\n---\n", 1)
MEGABYTE = 1024 * 1024


def section(heading: str) -> str:
    start = BODY.index(f"\n## {heading}\n")
    following = BODY.find("\n## ", start + 1)
    return BODY[start : following if following > 0 else None]


def test_every_size_in_the_article_is_the_limit():
    sizes = re.findall(r"(\d+(?:\.\d+)?) MB", ARTICLE)
    assert len(sizes) >= 3  # the summary, the rules and the advice when a file is too large
    assert {float(size) * MEGABYTE for size in sizes} == {MAX_DOCUMENT_BYTES}


def test_every_list_of_file_types_is_the_accepted_types():
    lists = re.findall(r"\b[A-Z]{3,4}(?:, [A-Z]{3,4})* or [A-Z]{3,4}\b", ARTICLE)
    assert len(lists) >= 3
    assert set(lists) == {describe_kinds()}
    assert describe_kinds() == " or ".join(
        [", ".join(list(ACCEPTED.values())[:-1]), list(ACCEPTED.values())[-1]]
    )


def test_the_rules_start_with_the_accepted_types_and_the_limit():
    rules = section("Files we accept")
    assert f"- **{describe_kinds()}** only." in rules
    limit = MAX_DOCUMENT_BYTES // MEGABYTE
    assert f"- **Up to {limit} MB** per file." in rules
    assert describe_limits() == f"{describe_kinds()}, up to {limit} MB each"


def test_the_tags_name_each_accepted_type():
    tags = re.search(r"^tags: \[(.*)\]$", FRONT_MATTER, re.M).group(1).split(", ")
    assert {kind.lower() for kind in ACCEPTED.values()} <= set(tags)


def test_the_display_name_rules_and_example_match_the_code():
    rules = section("Files we accept")
    assert f"shortened to {MAX_FILENAME_LENGTH} characters" in rules
    named, listed = re.search(r"named `([^`]+)` is listed as `([^`]+)`", rules).groups()
    kind = re.search(r"a (\w+) picture named", rules).group(1)
    content_type = next(type_ for type_, name in ACCEPTED.items() if name == kind)
    assert display_filename(named, content_type) == listed
    assert display_filename("x" * 500 + ".pdf", "application/pdf") == "x" * 116 + ".pdf"
