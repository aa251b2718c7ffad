# Shared preamble of the server e2e scripts (not a test itself). After `set -euo pipefail`:
#   . "$(dirname "$0")/lib.sh"
#   e2e_workdir NAME
# gives RB (the reconbench binary, from $RECONBENCH), PY (Debian's python3, which sees
# python3-numpy/h5py), WORK (a fresh directory, removed at exit), PIDS (processes to kill -9
# at exit; SIGCONT first, in case a test stopped one), XDG_STATE_HOME (WORK/state: `submit`'s
# resume state) and `fail MSG` (prints MSG and the tail
# of every $WORK/*.log, exits 1).
RB=${RECONBENCH:?set RECONBENCH to the reconbench binary}
PY=/usr/bin/python3
export RECONBENCH_PROGRESS=0
PIDS=()
WORK=
e2e_cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && { kill -CONT "$p"; kill -9 "$p"; } 2>/dev/null || true; done
  [ -z "$WORK" ] || rm -rf "$WORK"
}
e2e_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/rb-$1.XXXXXX")
  export XDG_STATE_HOME=$WORK/state   # `submit`'s resume state, never in the user's home
  trap e2e_cleanup EXIT
}
fail() { echo "FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "== $f"; tail -20 "$f"; done >&2; exit 1; }
