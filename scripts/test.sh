#!/usr/bin/env bash
# Install everything and run the whole test suite, as CI does (.ci/run calls this).
# Starts throwaway PostgreSQL and Redis servers for the storage and worker tests (Debian's packages; needs root
# or sudo the first time); scripts/install.sh brings Chromium for the chart-export and browser tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export FER_TEST_POSTGRES_URL=${FER_TEST_POSTGRES_URL:-$(bash scripts/start_postgres.sh)}
export FER_TEST_REDIS_URL=${FER_TEST_REDIS_URL:-$(bash scripts/start_redis.sh)}
bash scripts/install.sh --dev
# Lint (unused and undefined names, import order) and formatting, as configured in pyproject.toml.
python3 -m ruff check . && python3 -m ruff format --check .
# No drift between the ORM and the migrations (on a scratch SQLite file).
DATABASE_URL="sqlite:///$(mktemp -d)/check.db" sh -c 'alembic -c migrations/alembic.ini upgrade head && alembic -c migrations/alembic.ini check'
python3 -m pytest -q "$@"
