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

/usr/bin/python3 - "$WORK" <<'PYEOF'
import json, os, sys
import numpy as np, h5py
root = sys.argv[1]; data = os.path.join(root, "data")
files = [("multicoil_test", "file_brain_AXT2_001.h5", "AXT2", None, 2),
         ("multicoil_test", "file_brain_AXFLAIR_002.h5", "AXFLAIR", None, 3),
         ("multicoil_challenge", "file_brain_AXT2_101.h5", "AXT2", "multicoil_4x", 2),
         ("multicoil_challenge", "file_brain_AXT1POST_102.h5", "AXT1POST", "multicoil_4x", 2)]
man = {"seed": 1, "profile": "web", "files": []}
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:48, 0:48]
for k, (split, name, contrast, track, slices) in enumerate(files):
    vol = np.stack([np.where(((yy - 24) / 16.0) ** 2 + ((xx - 24) / 18.0) ** 2 < 1,
                             1e-4 * (0.6 + 0.4 * np.cos(xx / 5.0 + s + k) * np.sin(yy / 7.0)), 2e-6)
                    for s in range(slices)]).astype(np.float32)
    gt = f"ground_truth/{split}/{name}"
    os.makedirs(os.path.join(data, "ground_truth", split), exist_ok=True)
    with h5py.File(os.path.join(data, gt), "w") as f:
        f["reconstruction_rss"] = vol; f.attrs["acquisition"] = contrast; f.attrs["max"] = float(vol.max())
    man["files"].append({"file": f"{split}/{name}", "split": split, "track": track, "contrast": contrast,
                         "vendor": "siemens", "slices": slices, "recon": [48, 48], "acceleration": 4,
                         "lesions": [], "ground_truth": gt})
    for team, noise in (("good", 0.02), ("fair", 0.2), ("poor", 0.6)):
        d = os.path.join(root, f"sub-{team}-{split}"); os.makedirs(d, exist_ok=True)
        with h5py.File(os.path.join(d, name), "w") as f:
            f["reconstruction"] = np.maximum(vol + noise * 1e-4 * rng.standard_normal(vol.shape), 0).astype(np.float32)
json.dump(man, open(os.path.join(data, "manifest.json"), "w"), indent=1)
PYEOF

export RB_WEB_WORK=$WORK RB_WEB_ARTIFACTS=$BUILD/test-artifacts/web
if ! node "$SRC/tests/web/test_web.mjs"; then
  echo "== serve.log"; tail -30 "$WORK/serve.log"; exit 1
fi
echo "screenshots: $RB_WEB_ARTIFACTS"
