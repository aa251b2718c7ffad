#!/usr/bin/env bash
# LibTorch is mapped only by the commands that need it (ml/loader.hpp): the executable has no
# LibTorch among its needed libraries; info, mask, undersample, recon (classical), eval,
# validate, validate-child and serve run on simulated challenge data without loading any LibTorch
# library (the dynamic loader's own list, LD_DEBUG=files, which includes dlopen); the learned
# methods load libreconbench_ml.so and LibTorch and reconstruct; without the module beside
# the executable they fail with one line naming it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir torchfree
cd "$WORK"
TORCH_RE='libtorch|libc10|libreconbench_ml'

# objects the dynamic loader mapped while running the command (stdout/stderr of the command
# itself go to $WORK/last.out)
mapped() {
  LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/ld" "$RB" --threads 1 "$@" >"$WORK/last.out" 2>&1 ||
    fail "$* failed: $(tail -5 "$WORK/last.out")"
  cat "$WORK"/ld.* | sed -n 's/.*file=\([^ ]*\).*/\1/p' | sort -u
  rm -f "$WORK"/ld.*
}
torch_free() {
  local libs
  libs=$(mapped "$@")
  [ -n "$libs" ] || fail "$*: LD_DEBUG listed no objects at all (is the check broken?)"
  if echo "$libs" | grep -E "$TORCH_RE"; then fail "$*: mapped LibTorch"; fi
  echo "ok: $1 maps $(echo "$libs" | wc -l) objects, none of LibTorch"
}

if readelf -d "$RB" | grep NEEDED | grep -E "$TORCH_RE"; then fail "reconbench links LibTorch"; fi

"$RB" --threads 1 simulate --profile ci --seed 3 --out data --splits challenge >sim.log 2>&1 ||
  fail "simulate"
f4=$($PY -c "import json; print([f['file'] for f in json.load(open('data/manifest.json'))['files']
              if f['acceleration'] == 4][0])")
gt=data/ground_truth/multicoil_challenge

torch_free help
torch_free info "data/$f4"
torch_free mask --width 128 --accelerations 4 --center-fractions 0.08 --seed 1
torch_free recon --method zero-filled data/multicoil_challenge --out zf
torch_free recon --list-methods
grep -q '`varnet`' "$WORK/last.out" || fail "recon --list-methods does not list varnet"
grep -q 'normalize=true' "$WORK/last.out" || fail "recon --list-methods lacks the learned parameters"
torch_free eval --target "$gt" --predictions zf --json
mkdir full
$PY - full/file_brain_AXT2_200_2000019.h5 "$RECONBENCH_SOURCE_DIR/tests/oracle" <<'PYEOF' ||
import sys
sys.path.insert(0, sys.argv[2])
from test_sampling_undersample import write_full
write_full(sys.argv[1], 320, 319, 160, 1)
PYEOF
  fail "writing a fully sampled file"
torch_free undersample full --out us --accelerations 4 --center-fractions 0.08
mkdir zf4 && cp "zf/$(basename "$f4")" zf4/
torch_free validate zf4 --track multicoil_4x --data data --phase challenge --json
req=$($PY -c "import json,sys,os; print(json.dumps({'data': 'data', 'phase': 'challenge',
  'track': 'multicoil_4x', 'files': {os.path.basename(sys.argv[1]): 'zf4/' + os.path.basename(sys.argv[1])}}))" "$f4")
echo "$req" >req.json
RECONBENCH_VALIDATOR_CHILD=1 LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/ld" "$RB" validate-child \
  <req.json >child.out 2>&1 || fail "validate-child: $(cat child.out)"
grep -q '^report ' child.out || fail "validate-child printed no report: $(cat child.out)"
child=$(cat "$WORK"/ld.* | sed -n 's/.*file=\([^ ]*\).*/\1/p' | sort -u)
rm -f "$WORK"/ld.*
[ -n "$child" ] || fail "validate-child: LD_DEBUG listed nothing"
if echo "$child" | grep -E "$TORCH_RE"; then fail "validate-child mapped LibTorch"; fi
echo "ok: validate-child maps no LibTorch"

# serve runs without LibTorch (its validators are validate-child processes, above): its
# mappings once it listens.
"$RB" --threads 1 serve --data data --db sqlite:serve.sqlite --port 0 --port-file port \
  >serve.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "serve did not start"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat port)/")
[ "$code" = 200 ] || fail "serve answered $code"
grep -q 'libc.so' "/proc/${PIDS[-1]}/maps" || fail "serve: cannot read its mappings"
if grep -E "$TORCH_RE" "/proc/${PIDS[-1]}/maps"; then fail "serve mapped LibTorch"; fi
echo "ok: serve maps no LibTorch"

# The learned methods load the module (and LibTorch) and reconstruct.
libs=$(mapped recon --method unet --weights "$RECONBENCH_SOURCE_DIR/models/unet_small.pt" \
       data/multicoil_challenge --out unet)
echo "$libs" | grep -q 'libreconbench_ml.so$' || fail "recon --method unet did not load the module"
echo "$libs" | grep -q 'libtorch_cpu' || fail "recon --method unet did not load LibTorch"
$PY - "$gt" zf unet <<'PYEOF' || fail "unet output"
import os, sys, h5py, numpy as np
gt, zf, un = sys.argv[1:]
for name in sorted(os.listdir(gt)):
    g = h5py.File(os.path.join(gt, name))["reconstruction_rss"][()]
    z = h5py.File(os.path.join(zf, name))["reconstruction"][()]
    u = h5py.File(os.path.join(un, name))["reconstruction"][()]
    assert u.shape == z.shape and np.isfinite(u).all(), (name, u.shape)
    err = lambda x: np.linalg.norm(x - g) / np.linalg.norm(g)
    # the shipped U-Net improves on its own input, not just returns finite numbers
    assert err(u) < err(z), f"{name}: unet NRMSE {err(u):.4f} >= zero-filled {err(z):.4f}"
    print(f"{name}: NRMSE zero-filled {err(z):.4f}, unet {err(u):.4f}")
PYEOF

# Without the module beside it, the executable says what is missing and where it looked.
mkdir alone && cp "$RB" alone/reconbench
set +e
alone/reconbench recon --method varnet data/multicoil_challenge --out v >alone.out 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "missing module: exit $rc, expected 2: $(cat alone.out)"
grep -q "libreconbench_ml.so" alone.out || fail "missing module not named: $(cat alone.out)"
[ "$(wc -l <alone.out)" = 1 ] || fail "missing module: not one line: $(cat alone.out)"
alone/reconbench recon --method zero-filled data/multicoil_challenge --out zf2 >/dev/null 2>&1 ||
  fail "classical recon needs the module"
echo "ok: learned methods load LibTorch; a missing module is one line: $(cat alone.out)"
