#!/usr/bin/env bash
# Challenge server benchmark on loopback:
#   1. leaderboard API (GET /api/leaderboard/test/multicoil_4x) and the leaderboard page
#      (GET /index.html) under wrk: requests/s and p99 latency;
#   2. evaluation throughput (submissions scored per second) with 1 and with 2
#      `reconbench worker` processes on the same queue.
# Usage: bench/bench_server.sh BUILD_DIR    (env: SUBS=12 volumes of SLICES=8 x 320 x 320)
set -euo pipefail
BUILD=${1:-build}
RB=$(realpath "$BUILD/reconbench")
SUBS=${SUBS:-12}; SLICES=${SLICES:-8}; N=${N:-320}; DURATION=${DURATION:-10}
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
"$RB" serve --data "$WORK/data" --db "sqlite:$WORK/eval1.db" --blobs "$WORK/blobs1" --port 0 --port-file "$WORK/portw" \
  --workers 0 >"$WORK/servew.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/portw" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/portw")"
for path in /api/leaderboard/test/multicoil_4x /index.html; do
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$URL$path")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf "%-36s %10s req/s   p99 %8s   non-2xx %s\n" "$path" "$rps" "$p99" "${non2xx:-0}"
done
