#!/usr/bin/env bash
# `make bench`: the benchmarks, with a local PostgreSQL database for the billing part unless
# BENCH_DATABASE_URL names one (the database is emptied). Needs the PostgreSQL server
# (Debian: postgresql) for the billing part; without it, that part is reported as not run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BENCH_DATABASE_URL:-}" ] && command -v pg_lsclusters >/dev/null; then
  cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
  if [ -n "$cluster" ]; then
    pg_ctlcluster $cluster start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
    su postgres -c "psql -q -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal') THEN
    CREATE ROLE portal LOGIN PASSWORD 'portal-ci-password';
  END IF;
END $$;
DROP DATABASE IF EXISTS portal_bench;
CREATE DATABASE portal_bench OWNER portal;
SQL
    export BENCH_DATABASE_URL="postgresql+psycopg://portal:portal-ci-password@127.0.0.1/portal_bench"
  fi
fi
exec .venv/bin/python -m bench "$@"
