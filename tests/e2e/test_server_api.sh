#!/usr/bin/env bash
# The challenge server end to end with real processes on loopback:
#   validate (local) -> serve -> challenge add-user -> submit (CLI, chunked, resumed after a
#   server kill -9 mid-upload) -> worker kill -9 mid-job (requeued, scored exactly once) ->
#   leaderboard -> validation in the background with a sandboxed validator (a crashing,
#   hanging and memory-hungry file each fail validation cleanly, server alive, quota
#   unchanged; submit returns before validation ends) -> duplicates refused, not charged ->
#   final-submission selection changes the challenge leaderboard row -> close -> export.
# Data: a tiny dataset in the simulator's layout written with h5py (tiny_dataset.py).
# Database: SQLite in the work directory, or RECONBENCH_TEST_DB=postgresql://... (an empty
# database; test_server_api_pg.sh runs this suite on a throwaway PostgreSQL cluster).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir server-e2e
# Fault injection in the sandboxed validator: only files that start with RB_TEST_FAULT=...
export RECONBENCH_TEST_FAULTS=1
VLIMITS=(--validate-timeout 12 --validate-memory-mb 2048)

$PY "$(dirname "$0")/tiny_dataset.py" "$WORK"
DATA=$WORK/data
DB=${RECONBENCH_TEST_DB:-sqlite:$WORK/challenge.db}
BLOBS=()   # SQLite: the default blob store next to the database
case "$DB" in
  postgres://* | postgresql://*) BLOBS=(--blobs "$WORK/blobs") ;;
  sqlite:*) ;;
  *) echo "RECONBENCH_TEST_DB must be sqlite:PATH or postgresql://..." >&2; exit 2 ;;
esac
echo "server e2e on ${DB%%:*}"
sql_count() {  # a SELECT COUNT(*) straight from the database the server wrote
  case "$DB" in
    sqlite:*) $PY -c "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "${DB#sqlite:}" "$1" ;;
    *) psql -X -q -tA -d "$DB" -c "$1" ;;
  esac
}

# ---- local validation: the same validator as the server
"$RB" validate "$WORK/sub-good-multicoil_test" --track multicoil_4x --phase test --data "$DATA" >"$WORK/validate.log" \
  || fail "valid submission rejected locally"
mkdir "$WORK/sub-bad"; cp "$WORK/sub-good-multicoil_test/file_brain_AXT2_001.h5" "$WORK/sub-bad/"
if "$RB" validate "$WORK/sub-bad" --track multicoil_4x --phase test --data "$DATA" --json >"$WORK/validate-bad.log"; then
  fail "incomplete submission accepted"
fi
grep -q '"missing"' "$WORK/validate-bad.log" || fail "validator did not name the missing volume"

# ---- accounts
"$RB" challenge add-user org --role organiser --data "$DATA" --db "$DB" "${BLOBS[@]}" >"$WORK/org.token"
"$RB" challenge add-user alice --team "Team Alice" --data "$DATA" --db "$DB" "${BLOBS[@]}" >"$WORK/alice.token"
"$RB" challenge add-user bob --team "Team Bob" --data "$DATA" --db "$DB" "${BLOBS[@]}" >"$WORK/bob.token"
ORG=$(cat "$WORK/org.token"); ALICE=$(cat "$WORK/alice.token"); BOB=$(cat "$WORK/bob.token")

start_server() {  # $1 = workers
  rm -f "$WORK/port"
  "$RB" serve --data "$DATA" --db "$DB" "${BLOBS[@]}" --port 0 --port-file "$WORK/port" --workers "$1" --lease 2 "${VLIMITS[@]}" \
    --max-file-mb 4 >>"$WORK/serve.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || fail "server did not start"
  URL="http://127.0.0.1:$(cat "$WORK/port")"
}
api() {  # METHOD PATH TOKEN [curl args...]
  local m=$1 p=$2 t=$3; shift 3
  curl -sS -X "$m" -H "Authorization: Bearer $t" "$@" "$URL$p"
}
jget() { $PY -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
wait_state() {  # ID STATE TOKEN; up to 180 s (starting a process that links LibTorch can take
                #  seconds on a loaded machine)
  local deadline=$((SECONDS + 180))
  while [ $SECONDS -lt $deadline ]; do
    s=$(api GET "/api/submissions/$1" "$3" | jget "['state']")
    [ "$s" = "$2" ] && return 0
    [ "$s" = failed ] && fail "submission $1 failed"
    sleep 0.1
  done
  fail "submission $1 not $2 (last: $s)"
}

start_server 0   # no in-process workers: external workers only

# ---- kill -9 the server during an upload: nothing partial becomes visible; resume works
F="$WORK/sub-good-multicoil_test/file_brain_AXFLAIR_002.h5"
SIZE=$(stat -c %s "$F"); SHA=$(sha256sum "$F" | cut -d' ' -f1)
UP=$(api POST /api/uploads "$ALICE" -H 'Content-Type: application/json' \
     -d "{\"filename\":\"file_brain_AXFLAIR_002.h5\",\"size\":$SIZE,\"sha256\":\"$SHA\"}" | jget "['id']")
head -c 4096 "$F" >"$WORK/chunk0"
api PUT "/api/uploads/$UP?offset=0" "$ALICE" --data-binary @"$WORK/chunk0" -H 'Content-Type: application/octet-stream' >/dev/null
kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
start_server 0
[ "$(api GET /api/submissions "$ALICE" | jget '.__len__()')" = 0 ] || fail "a partial upload became a submission"
[ "$(api GET "/api/uploads/$UP" "$ALICE" | jget "['offset']")" = 4096 ] || fail "upload offset lost after kill -9"
[ "$(api GET "/api/uploads/$UP" "$ALICE" | jget "['state']")" = open ] || fail "upload state"
# The CLI resumes that upload from the server's offset (state file as an interrupted run leaves it).
# Its default place: $XDG_STATE_HOME/reconbench/uploads/KEY.json, KEY = sha256(URL \n DIR)[:16].
STATE=$XDG_STATE_HOME/reconbench/uploads/$($PY -c "import hashlib,sys;print(hashlib.sha256((sys.argv[1]+'\n'+sys.argv[2]).encode()).hexdigest()[:16])" "$URL" "$WORK/sub-good-multicoil_test").json
mkdir -p "$(dirname "$STATE")"
echo "{\"file_brain_AXFLAIR_002.h5\": {\"upload\": $UP, \"sha256\": \"$SHA\"}}" >"$STATE"
"$RB" submit "$WORK/sub-good-multicoil_test" --server "$URL" --token "$ALICE" --track multicoil_4x --phase test \
  --chunk-mb 0.002 --data "$DATA" >"$WORK/submit.json" 2>"$WORK/submit.log" || fail "submit failed"
grep -q "resuming at byte 4096" "$WORK/submit.log" || fail "CLI did not resume the interrupted upload"
SUB=$($PY -c "import json;print(json.load(open('$WORK/submit.json'))['id'])")
[ "$(jget "['state']" <"$WORK/submit.json")" = queued ] || fail "submission not queued"
[ ! -e "$STATE" ] || fail "the resume state outlived the submission"
[ "$(ls -A "$WORK/sub-good-multicoil_test" | grep -vc '\.h5$')" = 0 ] || fail "submit wrote into the reconstruction directory"

# ---- kill -9 a worker mid-job: the lease expires, another worker scores it exactly once
RECONBENCH_TEST_SCORE_DELAY=30 "$RB" worker --data "$DATA" --db "$DB" "${BLOBS[@]}" --lease 2 --poll 0.1 --id slow "${VLIMITS[@]}" >"$WORK/worker1.log" 2>&1 &
W1=$!; PIDS+=("$W1")
wait_state "$SUB" evaluating "$ALICE"
sleep 2.5   # heartbeats keep the lease while the worker lives
[ "$(api GET "/api/submissions/$SUB" "$ALICE" | jget "['state']")" = evaluating ] || fail "live worker lost its lease"
kill -9 "$W1"; wait "$W1" 2>/dev/null || true
"$RB" worker --data "$DATA" --db "$DB" "${BLOBS[@]}" --lease 2 --poll 0.1 --id fast "${VLIMITS[@]}" >"$WORK/worker2.log" 2>&1 &
W2=$!; PIDS+=("$W2")
wait_state "$SUB" scored "$ALICE"
api GET "/api/submissions/$SUB" "$ALICE" >"$WORK/sub.json"
grep -q "stopped heartbeating" "$WORK/sub.json" || fail "requeue not recorded in the submission history"
N=$(sql_count "select count(*) from scores where submission_id=$SUB")
[ "$N" = 1 ] || fail "submission scored $N times"

# ---- a second team, a pinned baseline, the public leaderboard
"$RB" submit "$WORK/sub-fair-multicoil_test" --server "$URL" --token "$BOB" --track multicoil_4x --phase test \
  --wait 60 >"$WORK/submit-bob.json" 2>>"$WORK/submit.log" || fail "bob's submission not scored"
"$RB" challenge baseline "$WORK/sub-fair-multicoil_test" --label zero-filled --track multicoil_4x --phase test \
  --data "$DATA" --db "$DB" "${BLOBS[@]}" >"$WORK/baseline.json" || fail "baseline not accepted: $(cat "$WORK/baseline.json")"
BASE=$(jget "['id']" <"$WORK/baseline.json")
wait_state "$BASE" scored "$ORG"
curl -sS "$URL/api/leaderboard/test/multicoil_4x" >"$WORK/lb.json"
[ "$(jget "['entries'][0]['team']" <"$WORK/lb.json")" = "Team Alice" ] || fail "ranking: $(cat "$WORK/lb.json")"
[ "$(jget "['entries'][1]['team']" <"$WORK/lb.json")" = "Team Bob" ] || fail "ranking"
[ "$(jget "['baselines'][0]['team']" <"$WORK/lb.json")" = "zero-filled" ] || fail "baseline not pinned"
# Bob cannot read Alice's submission; nobody gets ground truth over HTTP.
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" "$URL/api/submissions/$SUB")" = 404 ] || fail "isolation"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ground_truth/multicoil_test/file_brain_AXT2_001.h5")" = 404 ] || fail "GT exposed"
# The web UI is served.
curl -sS "$URL/index.html" >"$WORK/index.html"   # (not piped into grep -q: SIGPIPE + pipefail)
grep -q "Leaderboards" "$WORK/index.html" || fail "web UI not served"

# ---- validation runs after submit returns, in a sandboxed child: a file that crashes, hangs or
# exhausts the validator fails validation with a reason naming it; the server stays up and
# no quota is used. (The fault hook is RECONBENCH_TEST_FAULTS=1 + a file starting RB_TEST_FAULT=.)
QUOTA() { api GET "/api/quota?phase=test&track=multicoil_4x" "$ALICE" | jget "['remaining']"; }
Q0=$(QUOTA)
declare -A FAULT_SUB
for fault in hang segv alloc; do
  d="$WORK/sub-fault-$fault"; mkdir -p "$d"; cp "$WORK"/sub-fair-multicoil_test/*.h5 "$d/"
  printf 'RB_TEST_FAULT=%s\n' "$fault" >"$d/file_brain_AXT2_001.h5"
  args=(); for f in "$d"/*.h5; do args+=(-F "file=@$f;filename=$(basename "$f")"); done
  curl -sS -o "$WORK/post-$fault.json" -w '%{http_code} %{time_total}\n' -X POST -H "Authorization: Bearer $ALICE" \
    -F phase=test -F track=multicoil_4x "${args[@]}" "$URL/api/submissions" >"$WORK/post-$fault.status"
  read -r code secs <"$WORK/post-$fault.status"
  [ "$code" = 202 ] || fail "fault $fault: POST returned $code: $(cat "$WORK/post-$fault.json")"
  [ "$(jget "['state']" <"$WORK/post-$fault.json")" = validating ] || fail "fault $fault: not validating at once"
  $PY -c "import sys; sys.exit(0 if float('$secs') < 5 else 1)" || fail "fault $fault: POST took $secs s (validation not in the background?)"
  FAULT_SUB[$fault]=$(jget "['id']" <"$WORK/post-$fault.json")
done
for fault in hang segv alloc; do
  id=${FAULT_SUB[$fault]}; deadline=$((SECONDS + 120))
  while [ $SECONDS -lt $deadline ]; do
    api GET "/api/submissions/$id" "$ALICE" >"$WORK/fault-$fault.json"
    [ "$(jget "['state']" <"$WORK/fault-$fault.json")" = failed ] && break
    sleep 0.2
  done
  want=$(case $fault in hang) echo timeout;; segv) echo crash;; alloc) echo memory;; esac)
  [ "$(jget "['failure']['kind']" <"$WORK/fault-$fault.json")" = validation ] || fail "fault $fault: $(cat "$WORK/fault-$fault.json")"
  [ "$(jget "['validation']['errors'][0]['kind']" <"$WORK/fault-$fault.json")" = "$want" ] || fail "fault $fault: $(cat "$WORK/fault-$fault.json")"
  [ "$(jget "['validation']['errors'][0]['file']" <"$WORK/fault-$fault.json")" = file_brain_AXT2_001.h5 ] || fail "fault $fault: file not named"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/health")" = 200 ] || fail "server down after validator faults"
[ "$(QUOTA)" = "$Q0" ] || fail "validator faults cost quota ($Q0 -> $(QUOTA))"

# ---- duplicates: the same files as a live submission of the team are refused, not charged
args=(); for f in "$WORK"/sub-good-multicoil_test/*.h5; do args+=(-F "file=@$f;filename=$(basename "$f")"); done
CODE=$(curl -sS -o "$WORK/dup.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" \
  -F phase=test -F track=multicoil_4x "${args[@]}" "$URL/api/submissions")
[ "$CODE" = 409 ] || fail "duplicate submission: HTTP $CODE $(cat "$WORK/dup.json")"
grep -q "submission $SUB" "$WORK/dup.json" || fail "duplicate not reported against submission $SUB: $(cat "$WORK/dup.json")"
[ "$(QUOTA)" = "$Q0" ] || fail "a duplicate cost quota"

# ---- final selection (challenge phase): the team's row is its choice, else its latest
for team in good fair; do
  "$RB" submit "$WORK/sub-$team-multicoil_challenge" --server "$URL" --token "$ALICE" --track multicoil_4x \
    --phase challenge --wait 120 >"$WORK/ch-$team.json" 2>>"$WORK/submit.log" || fail "challenge submission ($team) not scored"
done
first_id() { $PY -c "import json,sys;print(json.load(open(sys.argv[1]))['id'])" "$1"; }  # one JSON document
CH_GOOD=$(first_id "$WORK/ch-good.json"); CH_FAIR=$(first_id "$WORK/ch-fair.json")
lb_sub() {  # the submission of Team Alice's row on the challenge leaderboard (organiser view)
  api GET /api/leaderboard/challenge/multicoil_4x "$ORG" >"$WORK/lb-challenge.json"
  $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print([e['submission'] for e in d['entries'] if e['team']=='Team Alice'])" "$WORK/lb-challenge.json"
}
[ "$(lb_sub)" = "[$CH_FAIR]" ] || fail "challenge row is not the latest scored submission: $(lb_sub)"
CODE=$(curl -s -o "$WORK/final.json" -w '%{http_code}' -X PUT --data "" -H "Authorization: Bearer $BOB" "$URL/api/submissions/$CH_GOOD/final")
[ "$CODE" = 404 ] || fail "another team selected Alice's final submission: HTTP $CODE"
CODE=$(curl -s -o "$WORK/final.json" -w '%{http_code}' -X PUT --data "" -H "Authorization: Bearer $ALICE" "$URL/api/submissions/$CH_GOOD/final")
[ "$CODE" = 200 ] || fail "final selection: HTTP $CODE $(cat "$WORK/final.json")"
[ "$(lb_sub)" = "[$CH_GOOD]" ] || fail "final selection did not change the leaderboard row: $(lb_sub)"
[ "$(api GET "/api/submissions/$CH_GOOD" "$ALICE" | jget "['final_selected']")" = True ] || fail "final flag"

# ---- rescore keeps old rows; close; export works without the server
"$RB" rescore --data "$DATA" --db "$DB" "${BLOBS[@]}" >"$WORK/rescore.log"; grep -q "0 jobs queued" "$WORK/rescore.log" || fail "rescore"
api POST /api/admin/phases/test/close "$ORG" >/dev/null
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true   # SIGTERM: clean stop
grep -q "stopped" "$WORK/serve.log" || fail "server did not stop cleanly on SIGTERM"
# The organiser's command line: close the challenge phase, then publish its final results
# (refused while its reader study has no complete reads, unless --force).
"$RB" challenge close challenge --data "$DATA" --db "$DB" "${BLOBS[@]}" >"$WORK/close.json"
if [ "$($PY -c "import json;print(len(json.load(open('$WORK/close.json'))['studies']))")" != 0 ]; then
  ! "$RB" challenge publish challenge --data "$DATA" --db "$DB" "${BLOBS[@]}" 2>"$WORK/publish.err" \
    || fail "challenge publish went through over an incomplete reader study"
  grep -q "not complete" "$WORK/publish.err" || fail "challenge publish: $(cat "$WORK/publish.err")"
fi
"$RB" challenge publish challenge --force --data "$DATA" --db "$DB" "${BLOBS[@]}" | grep -q "published" \
  || fail "challenge publish --force"
"$RB" challenge status --data "$DATA" --db "$DB" "${BLOBS[@]}" \
  | $PY -c "import json,sys; p={x['name']:x for x in json.load(sys.stdin)['phases']}; assert p['challenge']['published']" \
  || fail "challenge status does not show the published phase"
"$RB" export --data "$DATA" --db "$DB" "${BLOBS[@]}" --out "$WORK/export" >/dev/null
grep -q "Team Alice" "$WORK/export/index.html" || fail "export lacks the leaderboard"
$PY -c "import json;b=json.load(open('$WORK/export/bundle.json'));assert b['leaderboards'][0]['entries'][0]['team']=='Team Alice'" \
  || fail "export bundle"
echo "server e2e OK"
