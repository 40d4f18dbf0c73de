"""The search engine on a small corpus of its own: stemming, boosts, AND-then-OR, fuzzy
correction, phrases, snippets, categories, pagination, and bad syntax."""

from pathlib import Path

import pytest

from app.search.engine import SearchIndex, SectionDoc, build_index, index_version

DOCS = [
    SectionDoc("pay-ach", "", "payments", "Paying by ACH", "", "ach bank",
               "Pay open invoices from a verified bank account."),
    SectionDoc("pay-ach", "micro-deposits", "payments", "Paying by ACH", "Verify micro-deposits",
               "ach", "Two small deposits arrive in your bank account; enter the amounts."),
    SectionDoc("invoices", "", "invoices-billing", "Your invoice layout", "", "invoice",
               "Invoices are grouped by end customer, then subscription, then charge type."),
    SectionDoc("invoices", "rounding", "invoices-billing", "Your invoice layout",
               "How tax is rounded", "tax",
               "Tax is rounded half-up on each line. <script>alert(1)</script>"),
    SectionDoc("history", "", "invoices-billing", "Historical invoices", "", "history legacy",
               "Invoices issued before the cutover are in the legacy layout. "
               "Download old invoices."),
    SectionDoc("credit", "", "payments", "How credit is used", "", "credit",
               "Credit is applied to new invoices, oldest credit first, bank transfers aside."),
]


@pytest.fixture(scope="module")
def search_index(tmp_path_factory) -> SearchIndex:
    base = tmp_path_factory.mktemp("engine")
    build_index(base, "v1", DOCS)
    return SearchIndex(base)


def slugs(result):
    return [hit.slug for hit in result.hits]


def test_stemming_matches_other_word_forms(search_index):
    assert "invoices" in slugs(search_index.search("grouping"))
    assert "pay-ach" in slugs(search_index.search("verifying deposit"))


def test_title_outranks_body(search_index):
    assert slugs(search_index.search("credit"))[0] == "credit"


def test_question_words_are_ignored(search_index):
    result = search_index.search("how do I verify micro deposits")
    assert slugs(result)[0] == "pay-ach"
    assert result.hits[0].anchor == "micro-deposits"


def test_and_first_then_or(search_index):
    # Only one article has both words: AND keeps it alone.
    assert slugs(search_index.search("bank deposits")) == ["pay-ach"]
    # No article has all three: OR finds every article with any of them.
    assert set(slugs(search_index.search("deposits rounding legacy"))) == {
        "pay-ach", "invoices", "history"
    }


def test_misspelling_is_corrected(search_index):
    result = search_index.search("ivoice")
    assert result.corrected == "invoice"
    assert "invoices" in slugs(result)


def test_did_you_mean_when_the_query_found_something(search_index):
    result = search_index.search("invoice layuot")
    assert result.hits
    assert result.suggestion == "invoice layout"


def test_phrase_query(search_index):
    assert slugs(search_index.search('"end customer"')) == ["invoices"]
    assert slugs(search_index.search('"customer end"')) == []


def test_snippets_highlight_and_escape(search_index):
    result = search_index.search("rounded")
    snippet = result.hits[0].snippet
    assert "<mark" in snippet
    assert "<script>" not in snippet


def test_category_filter(search_index):
    result = search_index.search("invoices", category="payments")
    assert slugs(result)
    assert set(slugs(result)) <= {"credit", "pay-ach"}


def test_pagination_over_articles(search_index):
    first = search_index.search("invoices", page=1, page_size=2)
    second = search_index.search("invoices", page=2, page_size=2)
    assert first.total == second.total >= 3
    assert first.pages == second.pages
    assert not set(slugs(first)) & set(slugs(second))


@pytest.mark.parametrize(
    "query", ['"unclosed', "(((", "title:", "AND OR NOT", "*", "ach~~~2", "a:b:c", "\\", "''"]
)
def test_syntax_errors_never_raise(search_index, query):
    result = search_index.search(query)
    assert result.page >= 1


def test_empty_query_finds_nothing(search_index):
    assert search_index.search("   ").hits == []


def test_rebuild_switches_atomically(tmp_path: Path):
    build_index(tmp_path, "v1", DOCS[:1])
    reader = SearchIndex(tmp_path)
    assert reader.doc_count() == 1
    build_index(tmp_path, "v2", DOCS)
    assert index_version(tmp_path) == "v2"
    assert reader.doc_count() == len(DOCS)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["v2"]


def test_build_is_skipped_when_the_version_is_live(tmp_path: Path):
    build_index(tmp_path, "v1", DOCS)
    calls = []
    build_index(tmp_path, "v1", DOCS, progress=calls.append)
    assert calls == []
    build_index(tmp_path, "v1", DOCS, progress=calls.append, force=True)
    assert calls[-1] == len(DOCS)


def test_fuzzy_term_syntax(search_index):
    assert "invoices" in slugs(search_index.search("groupd~"))
    assert search_index.search("groupd~").corrected is None
