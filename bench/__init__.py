"""Benchmarks of the Partner Portal (`make bench`, see bench/README.md): search against SQLite
FTS5 on a generated corpus, search relevance on the real articles, and page throughput under
gunicorn against `/healthz`."""
