#!/usr/bin/env bash
# Challenge server benchmark on loopback:
#   1. leaderboard API (GET /api/leaderboard/test/multicoil_4x) and the leaderboard page
#      (GET /index.html) under wrk: requests/s and p99 latency;
#   2. evaluation throughput (submissions scored per second) with 1 and with 2
#      `reconbench worker` processes on the same queue;
#   3. the leaderboard API under wrk for STREAM_DURATION s while a concurrent stream of
#      submissions arrives through the API (a new team registers, uploads its 4 files with the
#      resumable upload API -- POST /api/uploads, PUT, finalize -- and submits; the next
#      starts when one is accepted) and the server's validator thread and one external
#      `reconbench worker` validate and score them: wrk req/s, p99 and errors, and the
#      stream's submissions sent / accepted / scored / failed.
# Exits non-zero (after printing what went wrong) on any error: a non-2xx or socket error in
# wrk, an HTTP error in the stream, a stream submission that failed or was not scored within
# SCORE_WAIT s after the stream stopped.
# Usage: bench/bench_server.sh BUILD_DIR    (env: SUBS=12 volumes of SLICES=8 x 320 x 320)
set -euo pipefail
BUILD=${1:-build}
RB=$(realpath "$BUILD/reconbench")
SUBS=${SUBS:-12}; SLICES=${SLICES:-8}; N=${N:-320}; DURATION=${DURATION:-10}
STREAM_DURATION=${STREAM_DURATION:-30}; SCORE_WAIT=${SCORE_WAIT:-300}
command -v curl >/dev/null || { echo "bench_server: curl is not installed" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench_server: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rb-bench-server.XXXXXX")
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill -9 $p 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
export RECONBENCH_PROGRESS=0

/usr/bin/python3 - "$WORK" "$SLICES" "$N" <<'PYEOF'
import json, os, sys
import numpy as np, h5py
root, slices, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.path.join(root, "data"); rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:n, 0:n]
man = {"seed": 0, "profile": "bench", "files": []}
for k, contrast in enumerate(["AXT2", "AXFLAIR", "AXT1POST", "AXT2"]):
    name = f"file_brain_{contrast}_{k:03d}.h5"; gt = f"ground_truth/multicoil_test/{name}"
    os.makedirs(os.path.join(data, "ground_truth/multicoil_test"), exist_ok=True)
    vol = np.stack([np.where(((yy - n/2) / (n/3)) ** 2 + ((xx - n/2) / (n/2.6)) ** 2 < 1,
                    1e-4 * (0.6 + 0.4 * np.cos(xx / 9 + s) * np.sin(yy / 13)), 2e-6) for s in range(slices)]).astype(np.float32)
    with h5py.File(os.path.join(data, gt), "w") as f:
        f["reconstruction_rss"] = vol; f.attrs["acquisition"] = contrast; f.attrs["max"] = float(vol.max())
    man["files"].append({"file": f"multicoil_test/{name}", "split": "multicoil_test", "track": None, "contrast": contrast,
                         "vendor": "siemens", "slices": slices, "recon": [n, n], "acceleration": 4, "ground_truth": gt})
    d = os.path.join(root, "sub"); os.makedirs(d, exist_ok=True)
    with h5py.File(os.path.join(d, name), "w") as f:
        f["reconstruction"] = np.maximum(vol + 5e-6 * rng.standard_normal(vol.shape), 0).astype(np.float32)
json.dump(man, open(os.path.join(data, "manifest.json"), "w"))
PYEOF

run_eval() {  # $1 = workers; prints seconds to score $SUBS submissions
  local db="sqlite:$WORK/eval$1.db" port
  "$RB" challenge limits --per-day 1000 --attempts-per-day 1000 --data "$WORK/data" --db "$db" >/dev/null
  for t in $(seq "$SUBS"); do "$RB" challenge add-user "u$t" --team "team$t" --data "$WORK/data" --db "$db" >"$WORK/tok$t"; done
  "$RB" serve --data "$WORK/data" --db "$db" --blobs "$WORK/blobs$1" --port 0 --port-file "$WORK/port$1" --workers 0 \
    >"$WORK/serve$1.log" 2>&1 &
  PIDS+=($!); local srv=$!
  for _ in $(seq 100); do [ -s "$WORK/port$1" ] && break; sleep 0.1; done
  port=$(cat "$WORK/port$1")
  for t in $(seq "$SUBS"); do
    "$RB" submit "$WORK/sub" --server "http://127.0.0.1:$port" --token "$(cat "$WORK/tok$t")" --track multicoil_4x \
      --state "$WORK/state$t" >/dev/null 2>&1
  done
  local w=()
  for k in $(seq "$1"); do
    "$RB" worker --data "$WORK/data" --db "$db" --blobs "$WORK/blobs$1" --once --poll 0.1 >"$WORK/worker$1-$k.log" 2>&1 &
    w+=($!)
  done
  wait "${w[@]}"
  kill $srv; wait $srv 2>/dev/null || true
  # Queue time from the first claim to the last score (process start-up, which loads
  # LibTorch, is not evaluation).
  /usr/bin/python3 -c "
import sqlite3; c = sqlite3.connect('$WORK/eval$1.db')
a = c.execute(\"select min(at) from submission_events where state='evaluating'\").fetchone()[0]
b = c.execute(\"select max(at) from submission_events where state='scored'\").fetchone()[0]
n = c.execute(\"select count(*) from submissions where state='scored'\").fetchone()[0]
assert n == $SUBS, n
print(b - a)"
}

echo "== evaluation throughput ($SUBS submissions x 4 volumes x $SLICES slices of ${N}x${N})"
T1=$(run_eval 1); T2=$(run_eval 2)
printf "1 worker : %6.2f s  %6.3f submissions/s\n" "$T1" "$(/usr/bin/python3 -c "print($SUBS / $T1)")"
printf "2 workers: %6.2f s  %6.3f submissions/s  (speed-up %.2fx)\n" "$T2" "$(/usr/bin/python3 -c "print($SUBS / $T2)")" "$(/usr/bin/python3 -c "print($T1 / $T2)")"

echo "== leaderboard under wrk (${DURATION}s, 2 threads, 32 connections; leaderboard of $SUBS teams)"
# wrk's 32 connections come from one address: lift the per-address connection cap (16).
"$RB" serve --data "$WORK/data" --db "sqlite:$WORK/eval1.db" --blobs "$WORK/blobs1" --port 0 --port-file "$WORK/portw" \
  --workers 0 --max-connections-per-address 0 >"$WORK/servew.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/portw" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/portw")"
ERRORS=0
run_wrk() {  # DURATION PATH LABEL: one wrk run, its line; counts non-2xx answers and socket errors
  local out rps p99 non2xx sockerr
  out=$(wrk -t2 -c32 -d"$1s" --timeout 10s --latency "$URL$2")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  sockerr=$(echo "$out" | awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}')
  printf "%-44s %10s req/s   p99 %8s   non-2xx %s   socket errors %s\n" "$3" "$rps" "$p99" "${non2xx:-0}" "${sockerr:-0}"
  if [ "${non2xx:-0}" != 0 ] || [ "${sockerr:-0}" != 0 ]; then
    echo "bench_server: wrk on $2 got errors:" >&2; echo "$out" >&2; ERRORS=$((ERRORS + 1))
  fi
}
for path in /api/leaderboard/test/multicoil_4x /index.html; do run_wrk "$DURATION" "$path" "$path"; done
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

echo "== leaderboard under wrk (${STREAM_DURATION}s) with a concurrent upload stream (1 validator thread, 1 worker)"
rm -f "$WORK/portw"
"$RB" serve --data "$WORK/data" --db "sqlite:$WORK/eval1.db" --blobs "$WORK/blobs1" --port 0 --port-file "$WORK/portw" \
  --workers 0 --validators 1 >"$WORK/serves.log" 2>&1 &
PIDS+=($!); SRV=$!
for _ in $(seq 100); do [ -s "$WORK/portw" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/portw")"
"$RB" worker --data "$WORK/data" --db "sqlite:$WORK/eval1.db" --blobs "$WORK/blobs1" --poll 0.2 --id stream \
  >"$WORK/workers.log" 2>&1 &
PIDS+=($!); WRK_WORKER=$!
jfield() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
http() {  # OUT EXPECTED_CODE curl-args...: 0 if the answer had that status, else logs it
  local out=$1 want=$2 code; shift 2
  code=$(curl -sS -o "$out" -w '%{http_code}' "$@" 2>>"$WORK/stream.err") || code="curl-exit-$?"
  [ "$code" = "$want" ] && return 0
  echo "HTTP $code (wanted $want) for ${*: -1}: $(head -c 300 "$out" 2>/dev/null)" >>"$WORK/stream.err"
  return 1
}
stream() {  # until $WORK/stop exists; writes "ID TOKEN" of each accepted submission to stream.ids
  local k=0 tok files f size sha up t0
  while [ ! -e "$WORK/stop" ]; do
    k=$((k + 1)); echo "$k" >"$WORK/stream.sent"; t0=$(date +%s.%N)
    http "$WORK/s.json" 201 -X POST -H 'Content-Type: application/json' \
      -d "{\"username\":\"stream$k\",\"password\":\"stream-password-$k\",\"team\":\"Stream $k\"}" "$URL/api/register" || continue
    tok=$(jfield "$WORK/s.json" token); files=""
    for f in "$WORK"/sub/*.h5; do
      size=$(stat -c %s "$f"); sha=$(sha256sum "$f" | cut -d' ' -f1)
      http "$WORK/s.json" 201 -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        -d "{\"filename\":\"$(basename "$f")\",\"size\":$size,\"sha256\":\"$sha\"}" "$URL/api/uploads" || continue 2
      up=$(jfield "$WORK/s.json" id)
      http "$WORK/s.json" 200 -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/octet-stream' \
        --data-binary @"$f" "$URL/api/uploads/$up?offset=0" || continue 2
      http "$WORK/s.json" 200 -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -d '' \
        "$URL/api/uploads/$up/finalize" || continue 2
      files="$files${files:+,}\"$(basename "$f")\":\"$sha\""
    done
    http "$WORK/s.json" 202 -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      -d "{\"phase\":\"test\",\"track\":\"multicoil_4x\",\"files\":{$files}}" "$URL/api/submissions" || continue
    echo "$(jfield "$WORK/s.json" id) $tok" >>"$WORK/stream.ids"
    echo "$(date +%s.%N) - $t0" | bc >>"$WORK/stream.secs"
  done
}
: >"$WORK/stream.ids"; : >"$WORK/stream.err"; : >"$WORK/stream.secs"; echo 0 >"$WORK/stream.sent"
stream & STREAM=$!
run_wrk "$STREAM_DURATION" /api/leaderboard/test/multicoil_4x "/api/leaderboard/test/multicoil_4x + uploads"
touch "$WORK/stop"; wait $STREAM || echo "the stream loop exited with status $?" >>"$WORK/stream.err"
SENT=$(cat "$WORK/stream.sent"); ACCEPTED=$(wc -l <"$WORK/stream.ids")
# Wait for every accepted submission to leave validation and scoring.
deadline=$((SECONDS + SCORE_WAIT))
while :; do
  SCORED=0; FAILED=0; PENDING=0
  while read -r id tok; do
    http "$WORK/st.json" 200 -H "Authorization: Bearer $tok" "$URL/api/submissions/$id" || { PENDING=$((PENDING + 1)); continue; }
    case $(jfield "$WORK/st.json" state) in
      scored) SCORED=$((SCORED + 1)) ;;
      failed) FAILED=$((FAILED + 1)); cp "$WORK/st.json" "$WORK/failed-$id.json" ;;
      *) PENDING=$((PENDING + 1)) ;;
    esac
  done <"$WORK/stream.ids"
  [ "$PENDING" = 0 ] || [ $SECONDS -ge $deadline ] && break
  sleep 1
done
HTTP_ERRORS=$(grep -c . "$WORK/stream.err" || true)
SECS=$(sort -n "$WORK/stream.secs" 2>/dev/null | awk '{a[NR] = $1; t += $1} END {if (NR) printf "%.2f s mean, %.2f s max", t / NR, a[NR]; else print "-"}')
printf "upload stream: %d submissions sent (%.1f MB each; register to accepted %s), %d accepted, %d scored, %d failed, %d not scored after %d s, %d HTTP errors\n" \
  "$SENT" "$(stat -c %s "$WORK"/sub/*.h5 | awk '{t += $1} END {print t / 1048576}')" "$SECS" "$ACCEPTED" "$SCORED" "$FAILED" "$PENDING" "$SCORE_WAIT" "$HTTP_ERRORS"
kill $WRK_WORKER $SRV 2>/dev/null || true; wait $WRK_WORKER $SRV 2>/dev/null || true
if [ "$HTTP_ERRORS" != 0 ] || [ "$FAILED" != 0 ] || [ "$PENDING" != 0 ] || [ "$ACCEPTED" != "$SENT" ] || [ "$ACCEPTED" = 0 ]; then
  echo "bench_server: the upload stream had errors:" >&2
  head -20 "$WORK/stream.err" >&2
  for f in "$WORK"/failed-*.json; do [ -e "$f" ] && head -c 600 "$f" >&2 && echo >&2; done
  tail -n 5 "$WORK/serves.log" "$WORK/workers.log" >&2
  ERRORS=$((ERRORS + 1))
fi
[ "$ERRORS" = 0 ] || { echo "bench_server: FAILED ($ERRORS stage(s) with errors)" >&2; exit 1; }
