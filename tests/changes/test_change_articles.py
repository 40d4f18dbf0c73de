"""The change request articles against the code: the limits they quote come from the
constants, the buttons they name are the screens' buttons, and they name the pages they
explain."""

import re
from pathlib import Path

import pytest

from app.changes.documents import MAX_DOCUMENT_BYTES
from app.changes.services import MAX_DOCUMENTS

ARTICLES = Path(__file__).parents[2] / "content/articles"
TEMPLATES = Path(__file__).parents[2] / "templates/changes"
SLUGS = ["how-do-i-change-my-account-information", "how-do-i-change-my-tax-information",
         "change-request-statuses", "tax-exempt-status"]


def article(slug: str) -> str:
    return (ARTICLES / f"{slug}.md").read_text()


@pytest.mark.parametrize("slug", [slug for slug in SLUGS if slug != "change-request-statuses"])
def test_the_document_size_limit_is_the_constant(slug):
    megabytes = MAX_DOCUMENT_BYTES // (1024 * 1024)
    assert megabytes * 1024 * 1024 == MAX_DOCUMENT_BYTES
    assert set(re.findall(r"(\d+) MB", article(slug))) == {str(megabytes)}


def test_the_document_count_is_the_constant():
    assert re.findall(r"at most (\d+) per request", article(SLUGS[0])) == [str(MAX_DOCUMENTS)]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_bold_button_is_on_a_screen(slug):
    screens = "".join(path.read_text() for path in TEMPLATES.glob("*.html"))
    buttons = {"Continue", "Review", "Submit request", "Cancel request", "Upload", "Edit",
               "Save billing contact", "New request"}
    named = set(re.findall(r"\*\*([^*]+)\*\*", article(slug))) & buttons
    for button in named:
        assert re.search(rf">\s*{re.escape(button)}\s*<", screens), button


@pytest.mark.parametrize("slug", SLUGS)
def test_the_articles_name_pages_that_exist(app, slug):
    pages = re.search(r"^pages: \[(.*)\]$", article(slug), re.M).group(1).split(", ")
    assert pages and set(pages) <= set(app.view_functions)
