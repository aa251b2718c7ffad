"""reconbench for Python: fastMRI's metrics, masks, reconstructions, files and a simulator,
computed by reconbench's C++ library in process (numpy arrays in and out, the GIL released
around heavy work, Ctrl-C honoured). API reference: docs/python.md.

    import reconbench as rb
    rb.ssim(gt, pred)                         # fastmri.evaluate.ssim, exactly
    mask, nlf = rb.mask("equispaced_fraction", 320, [0.08], [4], seed_file="file.h5")
    img = rb.recon("sense", kspace, mask, header=xml)

Errors raise ValueError (bad input, same message as the CLI), RuntimeError (a reconbench bug)
or KeyboardInterrupt.
"""
import itertools

from ._reconbench import *  # noqa: F401,F403
from ._reconbench import __version__, _simulate_volume  # noqa: F401


def _slice_sample(vol, s):
    """fastMRI SliceDataset's sample of slice s: kspace [coil read phase], mask None (fully
    sampled), target [y x], attrs (file attributes + header metadata), fname, slice_num.
    The arrays are copies, so that a kept sample does not keep its whole volume alive."""
    attrs = dict(vol["attrs"])
    attrs.update(vol["metadata"])
    return {
        "kspace": vol["kspace"][s].copy(),
        "mask": None,
        "target": vol["reconstruction_rss"][s].copy(),
        "attrs": attrs,
        "fname": vol["fname"],
        "slice_num": s,
        "ismrmrd_header": vol["ismrmrd_header"],
    }


def simulate_slice(profile="ci", seed=0, volume=0, slice=None, split="train"):
    """One fully sampled simulated slice as a fastMRI SliceDataset sample (a dict with
    kspace complex64 [coil read phase], mask None, target float32 [y x] = reconstruction_rss,
    attrs incl. max, norm, padding_left/right, encoding_size, recon_size, fname, slice_num,
    ismrmrd_header).

    Volume `volume` of the stream of (profile, seed, split): the first volumes are exactly
    the files `reconbench simulate --profile P --seed S` writes for that split, later ones
    fresh subjects. slice None: the middle slice. The whole volume is simulated (cost of
    `reconbench simulate` per volume); SimulatedSlices yields all its slices.
    """
    vol = _simulate_volume(profile, seed, split, volume)
    n = vol["kspace"].shape[0]
    s = n // 2 if slice is None else slice
    if not -n <= s < n:
        raise ValueError(f"simulate_slice: slice {slice} out of range ({n} slices in {vol['fname']})")
    return _slice_sample(vol, s % n)


class SimulatedSlices:
    """An iterable of fresh simulated slices (fastMRI SliceDataset samples, see
    simulate_slice): every slice of volume 0, 1, 2, ... of the stream of (profile, seed,
    split), `volumes` volumes or without end. Deterministic: the same arguments give the same
    slices whatever the thread count.

    As a PyTorch source (reconbench itself does not import torch):

        class Sim(torch.utils.data.IterableDataset):
            def __iter__(self):
                w = torch.utils.data.get_worker_info()
                src = reconbench.SimulatedSlices("small", seed=1)
                if w is not None:
                    src = src.shard(w.id, w.num_workers)
                for s in src:
                    yield transform(s["kspace"], s["mask"], s["target"], s["attrs"],
                                    s["fname"], s["slice_num"])
    """

    def __init__(self, profile="ci", seed=0, split="train", volumes=None, shard_index=0,
                 shard_count=1):
        if shard_count < 1 or not 0 <= shard_index < shard_count:
            raise ValueError(f"SimulatedSlices: shard {shard_index} of {shard_count} is not valid")
        if volumes is not None and volumes < 0:
            raise ValueError(f"SimulatedSlices: volumes must be >= 0, got {volumes}")
        self.profile, self.seed, self.split, self.volumes = profile, seed, split, volumes
        self.shard_index, self.shard_count = shard_index, shard_count

    def shard(self, index, count):
        """The volumes k with k % count == index (one DataLoader worker's share)."""
        return SimulatedSlices(self.profile, self.seed, self.split, self.volumes, index, count)

    def __iter__(self):
        ks = itertools.count(self.shard_index, self.shard_count) if self.volumes is None \
            else range(self.shard_index, self.volumes, self.shard_count)
        for k in ks:
            vol = _simulate_volume(self.profile, self.seed, self.split, k)
            for s in range(vol["kspace"].shape[0]):
                yield _slice_sample(vol, s)
