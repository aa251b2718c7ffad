#!/usr/bin/env bash
# `--sandbox` of `validate` (default), `info` and `eval` (issue 21): the same answers as in
# process, and a file that crashes the parser ends only the sandboxed child.
# Data: the server e2e scripts' tiny dataset (tiny_dataset.py).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir sandbox-cli

$PY "$(dirname "$0")/tiny_dataset.py" "$WORK"
mv "$WORK/sub-good-multicoil_test" "$WORK/sub"
DATA=$WORK/data
V=(--track multicoil_4x --phase test --data "$DATA" --json)

# validate: sandboxed by default, the same report as in process
"$RB" validate "$WORK/sub" "${V[@]}" >"$WORK/v-sandbox.json" || fail "sandboxed validate refused a good submission"
"$RB" validate "$WORK/sub" "${V[@]}" --no-sandbox >"$WORK/v-inproc.json" || fail "in-process validate refused it"
cmp -s "$WORK/v-sandbox.json" "$WORK/v-inproc.json" || fail "reports differ: $(diff "$WORK/v-sandbox.json" "$WORK/v-inproc.json")"

# a file that crashes the parser (the validator child's fault hook): a report, not a crash
cp -r "$WORK/sub" "$WORK/crash"
printf 'RB_TEST_FAULT=segv\n' >"$WORK/crash/file_brain_AXT2_001.h5"
set +e
RECONBENCH_TEST_FAULTS=1 "$RB" validate "$WORK/crash" "${V[@]}" >"$WORK/v-crash.json" 2>"$WORK/v-crash.log"
rc=$?
set -e
[ $rc -eq 1 ] || fail "validate of a crashing file: rc=$rc (want 1: invalid)"
$PY -c "import json,sys; e=json.load(open(sys.argv[1]))['errors']; assert [(x['file'],x['kind']) for x in e]==[('file_brain_AXT2_001.h5','crash')], e" \
  "$WORK/v-crash.json" || fail "crash not reported: $(cat "$WORK/v-crash.json")"

# info: the same description; an unreadable file named, exit 2
GT=$DATA/ground_truth/multicoil_test
"$RB" info --json "$GT" >"$WORK/i-inproc.json" 2>/dev/null || true
"$RB" info --json --sandbox "$GT" >"$WORK/i-sandbox.json" 2>/dev/null || true
[ -s "$WORK/i-sandbox.json" ] || fail "info --sandbox printed nothing"
cmp -s "$WORK/i-sandbox.json" "$WORK/i-inproc.json" || fail "info differs: $(diff "$WORK/i-sandbox.json" "$WORK/i-inproc.json")"
printf 'not hdf5' >"$WORK/bad.h5"
set +e
out=$("$RB" info --sandbox "$WORK/bad.h5" 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] || fail "info --sandbox of a non-HDF5 file: rc=$rc ($out)"
echo "$out" | grep -q "bad.h5: not an HDF5 file" || fail "info --sandbox message: $out"

# eval: the same metrics; --out written from inside the sandbox
E=(--target "$GT" --predictions "$WORK/sub" --json)
"$RB" eval "${E[@]}" >"$WORK/e-inproc.json" 2>/dev/null || fail "eval failed"
"$RB" eval "${E[@]}" --sandbox --out "$WORK/eout/report.json" >"$WORK/e-sandbox.json" 2>/dev/null || fail "eval --sandbox failed"
cmp -s "$WORK/e-sandbox.json" "$WORK/e-inproc.json" || fail "eval differs: $(diff "$WORK/e-sandbox.json" "$WORK/e-inproc.json" | head)"
[ -s "$WORK/eout/report.json" ] || fail "eval --sandbox --out wrote nothing"
echo "sandbox cli: ok"
