#!/usr/bin/env bash
# Browser tests of the challenge web UI (tests/web/test_web.mjs) in headless Debian Chromium
# driven by playwright-core from web/node_modules (`npm ci` in web/; install-deps does it).
# Screenshots: $RECONBENCH_BUILD_DIR/test-artifacts/web/*.png.
set -euo pipefail
RB=${RECONBENCH:?}
SRC=${RECONBENCH_SOURCE_DIR:?}
BUILD=${RECONBENCH_BUILD_DIR:?}
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium missing (apt-get install chromium; scripts/install-deps)" >&2; exit 1; }
if [ ! -d "$SRC/web/node_modules/playwright-core" ]; then
  echo "web/node_modules missing: running npm ci in web/" >&2
  (cd "$SRC/web" && npm ci --no-audit --no-fund) || { echo "FAIL: npm ci in web/ failed (offline?)" >&2; exit 1; }
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rb-web.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export RECONBENCH_PROGRESS=0

/usr/bin/python3 "$(dirname "$0")/tiny_dataset.py" "$WORK" good,fair,poor

export RB_WEB_WORK=$WORK RB_WEB_ARTIFACTS=$BUILD/test-artifacts/web
if ! node "$SRC/tests/web/test_web.mjs"; then
  echo "== serve.log"; tail -30 "$WORK/serve.log"; exit 1
fi
echo "screenshots: $RB_WEB_ARTIFACTS"
