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

# An unknown method parameter is refused with a message naming it and the known keys, by
# `recon` and by `demo` (before the demo simulates anything): docs/commands.md once showed
# `sense:iters=10`, SENSE's key is `iter`.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
out=$("$RECONBENCH" recon --method sense --param iters=10 "$TMP" --out "$TMP/out" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "recon with an unknown parameter: rc=$rc ($out)"
echo "$out" | grep -q "unknown key 'iters' for method sense (known: lambda, iter" || fail "recon message: $out"
out=$("$RECONBENCH" recon --method varnet --param normalize=maybe "$TMP" --out "$TMP/out" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "recon with a malformed bool: rc=$rc ($out)"
echo "$out" | grep -q "normalize=maybe" || fail "recon bool message: $out"
out=$("$RECONBENCH" demo --profile ci --out "$TMP/demo" --param sense:iters=10 2>&1); rc=$?
[ $rc -eq 2 ] || fail "demo with an unknown parameter: rc=$rc ($out)"
echo "$out" | grep -q "sense:iters=10.*unknown key 'iters'" || fail "demo message: $out"
[ ! -e "$TMP/demo/data" ] || fail "demo simulated data before refusing its --param"
out=$("$RECONBENCH" demo --profile ci --out "$TMP/demo" --param nope:iter=10 2>&1); rc=$?
[ $rc -eq 2 ] || fail "demo with an unknown method: rc=$rc ($out)"
echo "$out" | grep -q "unknown reconstruction method 'nope'" || fail "demo method message: $out"
# The method list shows the real keys with their defaults.
out=$("$RECONBENCH" recon --list-methods)
echo "$out" | grep -q '`iter=30` (int)' || fail "--list-methods lacks sense's iter"
echo "cli errors ok"
