#!/usr/bin/env bash
# The fault-injection suite (test_server_faults.sh: kill -9 of the server during submits,
# of workers holding jobs, a SIGSTOPped worker, ENOSPC/EROFS blob store) again on
# PostgreSQL: a throwaway cluster on loopback from scripts/with-test-postgres, which fails
# (never skips) if PostgreSQL cannot be started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${RECONBENCH_SOURCE_DIR:-$here/../..}
exec "$src/scripts/with-test-postgres" \
  bash -c 'RECONBENCH_TEST_DB=$RECONBENCH_TEST_PG exec bash "$0"' "$here/test_server_faults.sh"
