#!/usr/bin/env bash
# `submit` as a newcomer runs it (issue 19): multicoil_test/ mixes 4X and 8X files, and
# `submit DIR` without --track sends each file to its track (the server's list for the phase,
# the validator's rule), one submission per track; --wait prints ONE JSON document; nothing
# is written into DIR (the resume state lives under $XDG_STATE_HOME); a file of no track and
# a closed phase are refused before any byte is uploaded, naming the file / the phase.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir submit-tracks

$PY - "$WORK" <<'PYEOF'
import json, os, sys
import numpy as np, h5py
root = sys.argv[1]; data = os.path.join(root, "data")
files = [("file_brain_AXT2_001.h5", "AXT2", 4), ("file_brain_AXFLAIR_002.h5", "AXFLAIR", 8),
         ("file_brain_AXT1_003.h5", "AXT1", 8)]
man = {"seed": 1, "profile": "e2e", "files": []}
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:32, 0:32]
sub = os.path.join(root, "recon"); os.makedirs(sub)
for k, (name, contrast, acc) in enumerate(files):
    vol = np.stack([np.where(((yy - 16) / 11.0) ** 2 + ((xx - 16) / 12.0) ** 2 < 1,
                             1e-4 * (0.6 + 0.4 * np.cos(xx / 5.0 + s + k)), 2e-6)
                    for s in range(2)]).astype(np.float32)
    gt = f"ground_truth/multicoil_test/{name}"
    os.makedirs(os.path.join(data, "ground_truth", "multicoil_test"), exist_ok=True)
    with h5py.File(os.path.join(data, gt), "w") as f:
        f["reconstruction_rss"] = vol
        f.attrs["acquisition"] = contrast
        f.attrs["max"] = float(vol.max())
    man["files"].append({"file": f"multicoil_test/{name}", "split": "multicoil_test", "track": None,
                         "contrast": contrast, "vendor": "siemens", "field_t": 3.0, "coils": 4, "slices": 2,
                         "recon": [32, 32], "acceleration": acc, "lesions": [], "ground_truth": gt})
    with h5py.File(os.path.join(sub, name), "w") as f:
        f["reconstruction"] = np.maximum(vol + 0.05e-4 * rng.standard_normal(vol.shape), 0).astype(np.float32)
json.dump(man, open(os.path.join(data, "manifest.json"), "w"), indent=1)
PYEOF
DATA=$WORK/data DB=sqlite:$WORK/c.db
"$RB" challenge add-user org --role organiser --data "$DATA" --db "$DB" >"$WORK/org.token"
"$RB" challenge add-user alice --team "Team Alice" --data "$DATA" --db "$DB" >"$WORK/alice.token"
ORG=$(cat "$WORK/org.token") ALICE=$(cat "$WORK/alice.token")
"$RB" serve --data "$DATA" --db "$DB" --port 0 --port-file "$WORK/port" --workers 1 >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || fail "server did not start"
URL=http://127.0.0.1:$(cat "$WORK/port")
uploads() { $PY -c "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute('select count(*) from uploads').fetchone()[0])" "$WORK/c.db"; }

# ---- a file of no track of the phase: refused by name, nothing uploaded
mkdir "$WORK/stray"; cp "$WORK/recon/file_brain_AXT2_001.h5" "$WORK/stray/"
cp "$WORK/recon/file_brain_AXT2_001.h5" "$WORK/stray/file_brain_AXPD_999.h5"
if "$RB" submit "$WORK/stray" --server "$URL" --token "$ALICE" >"$WORK/stray.json" 2>"$WORK/stray.log"; then
  fail "a file of no track was submitted"
fi
grep -q "file_brain_AXPD_999.h5" "$WORK/stray.log" || fail "the stray file is not named: $(cat "$WORK/stray.log")"
[ "$(uploads)" = 0 ] || fail "bytes uploaded before the refusal"

# ---- mixed 4X/8X directory, no --track: two submissions, one JSON document, both scored
"$RB" submit "$WORK/recon" --server "$URL" --token "$ALICE" --data "$DATA" --wait 120 \
  >"$WORK/submit.json" 2>"$WORK/submit.log" || fail "submit failed: $(cat "$WORK/submit.log")"
$PY - "$WORK/submit.json" <<'PYEOF' || fail "submit output: $(cat "$WORK/submit.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())   # the whole of stdout is one document
subs = {s["track"]: s for s in d["submissions"]}
assert d["phase"] == "test" and sorted(subs) == ["multicoil_4x", "multicoil_8x"], d
assert all(s["state"] == "scored" for s in subs.values()), [s["state"] for s in subs.values()]
assert all("quota" in s for s in subs.values())
PYEOF
for trk in multicoil_4x multicoil_8x; do
  n=$(curl -sS "$URL/api/leaderboard/test/$trk" | $PY -c "import json,sys;print(len(json.load(sys.stdin)['entries']))")
  [ "$n" = 1 ] || fail "$trk leaderboard has $n rows"
done
[ "$(ls -A "$WORK/recon" | grep -vc '\.h5$')" = 0 ] || fail "submit wrote into the reconstruction directory: $(ls -A "$WORK/recon")"
[ -d "$XDG_STATE_HOME/reconbench/uploads" ] || fail "no state directory under \$XDG_STATE_HOME"
[ -z "$(ls -A "$XDG_STATE_HOME/reconbench/uploads")" ] || fail "the resume state outlived the submissions"

# ---- again after changing one 8X file: multicoil_4x is a duplicate (reported, not charged),
# multicoil_8x is submitted
$PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['reconstruction'][0,0,0]+=1e-6" "$WORK/recon/file_brain_AXT1_003.h5"
"$RB" submit "$WORK/recon" --server "$URL" --token "$ALICE" >"$WORK/again.json" 2>>"$WORK/submit.log" \
  || fail "resubmission failed: $(tail -5 "$WORK/submit.log")"
$PY - "$WORK/again.json" <<'PYEOF' || fail "resubmission output: $(cat "$WORK/again.json")"
import json, sys
subs = {s["track"]: s for s in json.loads(open(sys.argv[1]).read())["submissions"]}
assert subs["multicoil_4x"]["state"] == "duplicate" and "id" not in subs["multicoil_4x"], subs["multicoil_4x"]
assert "duplicate" in subs["multicoil_4x"]["error"]
assert subs["multicoil_8x"]["state"] in ("queued", "evaluating", "scored"), subs["multicoil_8x"]["state"]
PYEOF
if "$RB" submit "$WORK/recon" --server "$URL" --token "$ALICE" --phase final >/dev/null 2>"$WORK/phase.log"; then fail "unknown phase accepted"; fi
grep -q "unknown phase" "$WORK/phase.log" || fail "unknown phase: $(cat "$WORK/phase.log")"

# ---- explicit --track with --wait: still one document (the submission)
"$RB" submit "$WORK/stray" --server "$URL" --token "$ALICE" --track multicoil_4x --wait 120 \
  >"$WORK/one.json" 2>>"$WORK/submit.log" || true
$PY -c "import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d['track']=='multicoil_4x' and 'id' in d" "$WORK/one.json" \
  || fail "--track --wait output is not one JSON submission: $(cat "$WORK/one.json")"

# ---- who may submit where is asked first: nothing is uploaded when the answer is no
U0=$(uploads)
# An organiser's token (organisers submit baselines, not entries): refused before any upload.
if "$RB" submit "$WORK/recon" --server "$URL" --token "$ORG" >/dev/null 2>"$WORK/org.log"; then fail "an organiser submitted"; fi
grep -q "only participants submit" "$WORK/org.log" || fail "organiser refusal: $(cat "$WORK/org.log")"
[ "$(uploads)" = "$U0" ] || fail "an organiser's files were uploaded before the refusal"
curl -sS -X POST -H "Authorization: Bearer $ORG" "$URL/api/admin/phases/test/close" >/dev/null
if "$RB" submit "$WORK/recon" --server "$URL" --token "$ALICE" >"$WORK/closed.json" 2>"$WORK/closed.log"; then
  fail "submitted to a closed phase"
fi
grep -q "phase 'test' is closed" "$WORK/closed.log" || fail "the refusal does not name the phase: $(cat "$WORK/closed.log")"
[ "$(uploads)" = "$U0" ] || fail "bytes uploaded to a closed phase"
echo "submit: mixed 4X/8X directory -> 2 scored submissions, one JSON document; stray file and closed phase refused before upload"
