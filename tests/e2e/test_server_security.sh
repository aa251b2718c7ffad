#!/usr/bin/env bash
# Security checks of `reconbench serve` as a real process (issue #9; the route-by-route role
# checks, CSRF, HDF5 bomb and rate-limit unit tests are in tests/unit/server/
# test_server_security.cpp):
#   - the static file route does not leave the web directory (raw ../ and %2e%2e paths, sent
#     as-is), and ground truth / the data directory / the database are not served;
#   - brute force: wrong passwords and guessed tokens get 429 + Retry-After;
#   - a cross-site POST (Origin of another site) is refused, same-origin works;
#   - secrets are never logged: the passwords and tokens used in the run do not appear in
#     the server's or the worker's log (at debug verbosity of every request path we have).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_workdir security

$PY - "$WORK" <<'PYEOF'
import json, os, sys
import numpy as np, h5py
root = sys.argv[1]; data = os.path.join(root, "data")
name = "file_brain_AXT2_001.h5"
vol = np.full((2, 32, 32), 1e-4, np.float32)
os.makedirs(os.path.join(data, "ground_truth", "multicoil_test"))
with h5py.File(os.path.join(data, "ground_truth", "multicoil_test", name), "w") as f:
    f["reconstruction_rss"] = vol
    f.attrs["acquisition"] = "AXT2"
json.dump({"seed": 1, "profile": "sec", "files": [{"file": "multicoil_test/" + name, "split": "multicoil_test",
           "track": None, "contrast": "AXT2", "vendor": "siemens", "field_t": 3.0, "coils": 4, "slices": 2,
           "recon": [32, 32], "acceleration": 4, "lesions": [],
           "ground_truth": "ground_truth/multicoil_test/" + name}]}, open(os.path.join(data, "manifest.json"), "w"))
d = os.path.join(root, "sub"); os.makedirs(d)
with h5py.File(os.path.join(d, name), "w") as f:
    f["reconstruction"] = vol * 0.98
PYEOF
DATA=$WORK/data
DB="sqlite:$WORK/challenge.db"
"$RB" challenge add-user org --role organiser --data "$DATA" --db "$DB" >"$WORK/org.token"
ORG=$(cat "$WORK/org.token")
"$RB" serve --data "$DATA" --db "$DB" --port 0 --port-file "$WORK/port" --workers 1 --lease 5 >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || fail "server did not start"
HOST=127.0.0.1:$(cat "$WORK/port"); URL=http://$HOST
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }

# ---- the participant's life: register, log in, upload, submit, score (all secrets recorded)
PW="s3cret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
REG=$(curl -sS -X POST "$URL/api/register" -H 'Content-Type: application/json' \
      -d "{\"username\":\"eve\",\"password\":\"$PW\",\"team\":\"Team Eve\"}")
TOK=$(echo "$REG" | $PY -c "import json,sys; print(json.load(sys.stdin)['token'])")
TOK2=$(curl -sS -X POST "$URL/api/login" -H 'Content-Type: application/json' \
       -d "{\"username\":\"eve\",\"password\":\"$PW\"}" | $PY -c "import json,sys; print(json.load(sys.stdin)['token'])")
"$RB" submit "$WORK/sub" --server "$URL" --token "$TOK2" --track multicoil_4x --phase test \
  >"$WORK/submit.json" 2>"$WORK/submit.log" || true
SUB=$($PY -c "import json; print(json.load(open('$WORK/submit.json'))['id'])") || fail "submit: $(cat "$WORK/submit.json")"
for _ in $(seq 600); do
  st=$(curl -sS -H "Authorization: Bearer $TOK" "$URL/api/submissions/$SUB" | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])")
  [ "$st" = scored ] && break; [ "$st" = failed ] && fail "submission failed"; sleep 0.1
done
[ "$st" = scored ] || fail "submission not scored ($st)"
"$RB" worker --data "$DATA" --db "$DB" --once --id w1 >"$WORK/worker.log" 2>&1 || fail "worker"

# ---- static route: no way out of the web directory, no data served
for p in "/../CMakeLists.txt" "/../../etc/passwd" "/%2e%2e/CMakeLists.txt" "/%2e%2e%2f%2e%2e%2fetc%2fpasswd" \
         "/..%2fCMakeLists.txt" "/....//CMakeLists.txt" "/index.html/../../CMakeLists.txt" \
         "/ground_truth/multicoil_test/file_brain_AXT2_001.h5" "/manifest.json" "/challenge.db" "/%00"; do
  c=$(code --path-as-is "$URL$p")
  [ "$c" != 200 ] || fail "static route served $p"
  ! grep -q "cmake_minimum_required\|root:x:0" "$WORK/body" || fail "static route leaked a file for $p"
done
[ "$(code "$URL/index.html")" = 200 ] || fail "web UI not served"

# ---- CSRF: a cross-site page cannot change state, same-origin can
[ "$(code -X POST -H "Authorization: Bearer $TOK" -H 'Origin: http://evil.example' -H 'Content-Type: application/json' \
      -d '{"scope":"read"}' "$URL/api/tokens")" = 403 ] || fail "cross-origin POST accepted"
[ "$(code -X POST -H 'Origin: http://evil.example' -H 'Content-Type: text/plain' \
      -d '{"username":"csrf","password":"x"}' "$URL/api/register")" = 403 ] || fail "cross-origin register accepted"
[ "$(code -X POST -H "Authorization: Bearer $TOK" -H "Origin: $URL" -H 'Content-Type: application/json' \
      -d '{"scope":"read"}' "$URL/api/tokens")" = 201 ] || fail "same-origin POST refused"
TOK3=$($PY -c "import json; print(json.load(open('$WORK/body'))['token'])")

# ---- brute force: passwords per (account, address) with an escalating delay, tokens per
#      address -> 429 + Retry-After
n=0
while :; do  # 5 free failures, then a delay (1 s, doubling): loop until it shows
  c=$(code -X POST -H 'Content-Type: application/json' -d '{"username":"eve","password":"guess'"$n"'"}' "$URL/api/login")
  [ "$c" = 429 ] && break
  [ "$c" = 401 ] || fail "wrong password $n: $c"
  n=$((n + 1)); [ $n -lt 12 ] || fail "wrong passwords never delayed"
done
[ $n -ge 6 ] || fail "delayed after $n wrong passwords (5 are free)"
c=$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"username\":\"eve\",\"password\":\"$PW\"}" "$URL/api/login")
[ "$c" = 429 ] || fail "right password not delayed after $n wrong ones: $c"
grep -qi '^Retry-After: [1-9]' "$WORK/h" || fail "no Retry-After on 429"
FAILED=$n
n=0
for i in $(seq 50); do
  c=$(code -H "Authorization: Bearer rbt_1_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$URL/api/me")
  [ "$c" = 429 ] && { n=$i; break; }
  [ "$c" = 401 ] || fail "guessed token: $c"
done
[ "$n" -gt 0 ] || fail "guessed tokens never rate limited"
echo "rate limit: login delayed after $FAILED wrong passwords, tokens after $((n - 1 + FAILED)) failures from one address"

# ---- secrets never logged
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
for s in "$PW" "$TOK" "$TOK2" "$TOK3" "$ORG" "${TOK#rbt_*_}" "${ORG#rbt_*_}"; do
  for f in "$WORK/serve.log" "$WORK/worker.log" "$WORK/submit.log"; do
    ! grep -qF -- "$s" "$f" || fail "a secret appears in $(basename "$f")"
  done
done
# Only hashes are stored.
$PY - "$WORK/challenge.db" "$TOK" "$PW" <<'PYEOF' || fail "a secret is stored in clear in the database"
import os, sys
db = b"".join(open(p, "rb").read() for p in (sys.argv[1], sys.argv[1] + "-wal") if os.path.exists(p))
for s in sys.argv[2:]:
    secret = s.split("_")[-1] if s.startswith("rbt_") else s
    assert secret.encode() not in db, "clear secret in the db file"
PYEOF
echo "server security e2e OK"
