#!/usr/bin/env bash
# User mistakes give one clear line and a non-zero exit; no crash, no stack dump.
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }
out=$("$RECONBENCH" no-such-command 2>&1); rc=$?
[ $rc -ne 0 ] || fail "unknown command exited 0"
out=$("$RECONBENCH" help no-such-command 2>&1); rc=$?
[ $rc -eq 2 ] || fail "help of an unknown command: rc=$rc"
echo "$out" | grep -q "unknown command 'no-such-command'" || fail "message: $out"
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "more than one line: $out"
"$RECONBENCH" --version | grep -q "reconbench" || fail "--version"
echo "cli errors ok"
