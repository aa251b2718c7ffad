#!/usr/bin/env bash
# Transient accept() errors do not stop the server (issue 15, item 11): cpp-httplib 0.11's
# listen loop closed the listening socket on any accept error but EMFILE/EINTR/EAGAIN --
# ENOMEM, ENOBUFS or ENFILE on a machine under memory pressure -- and the server lived on
# refusing every connection ("connection refused (server down?)" in test_fuzz_short). An
# LD_PRELOAD shim (faults/acceptfault.c) fails accept calls 3, 4, 6 and 7 with ENOMEM,
# ENOBUFS, ENFILE and ECONNABORTED; every later request must still be answered.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir accept
SRC=${RECONBENCH_SOURCE_DIR:?}
cc -shared -fPIC -O1 -o "$WORK/acceptfault.so" "$SRC/tests/e2e/faults/acceptfault.c" -ldl || fail "cannot build the shim"
$PY - "$WORK" <<'PYEOF'
import json, os, sys
data = os.path.join(sys.argv[1], "data"); os.makedirs(data)
json.dump({"seed": 1, "profile": "accept", "files": []}, open(os.path.join(data, "manifest.json"), "w"))
PYEOF
RB_FAULT_ACCEPT="3:ENOMEM,4:ENOBUFS,6:ENFILE,7:ECONNABORTED" LD_PRELOAD=$WORK/acceptfault.so \
  "$RB" serve --data "$WORK/data" --db "sqlite:$WORK/c.db" --port 0 --port-file "$WORK/port" --workers 0 --validators 0 \
  >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || fail "server did not start"
URL=http://127.0.0.1:$(cat "$WORK/port")
ok=0 reset=0
for i in $(seq 12); do
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/api/health" || true)
  case "$c" in
    200) ok=$((ok + 1)) ;;
    000) reset=$((reset + 1)) ;;  # the connection the failed accept took off the queue
    *) fail "request $i: HTTP $c" ;;
  esac
done
[ "$reset" -le 4 ] || fail "$reset requests lost"
[ "$ok" -ge 8 ] || fail "only $ok of 12 requests answered"
# The listener is alive after the last fault: the next requests are all answered.
for i in $(seq 5); do [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/api/health")" = 200 ] || fail "after the faults: request $i"; done
grep -q "accept: Cannot allocate memory (retrying)" "$WORK/serve.log" || fail "the accept error was not logged"
echo "accept faults: $ok answered, $reset lost to the injected errors, server still listening"
