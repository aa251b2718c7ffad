#!/usr/bin/env bash
# `reconbench report` on bad input: one clear line naming the missing file, exit status 2,
# and no partial report left behind; and a minimal results folder (two methods on one
# track, no reader study) gives a report whose notes say what was left out.
set -euo pipefail
: "${RECONBENCH:?set RECONBENCH to the reconbench binary}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

expect_fail() {  # expect_fail PATTERN CMD...
  local pat=$1; shift
  set +e
  "$@" > "$TMP/out" 2> "$TMP/err"
  local rc=$?
  set -e
  [[ $rc -eq 2 ]] || { echo "FAIL: '$*' exited $rc, expected 2"; cat "$TMP/err"; exit 1; }
  grep -q -- "$pat" "$TMP/err" || { echo "FAIL: '$*' error does not mention $pat:"; cat "$TMP/err"; exit 1; }
}

expect_fail "no-such-dir" "$RECONBENCH" report --results "$TMP/no-such-dir" --out "$TMP/r"
mkdir -p "$TMP/res"
expect_fail "run.json" "$RECONBENCH" report --results "$TMP/res" --out "$TMP/r"
echo '{"profile": "ci"}' > "$TMP/res/run.json"
expect_fail "eval" "$RECONBENCH" report --results "$TMP/res" --out "$TMP/r"
mkdir -p "$TMP/res/eval/multicoil_4x"
echo '{"volumes": [{"file": "a.h5"}' > "$TMP/res/eval/multicoil_4x/sense.json"
expect_fail "sense.json" "$RECONBENCH" report --results "$TMP/res" --out "$TMP/r"
[[ ! -e "$TMP/r/index.html" ]] || { echo "FAIL: a failed report left index.html"; exit 1; }

cat > "$TMP/res/eval/multicoil_4x/sense.json" <<'EOF'
{"volumes": [{"file": "a.h5", "acquisition": "AXT2", "ssim": 0.9, "ssim_masked": 0.92, "psnr": 35.0, "nmse": 0.01},
             {"file": "b.h5", "acquisition": "AXFLAIR", "ssim": 0.8, "ssim_masked": 0.85, "psnr": 31.0, "nmse": 0.02}]}
EOF
cat > "$TMP/res/eval/multicoil_4x/zero-filled.json" <<'EOF'
{"volumes": [{"file": "a.h5", "acquisition": "AXT2", "ssim": 0.7, "ssim_masked": 0.8, "psnr": 28.0, "nmse": 0.05},
             {"file": "b.h5", "acquisition": "AXFLAIR", "ssim": 0.6, "ssim_masked": 0.7, "psnr": 26.0, "nmse": 0.08}]}
EOF
"$RECONBENCH" report --results "$TMP/res" --out "$TMP/r" > "$TMP/out" 2> "$TMP/err"
grep -q "index.html" "$TMP/out" || { echo "FAIL: report path not printed"; cat "$TMP/out"; exit 1; }
grep -q "no reader study" "$TMP/err" || { echo "FAIL: missing reader study not noted"; cat "$TMP/err"; exit 1; }
# sense ranks first with mean SSIM 0.85; Table III AVG interval = numpy percentile of {0.8, 0.9}
/usr/bin/python3 - "$TMP/r/index.html" <<'EOF2'
import re, sys
html = open(sys.argv[1]).read()
def cell(k):
    m = re.search(r'data-k="' + re.escape(k) + r'"([^>]*)', html)
    assert m, f"no cell {k}"
    return {a: float(v) for a, v in re.findall(r'(data-[a-z]+)="([^"]*)"', m.group(1))}
close = lambda a, b: abs(a - b) < 1e-12
assert html.index('lb.multicoil_4x.sense.ssim') < html.index('lb.multicoil_4x.zero-filled.ssim'), "sense ranks first"
assert close(cell("lb.multicoil_4x.sense.ssim")["data-v"], 0.85)
assert close(cell("lb.multicoil_4x.zero-filled.nmse")["data-v"], 0.065)
c = cell("t3.multicoil_4x.sense.AVG.mean")
assert close(c["data-v"], 0.85) and close(c["data-lo"], 0.8025) and close(c["data-hi"], 0.8975), c
c = cell("t3.multicoil_4x.sense.FLAIR.mean")
assert close(c["data-v"], 0.8) and close(c["data-lo"], 0.8) and int(c["data-count"]) == 1, c
EOF2
head -c 5 "$TMP/r/figS1_multicoil_4x.svg" | grep -q "<" || { echo "FAIL: Fig. S1 SVG"; exit 1; }
echo OK
