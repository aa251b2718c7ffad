#!/usr/bin/env bash
# Fault injection for the challenge server and its workers (issue #9), real processes on
# loopback, seeded random timing (RECONBENCH_FAULT_SEED, RECONBENCH_FAULT_ROUNDS):
#   A. kill -9 of the server at a random moment of a `reconbench submit` (upload chunks,
#      finalize + sha256, submission creation, background validation), restart, re-run;
#   B. kill -9 of evaluation workers at random moments (claim, scoring, the score
#      transaction), restart, until the queue drains;
#   C. a worker that hangs (SIGSTOP) mid-job: its lease expires, another worker scores the
#      job, the hung one resumes (SIGCONT) and its late result is discarded;
#   D. disk full (ENOSPC) and read-only (EROFS) blob store, switched on and off under a live
#      server by an LD_PRELOAD shim built here (tests/e2e/faults/blobfault.c; we run as root,
#      so chmod would not stop writes): uploads get 503 + Retry-After, nothing is counted,
#      the same uploads resume and finish once the fault is cleared.
# Afterwards: every submitted file set is exactly one live submission (none lost, none
# duplicated), nothing is stuck in uploaded/validating/queued/evaluating, no quota was used by a
# failure, one score row per job, and the database passes its integrity check.
# Database: sqlite by default; RECONBENCH_TEST_DB=postgresql://... runs the same faults on
# PostgreSQL (psql must reach it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir faults
SRC=${RECONBENCH_SOURCE_DIR:?}
SEED=${RECONBENCH_FAULT_SEED:-20261125}
ROUNDS=${RECONBENCH_FAULT_ROUNDS:-4}
RANDOM=$SEED
DB=${RECONBENCH_TEST_DB:-sqlite:$WORK/challenge.db}
BLOBS=$WORK/blobs
FAULTS=0   # faults injected (all must be survived)

# ---- the fault shim
cc -shared -fPIC -O1 -o "$WORK/blobfault.so" "$SRC/tests/e2e/faults/blobfault.c" -ldl || fail "cannot build the shim"
: >"$WORK/fault"

# ---- data: 2 test volumes (4X) and one distinct submission directory per round
$PY - "$WORK" "$ROUNDS" <<'PYEOF'
import json, os, sys
import numpy as np, h5py
root, rounds = sys.argv[1], int(sys.argv[2]); data = os.path.join(root, "data")
files = [("file_brain_AXT2_001.h5", "AXT2", 2), ("file_brain_AXFLAIR_002.h5", "AXFLAIR", 3)]
man = {"seed": 1, "profile": "faults", "files": []}
yy, xx = np.mgrid[0:48, 0:48]
vols = {}
for k, (name, contrast, slices) in enumerate(files):
    vol = np.stack([np.where(((yy - 24) / 16.0) ** 2 + ((xx - 24) / 18.0) ** 2 < 1,
                             1e-4 * (0.6 + 0.4 * np.cos(xx / 5.0 + s + k) * np.sin(yy / 7.0)), 2e-6)
                    for s in range(slices)]).astype(np.float32)
    vols[name] = vol
    gt = f"ground_truth/multicoil_test/{name}"
    os.makedirs(os.path.join(data, "ground_truth", "multicoil_test"), exist_ok=True)
    with h5py.File(os.path.join(data, gt), "w") as f:
        f["reconstruction_rss"] = vol
        f.attrs["acquisition"] = contrast
    man["files"].append({"file": f"multicoil_test/{name}", "split": "multicoil_test", "track": None,
                         "contrast": contrast, "vendor": "siemens", "field_t": 3.0, "coils": 4, "slices": slices,
                         "recon": [48, 48], "acceleration": 4, "lesions": [], "ground_truth": gt})
json.dump(man, open(os.path.join(data, "manifest.json"), "w"), indent=1)
rng = np.random.default_rng(7)
for group, n in (("a", rounds + 1), ("b", 3 * rounds), ("c", 1), ("d", 3)):
    for r in range(n):
        d = os.path.join(root, f"sub-{group}{r}"); os.makedirs(d)
        for name, vol in vols.items():
            with h5py.File(os.path.join(d, name), "w") as f:
                f["reconstruction"] = np.maximum(vol + 0.05e-4 * rng.standard_normal(vol.shape), 0).astype(np.float32)
PYEOF
DATA=$WORK/data

# ---- SQL on either engine
sql() {
  case $DB in
    sqlite:*) $PY -c "import sqlite3,sys
c=sqlite3.connect(sys.argv[1], timeout=30)
for r in c.execute(sys.argv[2]): print('|'.join('' if v is None else str(v) for v in r))" "${DB#sqlite:}" "$1" ;;
    postgres*) psql "$DB" -tAq -F'|' -c "$1" ;;
    *) fail "unknown database URL $DB" ;;
  esac
}

# ---- accounts
"$RB" challenge add-user org --role organiser --data "$DATA" --db "$DB" --blobs "$BLOBS" >"$WORK/org.token"
for t in a b c d; do
  "$RB" challenge add-user "user$t" --team "Team $t" --data "$DATA" --db "$DB" --blobs "$BLOBS" >"$WORK/$t.token"
done
ORG=$(cat "$WORK/org.token")

start_server() {
  rm -f "$WORK/port"
  RB_FAULT_DIR=$BLOBS RB_FAULT_CTL=$WORK/fault LD_PRELOAD=$WORK/blobfault.so \
    "$RB" serve --data "$DATA" --db "$DB" --blobs "$BLOBS" --port 0 --port-file "$WORK/port" --workers 0 \
    --lease 2 --per-day 100 --attempts-per-day 200 --max-file-mb 4 >>"$WORK/serve.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || fail "server did not start"
  URL="http://127.0.0.1:$(cat "$WORK/port")"
}
start_worker() {  # NAME [env...]
  local name=$1; shift
  env "$@" "$RB" worker --data "$DATA" --db "$DB" --blobs "$BLOBS" --lease 2 --poll 0.1 --id "$name" \
    >>"$WORK/worker-$name.log" 2>&1 &
  WPID=$!
  PIDS+=("$WPID")
}
api() {  # METHOD PATH TOKEN [curl args...] -> body; HTTP status in $WORK/status
  local m=$1 p=$2 t=$3; shift 3
  curl -sS -o "$WORK/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" -H "Expect:" "$@" "$URL$p" >"$WORK/status"
  cat "$WORK/body"
}
ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
submit() {  # TEAM DIR LOG: succeeds once the server has created the submission (or says it
            # already has one with these files); validation and scoring are checked at the end
  timeout 120 "$RB" submit "$2" --server "$URL" --token "$(cat "$WORK/$1.token")" --track multicoil_4x \
    --phase test --chunk-mb 0.002 --validate-wait 0 >>"$3" 2>&1 || true
  grep -q '"id"\|duplicate' "$3"
}

start_server

# ---- A. kill -9 the server during submissions
t0=$(date +%s%N)
submit a "$WORK/sub-a0" "$WORK/submit-a0.log" || fail "unfaulted submit failed"
T=$((($(date +%s%N) - t0) / 1000000))
echo "A: an unfaulted submit takes $T ms"
for r in $(seq 1 "$ROUNDS"); do
  delay=$((RANDOM % (T + 100)))
  submit a "$WORK/sub-a$r" "$WORK/submit-a$r.log" &
  CLI=$!
  ms_sleep "$delay"
  kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
  FAULTS=$((FAULTS + 1))
  start_server
  wait "$CLI" || true   # it retries its chunks; if it gave up, run it again (it resumes)
  if ! grep -q '"id"' "$WORK/submit-a$r.log" 2>/dev/null; then
    submit a "$WORK/sub-a$r" "$WORK/submit-a$r.log" || grep -q "duplicate" "$WORK/submit-a$r.log" \
      || fail "round $r: submit after the server restart failed"
  fi
  echo "A$r: server killed after $delay ms"
done

# ---- B. kill -9 workers at random moments while the queue drains
for r in $(seq 0 $((3 * ROUNDS - 1))); do
  submit b "$WORK/sub-b$r" "$WORK/submit-b$r.log" || fail "submit b$r"
done
for k in $(seq 1 $((2 * ROUNDS))); do
  [ "$(sql "SELECT COUNT(*) FROM submissions WHERE state IN ('uploaded','validating','queued','evaluating')")" = 0 ] && break
  start_worker "b$k" RECONBENCH_TEST_SCORE_DELAY="0.$((RANDOM % 4))"
  # Kill once it holds a job (a process linking LibTorch can take seconds to start), at a
  # random moment of its scoring (0-0.3 s of injected delay + the scoring) or commit.
  for _ in $(seq 600); do [ "$(sql "SELECT COUNT(*) FROM jobs WHERE worker='b$k'")" != 0 ] && break; sleep 0.05; done
  delay=$((RANDOM % 500))
  ms_sleep "$delay"
  kill -9 "$WPID"; wait "$WPID" 2>/dev/null || true
  FAULTS=$((FAULTS + 1))
  echo "B$k: worker killed $delay ms after its first claim ($(sql "SELECT COUNT(*) FROM scores") score rows so far)"
done

# ---- C. a hung worker: lease expires, another scores the job once, the late result is dropped
while [ "$(sql "SELECT COUNT(*) FROM submissions WHERE state IN ('uploaded','validating','queued','evaluating')")" != 0 ]; do
  start_worker drain; WD=$WPID; sleep 3; kill "$WD"; wait "$WD" 2>/dev/null || true
done
submit c "$WORK/sub-c0" "$WORK/submit-c0.log" || fail "submit c0"
SUBC=$(sql "SELECT s.id FROM submissions s JOIN submission_files f ON f.submission_id=s.id
            WHERE f.sha256='$(sha256sum "$WORK/sub-c0/file_brain_AXT2_001.h5" | cut -d' ' -f1)' LIMIT 1")
[ -n "$SUBC" ] || fail "C: submission not found"
for _ in $(seq 300); do   # validated in the background, then queued
  [ "$(sql "SELECT state FROM jobs WHERE submission_id=$SUBC")" = queued ] && break; sleep 0.1
done
[ "$(sql "SELECT state FROM jobs WHERE submission_id=$SUBC")" = queued ] || fail "C: job not queued"
start_worker hung RECONBENCH_TEST_SCORE_DELAY=4
HUNG=$WPID
for _ in $(seq 300); do [ "$(sql "SELECT state FROM jobs WHERE submission_id=$SUBC")" = leased ] && break; sleep 0.1; done
[ "$(sql "SELECT worker FROM jobs WHERE submission_id=$SUBC AND state='leased'")" = hung ] || fail "C: not leased by the hung worker"
kill -STOP "$HUNG"
FAULTS=$((FAULTS + 1))
sleep 3   # > lease (2 s)
start_worker rescuer
RESCUER=$WPID
for _ in $(seq 300); do [ "$(sql "SELECT state FROM submissions WHERE id=$SUBC")" = scored ] && break; sleep 0.1; done
[ "$(sql "SELECT state FROM submissions WHERE id=$SUBC")" = scored ] || fail "C: the hung worker's job was not rescored"
kill -CONT "$HUNG"
for _ in $(seq 200); do   # the hung worker wakes up, finishes its stale scoring, tries to complete
  grep -q "lease of job .* was lost" "$WORK/worker-hung.log" && break; sleep 0.1
done
grep -q "lease of job .* was lost; result discarded" "$WORK/worker-hung.log" || fail "C: stale result not discarded"
[ "$(sql "SELECT COUNT(*) FROM scores WHERE submission_id=$SUBC")" = 1 ] || fail "C: scored more than once"
kill "$HUNG" "$RESCUER"; wait "$HUNG" "$RESCUER" 2>/dev/null || true
echo "C: hung worker's job rescored once, its late result discarded"

# ---- D. disk full / read-only blob store under the live server
wait_no_submission_in() {  # STATES (SQL list): up to 60 s until no submission is in them
  for _ in $(seq 600); do
    [ "$(sql "SELECT COUNT(*) FROM submissions WHERE state IN ($1)")" = 0 ] && return
    sleep 0.1
  done
}
quota_used() { api GET "/api/quota?phase=test&track=multicoil_4x" "$(cat "$WORK/d.token")" \
  | $PY -c "import json,sys; print(json.load(sys.stdin)['used_total'])"; }
for mode in ENOSPC EROFS; do
  # The previous mode's recovery submission counts once validated: wait for its validation
  # to end before taking the baseline (reading it mid-validation made the check flaky).
  wait_no_submission_in "'uploaded','validating'"
  Q0=$(quota_used)
  k=$([ $mode = ENOSPC ] && echo 0 || echo 1)
  F="$WORK/sub-d$k/file_brain_AXT2_001.h5"
  SIZE=$(stat -c %s "$F"); SHA=$(sha256sum "$F" | cut -d' ' -f1)
  UP=$(api POST /api/uploads "$(cat "$WORK/d.token")" -H 'Content-Type: application/json' \
       -d "{\"filename\":\"file_brain_AXT2_001.h5\",\"size\":$SIZE,\"sha256\":\"$SHA\"}" \
       | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
  head -c 4096 "$F" >"$WORK/chunk"
  if [ $mode = EROFS ]; then   # read-only at finalize: the data is already in
    api PUT "/api/uploads/$UP?offset=0" "$(cat "$WORK/d.token")" -H "Content-Type: application/octet-stream" --data-binary @"$F" >/dev/null
    [ "$(cat "$WORK/status")" = 200 ] || fail "D: upload before the fault"
  fi
  echo $mode >"$WORK/fault"
  FAULTS=$((FAULTS + 1))
  if [ $mode = ENOSPC ]; then
    api PUT "/api/uploads/$UP?offset=0" "$(cat "$WORK/d.token")" -H "Content-Type: application/octet-stream" --data-binary @"$WORK/chunk" >/dev/null
  else
    api POST "/api/uploads/$UP/finalize" "$(cat "$WORK/d.token")" -H "Content-Type: application/json" -d "{}" >/dev/null
  fi
  [ "$(cat "$WORK/status")" = 503 ] || fail "D/$mode: expected 503, got $(cat "$WORK/status"): $(cat "$WORK/body")"
  curl -sS -D "$WORK/headers" -o /dev/null -X PUT -H "Content-Type: application/octet-stream" -H "Authorization: Bearer $(cat "$WORK/d.token")" \
    --data-binary @"$WORK/chunk" "$URL/api/uploads/$UP?offset=0" || true
  [ $mode = EROFS ] || grep -qi "^Retry-After:" "$WORK/headers" || fail "D/$mode: no Retry-After"
  # A multipart submission during the fault: 503, no submission, no quota.
  N0=$(sql "SELECT COUNT(*) FROM submissions")
  api POST /api/submissions "$(cat "$WORK/d.token")" -F phase=test -F track=multicoil_4x \
    -F "a=@$WORK/sub-d2/file_brain_AXT2_001.h5" -F "b=@$WORK/sub-d2/file_brain_AXFLAIR_002.h5" >/dev/null
  [ "$(cat "$WORK/status")" = 503 ] || fail "D/$mode: multipart during the fault: $(cat "$WORK/status") $(cat "$WORK/body")"
  [ "$(sql "SELECT COUNT(*) FROM submissions")" = "$N0" ] || fail "D/$mode: a submission was created"
  [ "$(quota_used)" = "$Q0" ] || fail "D/$mode: quota used by a storage failure"
  : >"$WORK/fault"
  # Recovery: the same upload and a full submission go through.
  if [ $mode = ENOSPC ]; then
    api PUT "/api/uploads/$UP?offset=0" "$(cat "$WORK/d.token")" -H "Content-Type: application/octet-stream" --data-binary @"$F" >/dev/null
    [ "$(cat "$WORK/status")" = 200 ] || fail "D/$mode: upload after recovery: $(cat "$WORK/body")"
  fi
  api POST "/api/uploads/$UP/finalize" "$(cat "$WORK/d.token")" -H "Content-Type: application/json" -d "{}" >/dev/null
  [ "$(cat "$WORK/status")" = 200 ] || fail "D/$mode: finalize after recovery: $(cat "$WORK/body")"
  submit d "$WORK/sub-d$k" "$WORK/submit-d$k.log" || fail "D/$mode: submit after recovery"
  echo "D: $mode blob store: 503 + nothing counted, then recovered"
done

# ---- drain everything, then the invariants
start_worker final
wait_no_submission_in "'uploaded','validating','queued','evaluating'"
kill "$WPID"; wait "$WPID" 2>/dev/null || true
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

STUCK=$(sql "SELECT id||':'||state FROM submissions WHERE state IN ('uploaded','validating','queued','evaluating')")
[ -z "$STUCK" ] || fail "stuck submissions: $STUCK"
[ "$(sql "SELECT COUNT(*) FROM jobs WHERE state IN ('queued','leased')")" = 0 ] || fail "jobs left in the queue"
# Every submitted directory is exactly one live submission with exactly its files.
for d in "$WORK"/sub-a* "$WORK"/sub-b* "$WORK"/sub-c0 "$WORK"/sub-d0 "$WORK"/sub-d1; do
  s1=$(sha256sum "$d/file_brain_AXT2_001.h5" | cut -d' ' -f1); s2=$(sha256sum "$d/file_brain_AXFLAIR_002.h5" | cut -d' ' -f1)
  n=$(sql "SELECT COUNT(*) FROM submissions s WHERE s.state<>'failed'
           AND EXISTS (SELECT 1 FROM submission_files f WHERE f.submission_id=s.id AND f.sha256='$s1')
           AND EXISTS (SELECT 1 FROM submission_files f WHERE f.submission_id=s.id AND f.sha256='$s2')")
  [ "$n" = 1 ] || fail "$(basename "$d"): $n live submissions (lost or duplicated)"
done
NOTSCORED=$(sql "SELECT id||':'||state||':'||COALESCE(failure_kind,'') FROM submissions WHERE state<>'scored'
                 AND NOT (state='failed' AND failure_kind='duplicate')")
[ -z "$NOTSCORED" ] || fail "submissions not scored: $NOTSCORED"
[ "$(sql "SELECT COUNT(*) FROM submissions WHERE counted=1 AND state<>'scored'")" = 0 ] || fail "quota counted for an unscored submission"
[ -z "$(sql "SELECT job_id FROM scores GROUP BY job_id HAVING COUNT(*)>1")" ] || fail "a job has several score rows"
[ -z "$(sql "SELECT submission_id FROM scores GROUP BY submission_id, spec_hash HAVING COUNT(*)>1")" ] \
  || fail "a submission was scored twice with one spec"
[ "$(sql "SELECT COUNT(*) FROM jobs WHERE state='done'")" = "$(sql "SELECT COUNT(*) FROM scores")" ] || fail "jobs vs scores"
# Quota: per team, counted submissions = scored ones.
for t in a b c d; do
  sc=$(sql "SELECT COUNT(*) FROM submissions s JOIN teams t ON t.id=s.team_id WHERE t.name='Team $t' AND s.state='scored'")
  ct=$(sql "SELECT COUNT(*) FROM submissions s JOIN teams t ON t.id=s.team_id WHERE t.name='Team $t' AND s.counted=1")
  [ "$sc" = "$ct" ] || fail "team $t: $ct counted vs $sc scored"
done
case $DB in
  sqlite:*) [ "$(sql "PRAGMA integrity_check")" = ok ] || fail "sqlite integrity_check: $(sql "PRAGMA integrity_check")"
            [ -z "$(sql "PRAGMA foreign_key_check")" ] || fail "foreign keys" ;;
  postgres*) sql "SELECT COUNT(*) FROM submissions" >/dev/null || fail "postgres not readable" ;;
esac
# Blob store: no partial uploads left visible as blobs; every blob hashes to its name; every
# canonical copy (canonical/ab/cdef....h5, written by the validator) belongs to a stored blob.
for f in $(find "$BLOBS" -mindepth 2 -type f -not -path "*/uploads/*" -not -path "*/canonical/*"); do
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$(dirname "$f")")$(basename "$f")" ] || fail "corrupt blob $f"
done
for f in $(find "$BLOBS/canonical" -mindepth 2 -type f -not -path "*/tmp/*" 2>/dev/null); do
  fan=$(basename "$(dirname "$f")")
  [ -f "$BLOBS/$fan/$(basename "$f" .h5)" ] || fail "canonical copy $f without its blob"
done
NSUB=$(sql "SELECT COUNT(*) FROM submissions WHERE state='scored'")
echo "server faults OK: $FAULTS faults injected (seed $SEED, $ROUNDS rounds), $NSUB submissions scored exactly once, db ${DB%%:*}"
