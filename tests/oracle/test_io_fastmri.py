"""Oracle: reconbench's fastMRI HDF5 / BART / PNG I/O against h5py, numpy and BART.

(a) files written by reconbench are read by h5py with the datasets, dtypes, shapes, chunking
    and attribute types of a file that h5py writes in the real fastMRI layout;
(b) files written by h5py in the fastMRI layout (ISMRMRD header made with xml.etree in the
    ISMRMRD namespace) are read by reconbench: `info --json` reports the right shapes, attrs
    and padding, and `convert --to cfl` / `--to png` give the numbers numpy computes.
Run by ctest with /usr/bin/python3 and RECONBENCH=<binary>.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

import h5py
import numpy as np

RECONBENCH = os.environ.get("RECONBENCH", "reconbench")
NS = "http://www.ismrm.org/ISMRMRD"


def run(*args, check=True):
    p = subprocess.run([RECONBENCH, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"reconbench {' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p


def ismrmrd_header(enc=(640, 322, 1), rec=(320, 320, 1), pe=(0, 319, 160), vendor="SIEMENS",
                   model="Skyra", field=2.89362, coils=4, minimal=False):
    """An ISMRMRD header like fastMRI's, built with xml.etree in the ISMRMRD namespace."""
    ET.register_namespace("", NS)
    q = lambda t: f"{{{NS}}}{t}"
    root = ET.Element(q("ismrmrdHeader"))

    def sub(parent, tag, text=None):
        e = ET.SubElement(parent, q(tag))
        if text is not None:
            e.text = str(text)
        return e

    if not minimal:
        mi = sub(root, "measurementInformation")
        sub(mi, "measurementID", "45160_67811455_67811464_1195")
        sub(mi, "patientPosition", "HFS")
        sub(mi, "protocolName", "AX FLAIR_FBB")
    asi = sub(root, "acquisitionSystemInformation")
    sub(asi, "systemVendor", vendor)
    sub(asi, "systemModel", model)
    sub(asi, "systemFieldStrength_T", field)
    sub(asi, "receiverChannels", coils)
    if not minimal:
        ec = sub(root, "experimentalConditions")
        sub(ec, "H1resonanceFrequency_Hz", 123255296)
    encoding = sub(root, "encoding")
    for name, size, fov in (("encodedSpace", enc, (440, 221.4, 7.5)),
                            ("reconSpace", rec, (220, 220, 7.5))):
        sp = sub(encoding, name)
        ms = sub(sp, "matrixSize")
        for t, v in zip("xyz", size):
            sub(ms, t, v)
        fv = sub(sp, "fieldOfView_mm")
        for t, v in zip("xyz", fov):
            sub(fv, t, v)
    if not minimal:
        sub(encoding, "trajectory", "cartesian")
    lim = sub(encoding, "encodingLimits")
    k1 = sub(lim, "kspace_encoding_step_1")
    for t, v in zip(("minimum", "maximum", "center"), pe):
        sub(k1, t, v)
    if not minimal:
        sp = sub(root, "sequenceParameters")
        sub(sp, "TR", 9000.0)
        sub(sp, "TE", 81.0)
        sub(sp, "TI", 2500.0)
        sub(sp, "flipAngle_deg", 150.0)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def et_query(root, qlist, namespace=NS):
    """fastmri.data.mri_data.et_query, verbatim semantics."""
    s = "."
    prefix = "ismrmrd_namespace"
    ns = {prefix: namespace}
    for el in qlist:
        s = s + f"//{prefix}:{el}"
    value = root.find(s, ns)
    if value is None:
        raise RuntimeError("Element not found")
    return str(value.text)


def fastmri_metadata(header_bytes):
    """fastmri.data.mri_data.SliceDataset._retrieve_metadata."""
    et_root = ET.fromstring(header_bytes)
    enc = ["encoding", "encodedSpace", "matrixSize"]
    enc_size = tuple(int(et_query(et_root, enc + [c])) for c in "xyz")
    rec = ["encoding", "reconSpace", "matrixSize"]
    recon_size = tuple(int(et_query(et_root, rec + [c])) for c in "xyz")
    lims = ["encoding", "encodingLimits", "kspace_encoding_step_1"]
    enc_limits_center = int(et_query(et_root, lims + ["center"]))
    enc_limits_max = int(et_query(et_root, lims + ["maximum"])) + 1
    padding_left = enc_size[1] // 2 - enc_limits_center
    padding_right = padding_left + enc_limits_max
    return dict(enc_size=enc_size, recon_size=recon_size, padding_left=padding_left,
                padding_right=padding_right)


def write_fastmri_h5py(path, kspace, target=None, mask=None, header=None, attrs=None,
                       header_fixed=True):
    """The real fastMRI layout as h5py writes it (complex64, float32, bytes header).

    header_fixed: the header as a fixed-length 'S<n>' scalar, which is what h5py 2.x (used
    to build the dataset) wrote for bytes; h5py 3 writes bytes as a variable-length ASCII
    string instead (header_fixed=False). reconbench reads both and writes the former."""
    with h5py.File(path, "w") as hf:
        hf.create_dataset("kspace", data=kspace.astype(np.complex64))
        if target is not None:
            hf.create_dataset("reconstruction_rss", data=target.astype(np.float32))
        if mask is not None:
            hf.create_dataset("mask", data=mask)
        if header is not None:
            hf.create_dataset("ismrmrd_header",
                              data=np.array(header) if header_fixed else header)
        for k, v in (attrs or {}).items():
            hf.attrs[k] = v


def read_cfl(base):
    with open(base + ".hdr") as f:
        lines = [l for l in f.read().splitlines()]
    dims = [int(x) for x in lines[lines.index("# Dimensions") + 1].split()]
    data = np.fromfile(base + ".cfl", dtype=np.complex64)
    return data.reshape(dims, order="F")


def write_cfl(base, arr):
    with open(base + ".hdr", "w") as f:
        f.write("# Dimensions\n" + " ".join(str(d) for d in arr.shape) + " \n")
    np.asarray(arr, dtype=np.complex64).ravel(order="F").tofile(base + ".cfl")


def read_png(path):
    """Minimal PNG decoder (8-bit grey/RGB, all five filter types), independent of libpng."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (0, 2)
            ch = 1 if ctype == 0 else 3
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.int64)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], np.uint8).astype(np.int64)
        cur = np.zeros(stride, np.int64)
        for x in range(stride):
            a = cur[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch)


def ifft2c(x):
    x = np.fft.ifftshift(x, axes=(-2, -1))
    x = np.fft.ifft2(x, axes=(-2, -1), norm="ortho")
    return np.fft.fftshift(x, axes=(-2, -1))


def center_crop(x, h, w):
    y0 = (x.shape[-2] - h) // 2
    x0 = (x.shape[-1] - w) // 2
    return x[..., y0:y0 + h, x0:x0 + w]


class Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rb_oracle_io_")
        rng = np.random.default_rng(1234)
        S, C, H, W = 3, 4, 24, 18
        cls.shape = (S, C, H, W)
        cls.kspace = (rng.standard_normal(cls.shape) + 1j * rng.standard_normal(cls.shape)).astype(np.complex64)
        cls.target = rng.random((S, 12, 12)).astype(np.float32)
        cls.header = ismrmrd_header(enc=(H, W + 2, 1), rec=(12, 12, 1), pe=(0, W - 1, W // 2),
                                    coils=C)
        cls.train = os.path.join(cls.tmp, "file_brain_AXFLAIR_200_6002425.h5")
        write_fastmri_h5py(cls.train, cls.kspace, target=cls.target, header=cls.header,
                           attrs=dict(acquisition="AXFLAIR", max=float(cls.target.max()),
                                      norm=float(np.linalg.norm(cls.target)),
                                      patient_id="0f2a8c61f0f1b9e6"))
        mask = np.zeros(W, dtype=bool)
        mask[::3] = True
        mask[W // 2 - 2:W // 2 + 2] = True
        cls.mask = mask
        cls.test_file = os.path.join(cls.tmp, "file_brain_AXT2_200_2000019.h5")
        under = cls.kspace * mask[None, None, None, :].astype(np.float32) + np.float32(0.0)
        write_fastmri_h5py(cls.test_file, under, mask=mask,
                           header=ismrmrd_header(enc=(H, W, 1), rec=(12, 12, 1),
                                                 pe=(0, W - 1, W // 2), vendor="GE",
                                                 model="DISCOVERY MR750", field=3.0,
                                                 coils=C, minimal=True),
                           attrs=dict(acquisition="AXT2", acceleration=4,
                                      num_low_frequency=4, patient_id="p2"),
                           header_fixed=False)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


class H5pyToReconbench(Fixture):
    def test_info_json(self):
        out = json.loads(run("info", "--json", self.train, self.test_file).stdout)
        self.assertEqual(len(out), 2)
        tr, te = out
        meta = fastmri_metadata(self.header)
        self.assertEqual(tr["kspace_shape"], list(self.shape))
        self.assertEqual((tr["slices"], tr["coils"], tr["readout"], tr["phase"]), self.shape)
        self.assertEqual(tr["acquisition"], "AXFLAIR")
        self.assertEqual(tr["patient_id"], "0f2a8c61f0f1b9e6")
        self.assertEqual(tr["vendor"], "SIEMENS")
        self.assertEqual(tr["model"], "Skyra")
        self.assertAlmostEqual(tr["field_strength_t"], 2.89362, places=5)
        self.assertEqual(tr["receiver_channels"], 4)
        self.assertEqual(tuple(tr["encoded_size"]), meta["enc_size"])
        self.assertEqual(tuple(tr["recon_size"]), meta["recon_size"])
        self.assertEqual(tr["padding_left"], meta["padding_left"])
        self.assertEqual(tr["padding_right"], meta["padding_right"])
        self.assertAlmostEqual(tr["tr_ms"], 9000.0)
        self.assertEqual(tr["protocol_name"], "AX FLAIR_FBB")
        self.assertTrue(tr["has_ground_truth"])
        self.assertEqual(tr["target_shape"], list(self.target.shape))
        self.assertFalse(tr["has_mask"])
        self.assertIsNone(tr["acceleration"])
        self.assertEqual(tr["max"], float(self.target.max()))
        self.assertEqual(tr["norm"], float(np.linalg.norm(self.target)))
        self.assertEqual(tr["nonzero_columns_mid_slice"], self.shape[3])

        meta = fastmri_metadata(ismrmrd_header(enc=(24, 18, 1), rec=(12, 12, 1),
                                               pe=(0, 17, 9), minimal=True))
        self.assertEqual(te["vendor"], "GE")
        self.assertEqual(te["field_strength_t"], 3.0)
        self.assertTrue(te["has_mask"])
        self.assertEqual(te["mask_sampled_columns"], int(self.mask.sum()))
        self.assertEqual(te["nonzero_columns_mid_slice"], int(self.mask.sum()))
        self.assertEqual(te["acceleration"], 4)
        self.assertEqual(te["num_low_frequency"], 4)
        self.assertFalse(te["has_ground_truth"])
        self.assertIsNone(te["max"])
        self.assertEqual(te["padding_left"], meta["padding_left"])
        self.assertEqual(te["padding_right"], meta["padding_right"])

    def test_info_text(self):
        out = run("info", self.train).stdout
        self.assertIn("(3, 4, 24, 18)", out)
        self.assertIn("SIEMENS Skyra", out)
        self.assertIn("AXFLAIR", out)

    def test_convert_volume_to_cfl_matches_numpy(self):
        base = os.path.join(self.tmp, "vol")
        run("convert", self.train, "--to", "cfl", "-o", base)
        a = read_cfl(base)
        S, C, H, W = self.shape
        expect_dims = [H, W, 1, C] + [1] * 9 + [S] + [1, 1]
        self.assertEqual(list(a.shape), expect_dims)
        # BART [read phase 1 coil ... slice(13)] <- fastMRI (slice, coil, read, phase)
        np.testing.assert_array_equal(a[:, :, 0, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, :, 0, 0],
                                      self.kspace.transpose(2, 3, 1, 0))

    def test_convert_slice_to_cfl_matches_numpy(self):
        base = os.path.join(self.tmp, "s1")
        run("convert", self.train, "--to", "cfl", "--slice", 1, "-o", base + ".cfl")
        a = read_cfl(base)
        self.assertEqual(a.shape[:4], (self.shape[2], self.shape[3], 1, self.shape[1]))
        np.testing.assert_array_equal(a[:, :, 0, :].reshape(a.shape[0], a.shape[1], -1),
                                      self.kspace[1].transpose(1, 2, 0))

    def test_bart_reads_the_cfl(self):
        bart = shutil.which("bart")
        if bart is None:
            self.fail("bart not installed (scripts/install-deps installs it)")
        base = os.path.join(self.tmp, "forbart")
        run("convert", self.train, "--to", "cfl", "--slice", 2, "-o", base)
        out = os.path.join(self.tmp, "bart_t")
        subprocess.run([bart, "transpose", "0", "1", base, out], check=True, capture_output=True)
        t = read_cfl(out)
        np.testing.assert_array_equal(t[:, :, 0, :].reshape(t.shape[0], t.shape[1], -1),
                                      self.kspace[2].transpose(2, 1, 0))

    def test_convert_to_png_matches_numpy_zero_filled_rss(self):
        png = os.path.join(self.tmp, "s0.png")
        run("convert", self.train, "--to", "png", "--slice", 0, "-o", png)
        img = read_png(png)[..., 0]
        rss = np.sqrt((np.abs(ifft2c(self.kspace[0].astype(np.complex128))) ** 2).sum(0))
        rss = center_crop(rss, 12, 12)  # reconSpace (x, y) = (12, 12)
        hi = np.percentile(rss, 99.5)
        expect = np.clip(np.round(np.clip(rss / hi, 0, 1) * 255), 0, 255)
        self.assertEqual(img.shape, (12, 12))
        self.assertLessEqual(np.abs(img - expect).max(), 1)

    def test_png_of_reconstruction_file(self):
        rec = os.path.join(self.tmp, "recon.h5")
        img = np.random.default_rng(3).random((2, 10, 7)).astype(np.float32)
        with h5py.File(rec, "w") as hf:
            hf["reconstruction"] = img
        png = os.path.join(self.tmp, "recon1.png")
        run("convert", rec, "--to", "png", "--slice", 1, "--percentile", 90, "-o", png)
        got = read_png(png)[..., 0]
        hi = np.percentile(img[1], 90)
        expect = np.round(np.clip(img[1] / hi, 0, 1) * 255)
        self.assertEqual(got.shape, (10, 7))
        self.assertLessEqual(np.abs(got - expect).max(), 1)
        with h5py.File(rec, "a") as hf:
            hf["reconstruction"][0, 0, 0] = np.nan
        p = run("convert", rec, "--to", "png", "--slice", 1, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("non-finite", p.stderr)
        self.assertIn(rec, p.stderr)

    def test_bad_inputs_name_the_file(self):
        bad = os.path.join(self.tmp, "truncated.h5")
        with open(self.train, "rb") as f:
            data = f.read()
        with open(bad, "wb") as f:
            f.write(data[: len(data) // 2])
        p = run("info", bad, check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(bad, p.stderr)
        floatk = os.path.join(self.tmp, "float_kspace.h5")
        with h5py.File(floatk, "w") as hf:
            hf["kspace"] = np.zeros((1, 2, 4, 4), np.float32)
        p = run("convert", floatk, "--to", "cfl", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(floatk, p.stderr)
        self.assertIn("complex64", p.stderr)
        mism = os.path.join(self.tmp, "mask_mismatch.h5")
        write_fastmri_h5py(mism, self.kspace, mask=np.ones(5, np.float32))
        p = run("info", "--json", mism, self.train, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(mism, p.stderr)
        out = json.loads(p.stdout)
        self.assertIn("error", out[0])
        self.assertEqual(out[1]["acquisition"], "AXFLAIR")


class ReconbenchToH5py(Fixture):
    def assert_same_type(self, ours, ref, what):
        """The low-level HDF5 datatype of `ours` matches h5py's for the same numpy value."""
        self.assertEqual(ours.get_class(), ref.get_class(), what)
        if ours.get_class() == h5py.h5t.STRING:
            self.assertEqual(ours.is_variable_str(), ref.is_variable_str(), what)
            self.assertEqual(ours.get_cset(), ref.get_cset(), what)
            if not ours.is_variable_str():
                self.assertEqual(ours.get_strpad(), ref.get_strpad(), what)
        else:
            self.assertTrue(ours.equal(ref), what)

    def test_rewrite_matches_h5py_layout(self):
        for src in (self.train, self.test_file):
            copy = os.path.join(self.tmp, "copy_" + os.path.basename(src))
            run("convert", src, "--to", "h5", "-o", copy)
            # The reference: the same content written by h5py in the fastMRI layout (mask
            # float32, as fastMRI's test files).
            ref = os.path.join(self.tmp, "ref_" + os.path.basename(src))
            with h5py.File(src, "r") as s:
                write_fastmri_h5py(
                    ref, s["kspace"][()],
                    target=s["reconstruction_rss"][()] if "reconstruction_rss" in s else None,
                    mask=s["mask"][()].astype(np.float32) if "mask" in s else None,
                    header=s["ismrmrd_header"][()], attrs=dict(s.attrs), header_fixed=True)
            with h5py.File(copy, "r") as ours, h5py.File(ref, "r") as theirs:
                self.assertEqual(sorted(ours.keys()), sorted(theirs.keys()))
                for k in theirs.keys():
                    self.assertEqual(ours[k].dtype, theirs[k].dtype, k)
                    self.assertEqual(ours[k].shape, theirs[k].shape, k)
                    self.assert_same_type(ours[k].id.get_type(), theirs[k].id.get_type(), k)
                    np.testing.assert_array_equal(ours[k][()], theirs[k][()], k)
                self.assertEqual(ours["kspace"].dtype, np.complex64)
                self.assertEqual(ours["kspace"].chunks, (1,) + ours["kspace"].shape[1:])
                self.assertIsNone(ours["kspace"].compression)
                self.assertEqual(sorted(ours.attrs.keys()), sorted(theirs.attrs.keys()))
                for k in theirs.attrs.keys():
                    a, b = ours.attrs[k], theirs.attrs[k]
                    self.assertEqual(type(a), type(b), k)
                    self.assertEqual(a, b, k)
                    self.assert_same_type(ours.attrs.get_id(k).get_type(),
                                          theirs.attrs.get_id(k).get_type(), k)

    def test_cfl_to_h5_is_fastmri_layout(self):
        rng = np.random.default_rng(5)
        k = (rng.standard_normal((20, 14, 1, 3)) + 1j * rng.standard_normal((20, 14, 1, 3)))
        base = os.path.join(self.tmp, "fromnumpy")
        write_cfl(base, k)
        out = os.path.join(self.tmp, "fromnumpy.h5")
        run("convert", base, "--to", "h5", "--acquisition", "AXT2", "-o", out)
        with h5py.File(out, "r") as hf:
            self.assertEqual(set(hf.keys()), {"kspace", "ismrmrd_header"})
            ks = hf["kspace"]
            self.assertEqual(ks.dtype, np.complex64)
            self.assertEqual(ks.shape, (1, 3, 20, 14))
            np.testing.assert_array_equal(ks[0], k[:, :, 0, :].astype(np.complex64).transpose(2, 0, 1))
            hdr = hf["ismrmrd_header"]
            self.assertEqual(hdr.shape, ())
            self.assertEqual(hdr.dtype.kind, "S")
            meta = fastmri_metadata(hdr[()])
            self.assertEqual(meta["enc_size"], (20, 14, 1))
            self.assertEqual(meta["recon_size"], (14, 14, 1))
            self.assertEqual((meta["padding_left"], meta["padding_right"]), (0, 14))
            self.assertEqual(hf.attrs["acquisition"], "AXT2")
            self.assertIsInstance(hf.attrs["acquisition"], str)

    def test_bart_written_cfl_to_h5(self):
        bart = shutil.which("bart")
        if bart is None:
            self.fail("bart not installed (scripts/install-deps installs it)")
        z = os.path.join(self.tmp, "bz")
        n = os.path.join(self.tmp, "bn")
        subprocess.run([bart, "zeros", "4", "8", "6", "1", "2", z], check=True, capture_output=True)
        subprocess.run([bart, "noise", "-s", "7", z, n], check=True, capture_output=True)
        out = os.path.join(self.tmp, "bn.h5")
        run("convert", n, "--to", "h5", "-o", out)
        ref = read_cfl(n)
        with h5py.File(out, "r") as hf:
            self.assertEqual(hf["kspace"].shape, (1, 2, 8, 6))
            np.testing.assert_array_equal(hf["kspace"][0],
                                          ref.reshape(8, 6, 2, order="F").transpose(2, 0, 1))

    def test_roundtrip_h5_cfl_h5(self):
        base = os.path.join(self.tmp, "rt")
        run("convert", self.train, "--to", "cfl", "-o", base)
        out = os.path.join(self.tmp, "rt.h5")
        run("convert", base, "--to", "h5", "-o", out)
        with h5py.File(out, "r") as hf:
            np.testing.assert_array_equal(hf["kspace"][()], self.kspace)


if __name__ == "__main__":
    unittest.main(verbosity=2)
