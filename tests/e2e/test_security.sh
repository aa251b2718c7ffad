#!/usr/bin/env bash
# Issue 15 end to end: each attack found by attacking a fresh `reconbench serve` (SQLite,
# loopback) with a participant token, run against a real server process, and its refusal --
# the HTTP status, and that nothing was stored or scored (read back from the database and
# the blob store). docs/security.md lists what each step covers.
#   1. HDF5 indirection built with h5py: ExternalLink (absolute, and relative from the blob
#      store into the data directory), a VirtualLayout over the ground truth, external raw
#      storage (external=[(path, offset, size)]), a soft link to a missing object
#   2. slow clients: a per-address connection cap (429), a slow-loris request and a PUT whose
#      body never comes are closed, /api/health answers throughout
#   3. a refused multipart submission leaves no blob; uploads after the phases closed: 403
#   4. lock-outs per (account, address) behind a trusted proxy; a spoofed X-Forwarded-For
#      from anyone else changes nothing
#   5. challenge scores hidden after close until the organisers publish the final results
#   6. huge JSON numbers: 400, and no log line longer than 2000 bytes
#   7. a refused registration leaves no account;  8. logout revokes the token
#   9. the static route serves the UI only; an unknown study is 404
#  10. submission descriptions stay private; organisers see outlier flags
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir security15

# Data: the data directory is WORK/data, so the default blob store is WORK/blobs and a link
# "../../data/ground_truth/..." from a blob (WORK/blobs/ab/cdef...) reaches the ground truth.
$PY - "$WORK" <<'PYEOF'
import json, os, sys
import numpy as np, h5py
root = sys.argv[1]; data = os.path.join(root, "data")
files = [("multicoil_test", "file_brain_AXT2_001.h5", "AXT2", None, 2),
         ("multicoil_challenge", "file_brain_AXT2_101.h5", "AXT2", "multicoil_4x", 2)]
man = {"seed": 1, "profile": "sec15", "files": []}
rng = np.random.default_rng(1)
yy, xx = np.mgrid[0:32, 0:32]
for k, (split, name, contrast, track, slices) in enumerate(files):
    vol = np.stack([np.where(((yy - 16) / 11.0) ** 2 + ((xx - 16) / 12.0) ** 2 < 1,
                             1e-4 * (0.6 + 0.4 * np.cos(xx / 4.0 + s + k)), 2e-6) for s in range(slices)]).astype(np.float32)
    gt = f"ground_truth/{split}/{name}"
    os.makedirs(os.path.join(data, "ground_truth", split), exist_ok=True)
    with h5py.File(os.path.join(data, gt), "w") as f:
        f["reconstruction_rss"] = vol
        f.attrs["acquisition"] = contrast
    man["files"].append({"file": f"{split}/{name}", "split": split, "track": track, "contrast": contrast,
                         "vendor": "siemens", "field_t": 3.0, "coils": 4, "slices": slices, "recon": [32, 32],
                         "acceleration": 4, "lesions": [], "ground_truth": gt})
    for team, noise in (("good", 0.05), ("other", 0.3)):
        d = os.path.join(root, f"sub-{team}-{split}"); os.makedirs(d, exist_ok=True)
        with h5py.File(os.path.join(d, name), "w") as f:
            f["reconstruction"] = np.maximum(vol + noise * 1e-4 * rng.standard_normal(vol.shape), 0).astype(np.float32)
json.dump(man, open(os.path.join(data, "manifest.json"), "w"), indent=1)

# The attacks on the test volume's ground truth.
name = "file_brain_AXT2_001.h5"
gt = os.path.join(data, "ground_truth/multicoil_test", name)
with h5py.File(gt, "r") as g:
    shape, offset = g["reconstruction_rss"].shape, g["reconstruction_rss"].id.get_offset()
def attack(kind, make):
    d = os.path.join(root, "attack-" + kind); os.makedirs(d)
    with h5py.File(os.path.join(d, name), "w") as f:
        make(f)
attack("elink-absolute", lambda f: f.__setitem__("reconstruction", h5py.ExternalLink(gt, "/reconstruction_rss")))
attack("elink-relative", lambda f: f.__setitem__("reconstruction", h5py.ExternalLink(
    "../../data/ground_truth/multicoil_test/" + name, "/reconstruction_rss")))
def vds(f):
    layout = h5py.VirtualLayout(shape=shape, dtype="f4")
    layout[...] = h5py.VirtualSource(gt, "reconstruction_rss", shape=shape)
    f.create_virtual_dataset("reconstruction", layout)
attack("virtual", vds)
attack("external", lambda f: f.create_dataset("reconstruction", shape=shape, dtype="f4",
                                              external=[(gt, offset, int(np.prod(shape)) * 4)]))
attack("softlink", lambda f: f.__setitem__("reconstruction", h5py.SoftLink("/no/such/object")))
# Sanity: each works on an unprotected reader (h5py reads the ground truth through it).
for kind in ("elink-absolute", "virtual", "external"):
    with h5py.File(os.path.join(root, "attack-" + kind, name), "r") as f, h5py.File(gt, "r") as g:
        assert np.array_equal(f["reconstruction"][...], g["reconstruction_rss"][...]), kind
PYEOF
DATA=$WORK/data
DB="sqlite:$WORK/challenge.db"
"$RB" challenge add-user org --role organiser --data "$DATA" --db "$DB" >"$WORK/org.token"
ORG=$(cat "$WORK/org.token")
"$RB" challenge add-user rad --role reader --data "$DATA" --db "$DB" >"$WORK/reader.token"
READER=$(cat "$WORK/reader.token")
# 127.0.0.1 is the "reverse proxy" (trusted X-Forwarded-For); attackers connect from other
# loopback addresses (127.0.0.0/8), which get the per-address connection cap of 4.
"$RB" serve --data "$DATA" --db "$DB" --port 0 --port-file "$WORK/port" --workers 1 --lease 5 --http-threads 8 \
  --max-connections-per-address 4 --request-timeout 20 --trusted-proxy 127.0.0.1 >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || fail "server did not start"
PORT=$(cat "$WORK/port"); URL=http://127.0.0.1:$PORT
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
jfield() { $PY -c "import json,sys; d=json.load(open('$WORK/body')); print(eval('d' + sys.argv[1]))" "$1"; }
sql() { $PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$WORK/challenge.db" "$1"; }
blob_files() { find "$WORK/blobs" -type f -not -path '*/uploads/*' | wc -l; }
register() {  # USER TEAM -> token
  curl -sS -X POST "$URL/api/register" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"pw-$1-secret\",\"team\":\"$2\"}" | $PY -c "import json,sys; print(json.load(sys.stdin)['token'])"
}
submit() {  # TOKEN DIR PHASE [extra curl args] -> HTTP code, body in $WORK/body
  local tok=$1 dir=$2 phase=$3; shift 3
  local args=(); for f in "$dir"/*.h5; do args+=(-F "file=@$f;filename=$(basename "$f")"); done
  code -X POST -H "Authorization: Bearer $tok" -F "phase=$phase" -F track=multicoil_4x "${args[@]}" "$@" "$URL/api/submissions"
}
wait_done() {  # TOKEN ID -> final state JSON in $WORK/body
  for _ in $(seq 600); do
    code -H "Authorization: Bearer $1" "$URL/api/submissions/$2" >/dev/null
    case "$(jfield "['state']")" in scored|failed) return 0 ;; esac
    sleep 0.1
  done
  fail "submission $2 still $(jfield "['state']")"
}
MAL=$(register mallory "Team Mallory")

# ---- 1. HDF5 indirection: refused by the validator, nothing scored
for kind in elink-absolute elink-relative virtual external softlink; do
  c=$(submit "$MAL" "$WORK/attack-$kind" test)
  [ "$c" = 202 ] || fail "$kind: HTTP $c $(cat "$WORK/body")"
  id=$(jfield "['id']"); wait_done "$MAL" "$id"
  [ "$(jfield "['state']")" = failed ] || fail "$kind was scored: $(cat "$WORK/body")"
  $PY -c "import json; v=json.load(open('$WORK/body'))['validation']; assert any(e['kind']=='unsafe' for e in v['errors']), v; assert v['confinement'] in ('landlock','namespace'), v" \
    || fail "$kind: no 'unsafe' error or no confinement: $(cat "$WORK/body")"
  [ "$(sql "SELECT COUNT(*) FROM scores WHERE submission_id=$id")" = 0 ] || fail "$kind: a score row exists"
  echo "refused: $kind ($(jfield "['validation']['errors'][0]['reason']"))"
done
c=$(submit "$MAL" "$WORK/sub-good-multicoil_test" test); [ "$c" = 202 ] || fail "control submission: $c"
id=$(jfield "['id']"); wait_done "$MAL" "$id"
[ "$(jfield "['state']")" = scored ] || fail "a plain submission was not scored: $(cat "$WORK/body")"
GOOD_SHA=$(sql "SELECT sha256 FROM submission_files WHERE submission_id=$id")

# ---- 2. slow clients
$PY - "$PORT" <<'PYEOF' || fail "slow clients"
import json, socket, sys, threading, time, urllib.request
port = int(sys.argv[1])
def conn(src):
    s = socket.socket(); s.bind((src, 0)); s.connect(("127.0.0.1", port)); return s
# The per-address cap: 4 trickling connections from 127.0.0.2, a 5th is refused at once.
slow = [conn("127.0.0.2") for _ in range(4)]
for s in slow: s.sendall(b"GET /api/hea")
time.sleep(0.5)
fifth = conn("127.0.0.2"); fifth.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"); fifth.settimeout(10)
assert fifth.recv(100).startswith(b"HTTP/1.1 429"), "5th connection from one address not refused"
# A PUT announcing 10 MB and sending 10 bytes, from another address.
put = conn("127.0.0.3"); put.sendall(b"PUT /api/uploads/1?offset=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n0123456789")
t0 = time.time()
def trickle():  # one byte every 2 s, as the issue's attacker did (every 5 s)
    for _ in range(30):
        try:
            for s in slow: s.send(b"l")
        except OSError: return
        time.sleep(2)
threading.Thread(target=trickle, daemon=True).start()
# Health answers throughout (from 127.0.0.1).
for _ in range(5):
    t = time.time(); urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10).read()
    assert time.time() - t < 3, "health slow while slow clients hold connections"
    time.sleep(1)
# The server closes the slow ones (stall: < 1 KiB in 10 s).
for s in slow + [put]:
    s.settimeout(40)
    try: assert s.recv(100) == b"", "slow connection got data"
    except ConnectionResetError: pass
print(f"slow clients: cap refused the 5th, all closed by the server within {time.time() - t0:.0f} s")
PYEOF

# ---- 3. a refused multipart submission stores nothing
curl -sS -X PUT -H "Authorization: Bearer $ORG" -H 'Content-Type: application/json' -d '{"per_day": 1}' "$URL/api/admin/limits" >/dev/null
before=$(blob_files)
c=$(submit "$MAL" "$WORK/sub-other-multicoil_test" test)
[ "$c" = 429 ] || fail "submission over quota: HTTP $c"
[ "$(blob_files)" = "$before" ] || fail "a refused submission left blobs ($before -> $(blob_files))"
curl -sS -X PUT -H "Authorization: Bearer $ORG" -H 'Content-Type: application/json' -d '{"per_day": 5}' "$URL/api/admin/limits" >/dev/null

# ---- 10. descriptions private; outliers flagged for organisers: Ben submits Mallory's bytes
BEN=$(register ben "Team Ben")
c=$(submit "$BEN" "$WORK/sub-good-multicoil_test" test --form-string "description=<script>alert(1)</script> our method")
[ "$c" = 202 ] || fail "copy submission: $c"
COPY=$(jfield "['id']"); wait_done "$BEN" "$COPY"; [ "$(jfield "['state']")" = scored ] || fail "copy not scored"
code "$URL/api/leaderboard/test/multicoil_4x" >/dev/null
! grep -q 'description\|<script>' "$WORK/body" || fail "descriptions in the public leaderboard"
code -H "Authorization: Bearer $ORG" "$URL/api/leaderboard/test/multicoil_4x" >/dev/null
grep -q 'our method' "$WORK/body" || fail "organisers do not see descriptions"
code -H "Authorization: Bearer $ORG" "$URL/api/submissions" >/dev/null
$PY -c "import json; s={x['id']: x for x in json.load(open('$WORK/body'))}; f=s[$COPY]['flags']['shared_files']; assert f[0]['team']=='Team Mallory', f" \
  || fail "identical files across teams not flagged: $(head -c 600 "$WORK/body")"
code -H "Authorization: Bearer $BEN" "$URL/api/submissions/$COPY" >/dev/null
! grep -q '"flags"' "$WORK/body" || fail "a participant sees the outlier flags"

# ---- 4. lock-outs: the attacker behind the proxy is delayed, the owner is not
VIC=$(register victim "Team Victim")
login() { code -X POST -H "X-Forwarded-For: $1" -H 'Content-Type: application/json' -d "{\"username\":\"victim\",\"password\":\"$2\"}" "$URL/api/login"; }
# Wrong passwords until the delay starts (5 free), then the right one is refused too. The
# attacker puts the owner's address first; only the right-most untrusted entry counts.
n=0; while [ "$(login "198.51.100.7, 203.0.113.66" wrong)" != 429 ]; do n=$((n + 1)); [ $n -lt 12 ] || fail "attacker never delayed"; done
[ $n -ge 6 ] || fail "delayed after $n failures (5 are free)"
[ "$(login 203.0.113.66 pw-victim-secret)" = 429 ] || fail "attacker not delayed"
[ "$(login 198.51.100.7 pw-victim-secret)" = 200 ] || fail "owner locked out by the attacker: $(cat "$WORK/body")"
# From an untrusted address, X-Forwarded-For is ignored: rotating it evades nothing.
spoof() { curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.9 -X POST -H "X-Forwarded-For: 10.0.0.$1" \
          -H 'Content-Type: application/json' -d '{"username":"victim","password":"wrong"}' "$URL/api/login"; }
n=0; while [ "$(spoof $n)" != 429 ]; do n=$((n + 1)); [ $n -lt 12 ] || fail "a spoofed X-Forwarded-For escaped the delay"; done

# ---- 5. unblinding: challenge scores hidden after close, until the organisers publish
for t in "$MAL:good" "$BEN:other"; do
  c=$(submit "${t%%:*}" "$WORK/sub-${t##*:}-multicoil_challenge" challenge); [ "$c" = 202 ] || fail "challenge submission: $c"
  wait_done "${t%%:*}" "$(jfield "['id']")"; [ "$(jfield "['state']")" = scored ] || fail "challenge submission not scored"
done
code -X POST -H "Authorization: Bearer $ORG" "$URL/api/admin/phases/challenge/close" >/dev/null
for tok in "" "$READER" "$MAL"; do
  c=$(code ${tok:+-H "Authorization: Bearer $tok"} "$URL/api/leaderboard/challenge/multicoil_4x")
  [ "$c" = 200 ] && [ "$(jfield "['hidden']")" = True ] || fail "challenge leaderboard visible after close ($c)"
done
grep -q "hidden from readers" "$RECONBENCH_SOURCE_DIR/web/reader.html" || fail "the reader page does not say so"
[ "$(code -X POST -H "Authorization: Bearer $ORG" "$URL/api/admin/phases/challenge/publish")" = 409 ] || fail "published an unread study"
[ "$(code -X POST -H "Authorization: Bearer $ORG" -H 'Content-Type: application/json' -d '{"force": true}' \
     "$URL/api/admin/phases/challenge/publish")" = 200 ] || fail "publish"
code "$URL/api/leaderboard/challenge/multicoil_4x" >/dev/null
[ "$(jfield "['entries'].__len__()")" = 2 ] || fail "published results not shown"
# After close, no new uploads (the issue: 201 after the phase closed).
code -X POST -H "Authorization: Bearer $ORG" "$URL/api/admin/phases/test/close" >/dev/null
[ "$(code -X POST -H "Authorization: Bearer $MAL" -H 'Content-Type: application/json' \
     -d "{\"filename\":\"x.h5\",\"size\":100,\"sha256\":\"$GOOD_SHA\"}" "$URL/api/uploads")" = 403 ] || fail "upload after close"

# ---- 6. huge JSON numbers: 400, logs clipped
echo '{"filename":"x.h5","size":1e400,"sha256":"x"}' >"$WORK/n1.json"
{ printf '{"filename":"x.h5","sha256":"x","size":'; head -c 1000000 /dev/zero | tr '\0' 7; printf '}'; } >"$WORK/n2.json"
for f in n1 n2; do
  [ "$(code -X POST -H "Authorization: Bearer $MAL" -H 'Content-Type: application/json' --data-binary @"$WORK/$f.json" "$URL/api/uploads")" = 400 ] \
    || fail "huge number ($f): $(head -c 200 "$WORK/body")"
done
[ "$(code -X PUT -H "Authorization: Bearer $ORG" -H 'Content-Type: application/json' -d '{"per_day":1e30}' "$URL/api/admin/limits")" = 400 ] \
  || fail "per_day 1e30"

# ---- 7. a refused registration leaves no account
[ "$(code -X POST -H 'Content-Type: application/json' -d '{"username":"copycat","password":"copycat-pw","team":"Team Ben"}' "$URL/api/register")" = 400 ] \
  || fail "a taken team name was accepted"
[ "$(sql "SELECT COUNT(*) FROM users WHERE username='copycat'")" = 0 ] || fail "the refused registration left its account"

# ---- 8. logout revokes the token
code -X POST -H 'Content-Type: application/json' -d '{"username":"ben","password":"pw-ben-secret"}' "$URL/api/login" >/dev/null
T=$(jfield "['token']")
[ "$(code -X POST -H "Authorization: Bearer $T" "$URL/api/logout")" = 200 ] || fail "logout"
[ "$(code -H "Authorization: Bearer $T" "$URL/api/me")" = 401 ] || fail "token alive after logout"

# ---- 9. static route: the UI only
for p in /package.json /package-lock.json /node_modules/playwright-core/package.json "/index.html%00.png" "/%2e%2e/CMakeLists.txt"; do
  [ "$(code --path-as-is "$URL$p")" = 404 ] || fail "static route served $p"
done
[ "$(code "$URL/index.html")" = 200 ] || fail "index.html"
[ "$(code -H "Authorization: Bearer $READER" "$URL/api/studies/999/cases")" = 404 ] || fail "unknown study"

# ---- logs: no user-supplied megabyte in a log line
[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$WORK/serve.log")" -lt 2000 ] || fail "a log line over 2000 bytes"
echo "security e2e (issue 15) OK"
