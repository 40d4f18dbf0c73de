"""The search benchmark runs end to end on a small corpus: both engines find the common query
and every timing is a positive number (a smoke test of `make bench`, not a performance test)."""

from bench.search import COMMON_QUERY, QUERIES, run_search_bench

# The common query and the first query of every other kind (phrase, misspelling, no hits …).
SMOKE_QUERIES = list({kind: (text, kind) for text, kind in reversed(QUERIES)}.values())


def test_search_bench_quick_run(tmp_path):
    assert (COMMON_QUERY, "word") in SMOKE_QUERIES
    result = run_search_bench(
        tmp_path, articles=50, rounds=1, queries=SMOKE_QUERIES, log=lambda _: None
    )

    common = result["per_query"][COMMON_QUERY]
    assert common["ours_articles"] > 0 and common["ours_hits_shown"] > 0
    assert common["fts5_rows"] > 0
    assert result["sections"] > 50
    for name in ("fragment", "engine", "fts5"):
        assert result[name]["n"] == len(SMOKE_QUERIES)
        assert 0 < result[name]["p50"] <= result[name]["p95"]
    assert result["index_build_ms"] > 0
    assert result["ratios"]["fragment_vs_fts5"]["p50"] > 0
