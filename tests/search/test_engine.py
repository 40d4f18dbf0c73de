"""The search engine on a small corpus of its own: stemming, boosts, AND-then-OR, fuzzy
correction, phrases, snippets, categories, pagination, bad syntax, the bounds of a query and
its time budget."""

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.query import Or, Term

from app.search import engine
from app.search.engine import (
    FIELD_BOOSTS,
    MAX_EDIT_DISTANCE,
    MAX_FUZZY_EXPANSIONS,
    MAX_FUZZY_WORDS,
    MAX_QUERY_WORDS,
    SearchIndex,
    SectionDoc,
    build_index,
    index_version,
    parse_query,
)

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


def test_a_misspelt_word_among_known_ones_is_corrected(search_index):
    # "invoice" alone would match, but no section has every word as typed: the corrected
    # words all match, so they are what is shown.
    result = search_index.search("invoice layuot")
    assert result.corrected == "invoice layout"
    assert result.suggestion is None
    assert slugs(result)[:1] == ["invoices"]


def test_did_you_mean_when_the_correction_does_not_match_every_word(search_index):
    # No section has both "credit" and "layout": the words as typed are kept (any of them),
    # and the correction is offered as a link.
    result = search_index.search("credit layuot")
    assert result.corrected is None
    assert result.suggestion == "credit layout"
    assert "credit" in slugs(result)


def test_phrase_query(search_index):
    assert slugs(search_index.search('"end customer"')) == ["invoices"]
    assert slugs(search_index.search('"customer end"')) == []
    # Three words: every pair side by side is not enough, they must follow each other.
    assert slugs(search_index.search('"verified bank account"')) == ["pay-ach"]
    assert slugs(search_index.search('"bank account verified"')) == []
    # Not across fields: the title ends with "layout", the text does not go on with it.
    assert slugs(search_index.search('"layout invoices"')) == []


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
    ("query", "expected"),
    [
        # Unbalanced quotes and brackets, operators, field names and wildcards are plain text:
        # the words in them are searched, the rest is ignored.
        ('"unclosed', []),
        ('"end customer', ["invoices"]),
        ("(((", []),
        ("(credit", ["credit"]),
        ("title:", []),
        ("title:legacy", ["history"]),
        ("AND OR NOT", []),
        ("legacy AND", ["history"]),
        ("*", []),
        ("legac*", ["history"]),
        ("ach~~~2", ["pay-ach", "invoices"]),  # "ach~": one edit, so "each" too
        ("a:b:c", []),
        ("\\", []),
        ("''", []),
        ("[a TO z]", []),
        ("rounded^3", ["invoices"]),
    ],
)
def test_query_syntax_is_never_an_error(search_index, query, expected):
    result = search_index.search(query)
    assert result.error is None
    assert slugs(result) == expected
    assert result.total == len(expected)
    assert result.pages == (1 if expected else 0)


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


def test_one_result_per_article_with_its_best_section(search_index):
    result = search_index.search("bank")
    assert len(slugs(result)) == len(set(slugs(result))) == result.total == 2
    first = result.hits[0]
    assert first.slug == "pay-ach"
    # Both sections of "Paying by ACH" mention the bank; one hit stands for the article.
    assert first.anchor in {"", "micro-deposits"}
    deposits = search_index.search("verify micro deposits amounts").hits[0]
    assert (deposits.slug, deposits.anchor, deposits.heading) == (
        "pay-ach", "micro-deposits", "Verify micro-deposits"
    )
    assert "<mark>amounts</mark>" in deposits.snippet


def test_snippet_is_cut_around_the_matched_words(tmp_path: Path):
    filler = "Nothing to see in this sentence at all. " * 20
    build_index(tmp_path, "v1", [
        SectionDoc("long", "", "payments", "A long article", "", "",
                   filler + "The remittance advice lists every payment. " + filler),
    ])
    snippet = SearchIndex(tmp_path).search("remittance").hits[0].snippet
    assert "<mark>remittance</mark> advice lists every <mark>payment</mark>" not in snippet
    assert "<mark>remittance</mark> advice lists every payment" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < engine.SNIPPET_CHARS + 40


# --- Spelling: only words the index does not know, the most frequent candidate ------------


def test_a_word_known_in_another_form_is_not_corrected(search_index):
    # "grouping" is not in the text, "grouped" is: same stem, so it is a known word.
    result = search_index.search("grouping")
    assert (result.corrected, result.suggestion) == (None, None)
    assert slugs(result) == ["invoices"]


def test_short_words_are_corrected_by_one_edit_only(search_index):
    # "krediy" is two edits from "credit": too far for a six-letter word (a wrong guess like
    # "refund" → "refused" is worse than no guess).
    result = search_index.search("krediy")
    assert (result.corrected, result.hits) == (None, [])
    # Longer words may take two edits.
    assert search_index.search("depossitts").corrected == "deposits"


def spelling_docs(frequent: str, rare: str) -> list[SectionDoc]:
    docs = [SectionDoc(f"a{n}", "", "payments", f"Article {n}", "", "", f"The {frequent} is here.")
            for n in range(5)]
    return docs + [SectionDoc("b", "", "payments", "Other", "", "", f"The {rare} is here.")]


@pytest.mark.parametrize(("frequent", "rare"), [("card", "cart"), ("cart", "card")])
def test_the_most_frequent_candidate_wins(tmp_path: Path, frequent, rare):
    build_index(tmp_path, "v1", spelling_docs(frequent, rare))
    assert SearchIndex(tmp_path).search("carx").corrected == frequent


def test_a_typo_in_the_help_itself_is_not_a_known_word(tmp_path: Path):
    # The search help shows the typo "statment~" as an example: a word of one section, one
    # letter from a word of many, is taken as a typo, so "statment" is corrected.
    docs = [SectionDoc(f"s{n}", "", "invoices-billing", f"Statement {n}", "", "",
                       "Your statement of account, each time.") for n in range(engine.TYPO_RATIO)]
    docs.append(SectionDoc("help", "", "control-panel", "Searching", "", "",
                           "Put a tilde after a word: statment~ finds statement."))
    docs.append(SectionDoc("rare", "", "control-panel", "Rare words", "", "",
                           "Statements can reach you by post."))
    build_index(tmp_path, "v1", docs)
    index_ = SearchIndex(tmp_path)
    result = index_.search("statment")
    assert result.corrected == "statement"
    assert result.total == engine.TYPO_RATIO + 2
    # Rare words that are no typos: another form of a common word, or one that starts with
    # another letter.
    for word in ("statements", "reach"):
        result = index_.search(word, page_size=50)
        assert (result.corrected, result.suggestion) == (None, None), word
        assert "rare" in slugs(result)


# --- Bounds and time budget ---------------------------------------------------------------


def test_a_query_keeps_its_first_words_and_bounded_fuzziness():
    query = parse_query(" ".join(["ivoice~9"] * 30))
    assert len(query.clauses) == MAX_QUERY_WORDS
    assert query.ignored_words == 30 - MAX_QUERY_WORDS
    fuzzy = [clause for clause in query.clauses if clause.kind == "fuzzy"]
    assert len(fuzzy) == MAX_FUZZY_WORDS
    assert {clause.distance for clause in fuzzy} == {MAX_EDIT_DISTANCE}
    assert parse_query("ivoice~").clauses[0].distance == 1
    assert parse_query('"bank account number"').clauses[0].stems == ["bank", "account", "number"]


def test_a_fuzzy_word_stands_for_a_bounded_number_of_words(tmp_path: Path):
    # 20 words one letter from "kelpa" (none that stemming would merge), each in its own
    # article.
    words = [f"kelp{letter}" for letter in "abcdfghjklmnpqrtvwxz"]
    build_index(tmp_path, "v1", [
        SectionDoc(word, "", "payments", f"Article {word}", "", "", f"About {word}.")
        for word in words
    ])
    result = SearchIndex(tmp_path).search("kelpa~")
    assert result.total == MAX_FUZZY_EXPANSIONS < len(words)
    assert "kelpa" in slugs(result)  # the word itself is the nearest


def test_the_time_budget_stops_optional_work(search_index):
    # No time to expand "ivoice~" into "invoice" …
    result = search_index.search("ivoice~", budget=0)
    assert result.over_budget
    assert result.hits == []
    # … which it does with time.
    full = search_index.search("ivoice~")
    assert not full.over_budget
    assert {"invoices", "history"} <= set(slugs(full))
    # Plain words need no budget.
    assert slugs(search_index.search("legacy", budget=0)) == ["history"]


@pytest.mark.parametrize(
    "query",
    [" ".join(["ivoice~9"] * 30), "ivoice~9", " ".join(["statment~2"] * 25),
     " ".join(["invoice", "bank", "credit", "tax", "legacy"] * 8)],
)
def test_hostile_queries_answer_at_once(search_index, query):
    start = time.perf_counter()
    search_index.search(query)
    assert time.perf_counter() - start < 1.0


def test_the_search_help_states_the_limits_of_the_code():
    text = (Path(__file__).parents[2] / "content" / "articles" /
            "searching-the-help-center.md").read_text()
    assert f"Only the first {MAX_QUERY_WORDS} words count" in text
    assert f"Up to {MAX_FUZZY_WORDS} words can have `~`" in text
    assert f"at most the {MAX_FUZZY_EXPANSIONS} closest words" in text
    assert f"After {engine.TIME_BUDGET_SECONDS:g} seconds" in text
    assert f"`~{MAX_EDIT_DISTANCE}` allows two letters, which is the most" in text
    assert MAX_EDIT_DISTANCE == 2  # "two letters" in words
    assert f"two letters for words of more than {engine.SHORT_WORD} letters" in text


def test_a_long_phrase_needs_its_words_in_a_row(tmp_path: Path):
    build_index(tmp_path, "v1", [
        SectionDoc("a", "", "payments", "One", "", "", "Bank account here, account number here."),
        SectionDoc("b", "", "payments", "Two", "", "", "Your bank account number is private."),
    ])
    # Both have "bank account" and "account number"; only one has the three words in a row.
    assert slugs(SearchIndex(tmp_path).search('"bank account number"')) == ["b"]


# --- The term table holds what Whoosh would compute ------------------------------------------


@given(st.text(alphabet=st.sampled_from(list("aeiouy bcdstnrlmg.,'-_é19ÄI\n")), max_size=80))
def test_the_builds_analysis_is_the_index_analyser(text):
    assert engine.analyse(text) == [token.text for token in engine.STEMMED(text)]


@pytest.mark.parametrize("word", ["invoic", "bank", "credit", "ach", "legaci", "tax"])
def test_the_term_table_holds_whooshs_bm25f_scores(search_index, word):
    generation = search_index._current()
    with whoosh_index.open_dir(str(generation.path)).searcher() as searcher:
        query = Or([Term(name, word, boost=boost) for name, boost in FIELD_BOOSTS.items()])
        expected = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    table = generation.postings(word)
    assert expected and table.keys() == expected.keys()
    for docnum, score in expected.items():
        assert table[docnum] == pytest.approx(score, rel=1e-6)


def test_an_index_without_its_term_table_is_rebuilt(tmp_path: Path):
    # An index of an older format (no term table of this format) counts as none, so that
    # start-up rebuilds it instead of serving searches from it.
    build_index(tmp_path, "v1", DOCS)
    (tmp_path / "v1" / engine.TABLES_META).unlink()
    assert index_version(tmp_path) is None
    with pytest.raises(FileNotFoundError):
        SearchIndex(tmp_path).search("credit")
    build_index(tmp_path, "v1", DOCS)
    assert slugs(SearchIndex(tmp_path).search("credit"))[0] == "credit"
