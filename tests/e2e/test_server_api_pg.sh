#!/usr/bin/env bash
# The server API suite (test_server_api.sh: accounts, resumable upload across a server
# kill -9, worker kill -9 -> requeued and scored exactly once, leaderboard, roles, close,
# export) again on PostgreSQL: a throwaway cluster on loopback from
# scripts/with-test-postgres, which fails (never skips) if PostgreSQL cannot be started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${RECONBENCH_SOURCE_DIR:-$here/../..}
exec "$src/scripts/with-test-postgres" \
  bash -c 'RECONBENCH_TEST_DB=$RECONBENCH_TEST_PG exec bash "$0"' "$here/test_server_api.sh"
