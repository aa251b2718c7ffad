# The tiny challenge dataset of the server e2e scripts, in the simulator's layout (run with
# Debian's python3, which sees numpy/h5py): ROOT/data (manifest.json, ground truth of two
# multicoil_test and two multicoil_challenge volumes, 48x48) and ROOT/sub-TEAM-SPLIT
# (reconstructions with 2%, 20% and 60% noise for TEAM good, fair, poor).
#   tiny_dataset.py ROOT [TEAMS]   TEAMS: comma-separated, default good,fair
import json, os, sys
import numpy as np, h5py
root = sys.argv[1]; data = os.path.join(root, "data")
teams = sys.argv[2].split(",") if len(sys.argv) > 2 else ["good", "fair"]
noise_of = {"good": 0.02, "fair": 0.2, "poor": 0.6}
files = [("multicoil_test", "file_brain_AXT2_001.h5", "AXT2", None, 4, 2),
         ("multicoil_test", "file_brain_AXFLAIR_002.h5", "AXFLAIR", None, 4, 3),
         ("multicoil_challenge", "file_brain_AXT2_101.h5", "AXT2", "multicoil_4x", 4, 2),
         ("multicoil_challenge", "file_brain_AXT1POST_102.h5", "AXT1POST", "multicoil_4x", 4, 2)]
man = {"seed": 1, "profile": "e2e", "files": []}
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:48, 0:48]
for k, (split, name, contrast, track, acc, slices) in enumerate(files):
    vol = np.stack([np.where(((yy - 24) / 16.0) ** 2 + ((xx - 24) / 18.0) ** 2 < 1,
                             1e-4 * (0.6 + 0.4 * np.cos(xx / 5.0 + s + k) * np.sin(yy / 7.0)), 2e-6)
                    for s in range(slices)]).astype(np.float32)
    gt = f"ground_truth/{split}/{name}"
    os.makedirs(os.path.join(data, "ground_truth", split), exist_ok=True)
    with h5py.File(os.path.join(data, gt), "w") as f:
        f["reconstruction_rss"] = vol
        f.attrs["acquisition"] = contrast
        f.attrs["max"] = float(vol.max())
    man["files"].append({"file": f"{split}/{name}", "split": split, "track": track, "contrast": contrast,
                         "vendor": "siemens", "field_t": 3.0, "coils": 4, "slices": slices, "recon": [48, 48],
                         "acceleration": acc, "lesions": [], "ground_truth": gt})
    for team, noise in ((t, noise_of[t]) for t in teams):
        d = os.path.join(root, f"sub-{team}-{split}"); os.makedirs(d, exist_ok=True)
        with h5py.File(os.path.join(d, name), "w") as f:
            f["reconstruction"] = np.maximum(vol + noise * 1e-4 * rng.standard_normal(vol.shape), 0).astype(np.float32)
json.dump(man, open(os.path.join(data, "manifest.json"), "w"), indent=1)
