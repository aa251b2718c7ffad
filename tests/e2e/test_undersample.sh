#!/usr/bin/env bash
# undersample end to end: fully sampled files -> test + target files; the test file's mask is
# what `reconbench mask --seed-file NAME` prints; results do not depend on the thread count;
# progress goes to stderr, the per-file table to stdout; bad input is one clear line.
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }
PY=/usr/bin/python3
ORACLE="$RECONBENCH_SOURCE_DIR/tests/oracle"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/full"

$PY - "$tmp/full" "$ORACLE" <<'PYEOF' || fail "writing inputs"
import sys, os
sys.path.insert(0, sys.argv[2])
from test_sampling_undersample import write_full
write_full(os.path.join(sys.argv[1], "file_brain_AXT2_200_2000019.h5"), 320, 319, 160, 1)
write_full(os.path.join(sys.argv[1], "file_brain_AXT1_202_2020098.h5"), 368, 367, 184, 2)
PYEOF

out=$("$RECONBENCH" --threads 1 undersample "$tmp/full" --out "$tmp/t1" --targets "$tmp/g1" \
      --accelerations 8 --center-fractions 0.04 2>"$tmp/err1") || fail "undersample: $(cat "$tmp/err1")"
[ "$(echo "$out" | head -1 | cut -f1)" = "file" ] || fail "table header: $out"
echo "$out" | grep -q "^file_brain_AXT2_200_2000019.h5	8	13	" || fail "table row: $out"
RECONBENCH_PROGRESS=1 "$RECONBENCH" --threads 4 undersample "$tmp/full" --out "$tmp/t4" \
  --accelerations 8 --center-fractions 0.04 >/dev/null 2>"$tmp/err4" || fail "undersample x4"
grep -q "undersample" "$tmp/err4" || fail "no progress on stderr: $(cat "$tmp/err4")"

for name in file_brain_AXT2_200_2000019.h5 file_brain_AXT1_202_2020098.h5; do
  [ -f "$tmp/g1/$name" ] || fail "no target $name"
  w=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1])['kspace'].shape[-1])" "$tmp/t1/$name")
  expect=$("$RECONBENCH" mask --width "$w" --accelerations 8 --center-fractions 0.04 \
           --seed-file "$tmp/full/$name") || fail "mask"
  $PY - "$tmp/t1/$name" "$tmp/t4/$name" "$expect" <<'PYEOF' || fail "$name: compare"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
idx = [int(x) for x in sys.argv[3].split()]
assert np.flatnonzero(a["mask"][()]).tolist() == idx, "mask != reconbench mask --seed-file"
assert a["kspace"][()].tobytes() == b["kspace"][()].tobytes(), "depends on --threads"
assert (a["mask"][()] == b["mask"][()]).all()
assert a.attrs["acceleration"] == 8 and a.attrs["num_low_frequency"] == b.attrs["num_low_frequency"]
PYEOF
done

msg=$("$RECONBENCH" undersample "$tmp/nope" --out "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "missing input rc=$rc"
[ "$(echo "$msg" | wc -l)" -eq 1 ] || fail "more than one line: $msg"
echo "$msg" | grep -q "nope" || fail "message does not name the path: $msg"
echo "undersample e2e ok"
