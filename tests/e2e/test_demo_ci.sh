#!/usr/bin/env bash
# The demo pipeline end to end on the ci profile: simulate -> reconstruct -> evaluate -> rank
# -> SIMULATED reader panel -> report. Checks that
#   - the report's numbers (index.html data-v cells, report.json) equal the evaluation output
#     files, recomputed independently with numpy (means, type-7 quantile intervals, mean/SD);
#   - every figure exists and is a valid PNG (signature) or SVG (XML with an <svg> root);
#   - the ordering findings hold: 8X below 4X for every method on the SAME volumes (the
#     simulated validation volumes undersampled at both rates: the ci challenge split has one
#     different subject per track, so comparing tracks would compare brains, not rates);
#     the best learned model (VarNet, else U-Net) above zero-filled on masked SSIM on both
#     main tracks;
#   - the reader panel is labelled simulated;
#   - `reconbench report` regenerates the same numbers from DIR/results alone;
#   - the demo's challenge database, served by `reconbench serve`, gives public leaderboards
#     (the phase is closed) whose rows carry per-contrast and per-vendor cells agreeing with
#     the evaluation files.
set -euo pipefail
: "${RECONBENCH:?set RECONBENCH to the reconbench binary}"
PY=/usr/bin/python3
TMP=$(mktemp -d)
SERVE_PID=
trap '[ -z "$SERVE_PID" ] || kill -9 "$SERVE_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

start=$(date +%s)
"$RECONBENCH" demo --profile ci --seed 1 --out "$TMP/demo" > "$TMP/stdout.txt" 2> "$TMP/stderr.txt" || {
  echo "FAIL: reconbench demo exited with $?"; tail -40 "$TMP/stderr.txt"; exit 1; }
echo "demo --profile ci: $(( $(date +%s) - start )) s"
cat "$TMP/stdout.txt"
grep -q "report:" "$TMP/stdout.txt" || { echo "FAIL: demo did not print the report path"; exit 1; }
grep -q "leaderboard" "$TMP/stdout.txt" || { echo "FAIL: demo did not print leaderboards"; exit 1; }

# The demo's challenge database through the server's API (no token: public view).
"$RECONBENCH" serve --data "$TMP/demo/data" --db "sqlite:$TMP/demo/challenge.db" --port 0 \
  --port-file "$TMP/port" --workers 0 --validators 0 > "$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "FAIL: reconbench serve did not start"; cat "$TMP/serve.log"; exit 1; }
for t in multicoil_4x multicoil_8x transfer_4x; do
  curl -fsS "http://127.0.0.1:$(cat "$TMP/port")/api/leaderboard/challenge/$t" > "$TMP/api-$t.json" || {
    echo "FAIL: GET /api/leaderboard/challenge/$t"; cat "$TMP/serve.log"; exit 1; }
done
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=

# Matched acceleration study: the same fully sampled volumes (ci validation split)
# undersampled at 4X and 8X, reconstructed by every method the demo ran (same settings as the
# demo's ci profile), scored with eval.
methods=$(cd "$TMP/demo/results/eval/multicoil_4x" && ls *.json | sed 's/\.json$//')
"$RECONBENCH" simulate --profile ci --seed 2 --out "$TMP/sim" > /dev/null 2>&1
echo "{" > "$TMP/matched.json"; first=1
for m in $methods; do
  params=()
  case $m in
    sense) params=(--param iter=10 --param kernel=3) ;;
    cs-wavelet|cs-tv) params=(--param iter=15 --param kernel=3) ;;
  esac
  entry="\"$m\": {"; sep=""
  for acc in 4 8; do
    cf=$([ $acc = 4 ] && echo 0.08 || echo 0.04)
    d="$TMP/matched/$acc"
    if [ ! -d "$d/in" ]; then
      "$RECONBENCH" undersample "$TMP/sim/multicoil_val" --out "$d/in" --targets "$d/gt" \
        --accelerations $acc --center-fractions $cf > /dev/null 2>&1
    fi
    "$RECONBENCH" recon --method "$m" "${params[@]}" "$d/in" --out "$d/$m" > /dev/null 2>&1 || {
      echo "FAIL: recon --method $m at ${acc}X on the matched volumes"; exit 1; }
    "$RECONBENCH" eval --target "$d/gt" --predictions "$d/$m" --json --out "$d/$m.json" > /dev/null 2>&1 || true
    ssim=$("$PY" -c "import json,sys;d=json.load(open(sys.argv[1]));print(sum(v['ssim'] for v in d['volumes'])/len(d['volumes']))" "$d/$m.json")
    entry="$entry$sep\"$acc\": $ssim"; sep=", "
  done
  [ $first = 1 ] || echo "," >> "$TMP/matched.json"; first=0
  echo "$entry}" >> "$TMP/matched.json"
done
echo "}" >> "$TMP/matched.json"

# Regenerate from the results folder alone (data and reconstructions removed).
cp -r "$TMP/demo/results" "$TMP/results-copy"
"$RECONBENCH" report --results "$TMP/results-copy" --out "$TMP/report2" > /dev/null

"$PY" - "$TMP/demo" "$TMP/report2" <<'EOF'
import json, math, os, re, sys, glob
import xml.etree.ElementTree as ET
import numpy as np

demo, report2 = sys.argv[1], sys.argv[2]
res, rep = os.path.join(demo, "results"), os.path.join(demo, "report")
fails = []
def check(cond, msg):
    if not cond:
        fails.append(msg)

def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return b is None or math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))

# --- evaluation files -------------------------------------------------------------------
evals = {}
for f in sorted(glob.glob(os.path.join(res, "eval", "*", "*.json"))):
    variant, method = f.split(os.sep)[-2], os.path.basename(f)[:-5]
    evals.setdefault(variant, {})[method] = json.load(open(f))
for t in ["multicoil_4x", "multicoil_8x", "transfer_4x"]:
    check(t in evals and len(evals[t]) >= 2, f"eval results for track {t} with >= 2 methods")

def vals(ev, key):
    return np.array([v[key] for v in ev["volumes"] if v.get(key) is not None], dtype=float)

# --- the page's numbers -------------------------------------------------------------------
html = open(os.path.join(rep, "index.html")).read()
cells = {}
for m in re.finditer(r'data-k="([^"]+)"([^>]*)', html):
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', m.group(2)))
    cells[m.group(1)] = {k: float(v) for k, v in attrs.items()}
check(len(cells) > 20, f"index.html has numeric cells ({len(cells)})")

lbs = {}
for t in ["multicoil_4x", "multicoil_8x", "transfer_4x"]:
    lb = json.load(open(os.path.join(res, "leaderboard", t + ".json")))
    lbs[t] = lb
    prev = 2.0
    for row in lb["rows"]:
        ev = evals[t][row["method"]]
        for key in ["ssim", "ssim_masked", "psnr", "nmse"]:
            expect = float(np.mean(vals(ev, key)))
            # eval summary, leaderboard file and page agree
            check(close(ev["summary"]["all"][key]["mean"], expect),
                  f"{t}/{row['method']} eval summary {key} = mean of volumes")
            check(close(row[key], expect), f"{t}/{row['team']} leaderboard {key}: {row[key]} vs {expect}")
            c = cells.get(f"lb.{t}.{row['team']}.{key}")
            check(c is not None and close(c["data-v"], expect, 1e-12),
                  f"{t}/{row['team']} page {key}: {c} vs {expect}")
        check(row["ssim"] <= prev, f"{t} leaderboard ordered by SSIM")
        prev = row["ssim"]

# The stored leaderboard through the API: every ranked row has per-contrast and per-vendor
# cells (the challenge's scoring summary), their counts add up to the track's volumes and
# their means are those of the evaluation file's volumes of that contrast / vendor.
for t in ["multicoil_4x", "multicoil_8x", "transfer_4x"]:
    api = json.load(open(os.path.join(os.path.dirname(demo), f"api-{t}.json")))
    check(api.get("hidden") is False and api.get("closed") is True, f"API {t}: public after close")
    check([e["team"] for e in api["entries"]] == [r["team"] for r in lbs[t]["rows"]],
          f"API {t}: the leaderboard file is the database's: {[e['team'] for e in api['entries']]} "
          f"vs {[r['team'] for r in lbs[t]['rows']]}; run notes {json.load(open(os.path.join(res, 'run.json')))['notes']}")
    for e in api["entries"]:
        vols = evals[t][e["team"]]["volumes"]
        check(close(e["ssim"]["mean"], float(np.mean([v["ssim"] for v in vols]))), f"API {t}/{e['team']} SSIM")
        for key in ("by_contrast", "by_vendor"):
            groups = e.get(key, {})
            check(len(groups) > 0, f"API {t}/{e['team']}: {key} cells")
            check(sum(c["n"] for c in groups.values()) == len(vols), f"API {t}/{e['team']}: {key} counts")
            for g, c in groups.items():
                check(c["n"] > 0 and isinstance(c["ssim"], float), f"API {t}/{e['team']}/{g}: {key} SSIM cell")
                if key == "by_contrast":
                    xs = [v["ssim"] for v in vols if v["acquisition"] == g]
                    check(len(xs) == c["n"] and close(c["ssim"], float(np.mean(xs))),
                          f"API {t}/{e['team']}/{g}: per-contrast SSIM mean")

# Table III: mean and numpy 2.5/97.5 percentiles of per-volume SSIM, per contrast.
contrast = {"AXT1": "T1", "AXT1PRE": "T1", "AXT1POST": "T1POST", "AXT2": "T2", "AXFLAIR": "FLAIR"}
n_t3 = 0
for t, lb in lbs.items():
    for row in lb["rows"][:3]:
        ev = evals[t][row["method"]]
        groups = {"AVG": [v["ssim"] for v in ev["volumes"]]}
        for v in ev["volumes"]:
            groups.setdefault(contrast.get(v["acquisition"], "?"), []).append(v["ssim"])
        for g, xs in groups.items():
            if g == "?":
                continue
            c = cells.get(f"t3.{t}.{row['team']}.{g}.mean")
            check(c is not None, f"Table III cell {t}/{row['team']}/{g}")
            if c is None:
                continue
            n_t3 += 1
            check(close(c["data-v"], float(np.mean(xs)), 1e-12), f"Table III mean {t}/{row['team']}/{g}")
            check(close(c["data-lo"], float(np.percentile(xs, 2.5)), 1e-12), f"Table III lo {t}/{row['team']}/{g}")
            check(close(c["data-hi"], float(np.percentile(xs, 97.5)), 1e-12), f"Table III hi {t}/{row['team']}/{g}")
            check(int(c["data-count"]) == len(xs), f"Table III n {t}/{row['team']}/{g}")
check(n_t3 >= 9, f"Table III has cells for the finalists ({n_t3})")

# Table IV from the reader study file; the panel is labelled simulated.
rs = json.load(open(os.path.join(res, "reader_study.json")))
check(rs["simulated"] is True and "SIMULATED" in rs["label"], "reader study labelled simulated")
check("Simulated readers, not radiologists" in html, "page says the readers are simulated")
for t, st in rs["tracks"].items():
    check(all("simulated" in r for r in st["readers"]), f"{t}: readers named simulated")
    check(st["finalists"] == [r["method"] for r in lbs[t]["rows"][:3]], f"{t}: finalists = top 3 by SSIM")
    check(len(st["cases"]) >= 1, f"{t}: reader cases")
    for i, team in enumerate(st["finalists"]):
        ranks = [c["ranks"][j][i] for c in st["cases"] for j in range(len(st["readers"]))]
        c = cells.get(f"t4.{t}.{team}.rank.mean")
        check(c is not None and close(c["data-v"], float(np.mean(ranks)), 1e-12), f"Table IV rank mean {t}/{team}")
        if len(ranks) > 1:
            check(close(c["data-sd"], float(np.std(ranks, ddof=1)), 1e-12), f"Table IV rank SD {t}/{team}")
        for q in st["questions"]:
            lk = [c2["likert"][q][j][i] for c2 in st["cases"] for j in range(len(st["readers"]))]
            c = cells.get(f"t4.{t}.{team}.{q}.mean")
            check(c is not None and close(c["data-v"], float(np.mean(lk)), 1e-12), f"Table IV {q} {t}/{team}")
    check(f"kendall.{t}" in cells, f"Kendall's W shown for {t}")

# --- figures ---------------------------------------------------------------------------------
rj = json.load(open(os.path.join(rep, "report.json")))
ids = {f["id"] for f in rj["figures"]}
need = {"fig4_multicoil", "fig4_transfer"}
for t in ["multicoil_4x", "multicoil_8x", "transfer_4x"]:
    need |= {f"figS1_{t}", f"fig6_{t}", f"fig5_{t}"}
if "transfer_4x_nonorm" in evals:
    need.add("fig_transfer")
check(need <= ids, f"figures missing: {sorted(need - ids)}")
for f in rj["figures"]:
    p = os.path.join(rep, f["file"])
    check(os.path.exists(p) and os.path.getsize(p) > 0, f"figure file {p}")
    if not os.path.exists(p):
        continue
    if p.endswith(".png"):
        check(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n", f"{p}: PNG signature")
    else:
        try:
            root = ET.parse(p).getroot()
            check(root.tag.endswith("svg"), f"{p}: SVG root element ({root.tag})")
        except ET.ParseError as e:
            fails.append(f"{p}: not XML ({e})")
for src in re.findall(r'<img src="([^"]+)"', html):
    check(os.path.exists(os.path.join(rep, src)), f"index.html image {src} exists")

# Fig. 6 slice SSIM = the eval file's per-slice SSIM of that slice.
for t, f6 in rj.get("fig6", {}).items():
    for p in f6["panels"]:
        vol = [v for v in evals[t][p["team"]]["volumes"] if v["file"] == f6["file"]]
        check(len(vol) == 1, f"fig6 {t}: volume {f6['file']} evaluated")
        if vol:
            check(close(p["slice_ssim"], vol[0]["ssim_per_slice"][f6["slice"]], 1e-9),
                  f"fig6 {t}/{p['team']} slice SSIM {p['slice_ssim']} vs eval {vol[0]['ssim_per_slice'][f6['slice']]}")

# --- ordering findings -------------------------------------------------------------------------
mean = lambda t, m, k: float(np.mean(vals(evals[t][m], k)))
# 8X below 4X on the same volumes (matched study written by the shell part below).
matched = json.load(open(os.path.join(os.path.dirname(demo), "matched.json")))
for m, acc in sorted(matched.items()):
    print(f"matched volumes, {m}: 4X SSIM {acc['4']:.4f}, 8X SSIM {acc['8']:.4f}")
    check(acc["8"] < acc["4"], f"{m}: 8X SSIM {acc['8']:.4f} below 4X {acc['4']:.4f} on the same volumes")
check(set(matched) >= set(evals["multicoil_4x"]), f"matched study covers every demo method: {sorted(matched)}")
learned = [m for m in ("varnet", "unet") if m in evals["multicoil_4x"]]
check(len(learned) > 0, "no learned model (varnet/unet) ran: models/*_small.pt missing or method not registered")
check("zero-filled" in evals["multicoil_4x"], "zero-filled ran")
if learned and "zero-filled" in evals["multicoil_4x"]:
    best = learned[0]
    for t in ["multicoil_4x", "multicoil_8x"]:
        a, b = mean(t, best, "ssim_masked"), mean(t, "zero-filled", "ssim_masked")
        print(f"{t}: {best} masked SSIM {a:.4f} vs zero-filled {b:.4f}")
        check(a > b, f"{t}: {best} masked SSIM {a:.4f} above zero-filled {b:.4f}")

# --- regenerated report equals the demo's report -----------------------------------------------
rj2 = json.load(open(os.path.join(report2, "report.json")))
for key in ["leaderboards", "table3", "table4", "fig6", "transfer"]:
    check(json.dumps(rj.get(key), sort_keys=True) == json.dumps(rj2.get(key), sort_keys=True),
          f"report regenerated from results alone: {key} differs")

if fails:
    print("FAILED checks:\n  " + "\n  ".join(fails))
    sys.exit(1)
print(f"OK: {len(cells)} page numbers checked against the evaluation files, {len(rj['figures'])} figures valid")
EOF
